//! The conversation consumer (worker role): one consumer-group member on
//! `fte.tickets.incoming`. The group's partition assignment is the
//! placement of actors across workers. Each assigned partition gets a
//! router (per-customer order, redelivery, bounded in-flight) and an offset
//! tracker that stores an offset only when every record up to it has
//! committed its turn in PostgreSQL: a contiguous watermark, so a crash or a
//! rebalance redelivers exactly what was not done (and redelivered turns
//! are deduplicated by the store). Records that are not valid ticket events
//! go to `fte.dlq`; so do messages that failed every attempt (after their
//! customer got an apology and a human the conversation).
//!
//! Backpressure: when a partition's router has `max_in_flight` records
//! queued, the partition is paused (its further records wait in a small
//! overflow, in order) and resumed once the router has room, so one busy
//! partition never stalls the others.
//!
//! On revoke, stored offsets are committed synchronously, routing to the
//! revoked partitions stops, their in-flight turns finish (nothing new
//! starts: waiting records and failed turns are the next owner's) and then
//! their customers' actors are stopped (each within the drain deadline); a write from
//! a worker that lost a partition cannot overwrite its new owner's state
//! (optimistic concurrency on `state_version` makes it re-read instead).

use super::identity_router::dead_letter;
use crate::actors::router::DeliveryResult;
use crate::actors::{Delivery, RouterConfig, SupervisorMessage, run_router};
use crate::domain::{CustomerId, TicketMessage};
use crate::kafka::{DeadLetter, Envelope, EnvelopeError, EventType, KafkaProducer, Topics, next_record};
use ractor::{ActorRef, RpcReplyPort};
use rdkafka::TopicPartitionList;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::Message;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Remembers revoked partitions (for the consume loop) and commits stored
/// offsets before a partition is handed over.
#[derive(Default)]
pub struct RebalanceContext {
    revoked: Mutex<Vec<i32>>,
}

impl ClientContext for RebalanceContext {}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                tracing::debug!(error = %e, "commit before revoke (nothing stored yet?)");
            }
            let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
            tracing::info!(?partitions, "partitions revoked");
            if let Ok(mut revoked) = self.revoked.lock() {
                revoked.extend(partitions);
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
            tracing::info!(?partitions, "partitions assigned");
        }
    }
}

pub type TicketConsumer = StreamConsumer<RebalanceContext>;

/// What the tracker waits for, in offset order.
enum Pending {
    /// Handled already (a dead letter was written).
    Done {
        offset: i64,
    },
    Turn {
        offset: i64,
        outcome: oneshot::Receiver<DeliveryResult>,
        key: Option<Vec<u8>>,
        payload: Vec<u8>,
    },
}

struct Pipeline {
    deliveries: mpsc::Sender<Delivery>,
    /// Records that did not fit the router's queue, in order; while any
    /// wait here the partition is paused (other partitions keep flowing).
    overflow: VecDeque<Delivery>,
    pending: mpsc::UnboundedSender<Pending>,
    tasks: [JoinHandle<()>; 2],
    /// Customers whose messages came through this partition: their actors
    /// are stopped when the partition is revoked.
    customers: HashSet<CustomerId>,
}

pub struct ConversationConsumer {
    pub consumer: Arc<TicketConsumer>,
    pub supervisor: ActorRef<SupervisorMessage>,
    pub producer: KafkaProducer,
    pub topics: Topics,
    pub router: RouterConfig,
    pub drain_timeout: Duration,
}

impl ConversationConsumer {
    /// Runs until `shutdown` turns true, then drains and commits.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let topic = self.topics.tickets();
        let mut pipelines: HashMap<i32, Pipeline> = HashMap::new();
        let mut flush = tokio::time::interval(Duration::from_millis(20));
        // A revoked partition's router is closed even when no record
        // arrives, so it stops starting turns its next owner now runs.
        let mut revokes = tokio::time::interval(Duration::from_millis(100));
        loop {
            let overflowing = pipelines.values().any(|p| !p.overflow.is_empty());
            let msg = tokio::select! {
                msg = next_record(&self.consumer, &mut shutdown, "conversations") => msg,
                _ = flush.tick(), if overflowing => {
                    self.flush_overflow(&topic, &mut pipelines);
                    continue;
                }
                _ = revokes.tick() => {
                    self.drop_revoked(&mut pipelines);
                    continue;
                }
            };
            let Some(msg) = msg else { break };
            self.drop_revoked(&mut pipelines);
            let (partition, offset) = (msg.partition(), msg.offset());
            let payload = msg.payload().unwrap_or_default().to_vec();
            let key = msg.key().map(<[u8]>::to_vec);
            drop(msg);
            let pipeline = pipelines.entry(partition).or_insert_with(|| self.pipeline(&topic, partition));
            let parsed = Envelope::parse(&payload).and_then(|env| {
                let ticket: TicketMessage = env.data_as(EventType::Ticket)?;
                if env.tenant()? != ticket.message.tenant_id {
                    return Err(EnvelopeError::Tenant(env.tenantid.clone()));
                }
                Ok(ticket)
            });
            match parsed {
                Err(reason) => {
                    let dead = DeadLetter::new(&topic, partition, offset, key.as_deref(), &payload, reason.to_string());
                    if !dead_letter(&self.producer, &self.topics, &dead, &mut shutdown).await {
                        break;
                    }
                    let _ = pipeline.pending.send(Pending::Done { offset });
                }
                Ok(ticket) => {
                    pipeline.customers.insert(ticket.customer_id);
                    let (tx, rx) = oneshot::channel();
                    let _ = pipeline.pending.send(Pending::Turn { offset, outcome: rx, key, payload });
                    let delivery = Delivery::new(offset as u64, ticket, Some(tx));
                    // Too much in flight on this partition: park the record
                    // and pause the partition until its router catches up.
                    if !pipeline.overflow.is_empty() {
                        pipeline.overflow.push_back(delivery);
                    } else {
                        match pipeline.deliveries.try_send(delivery) {
                            Ok(()) => {}
                            Err(mpsc::error::TrySendError::Full(delivery)) => {
                                pipeline.overflow.push_back(delivery);
                                self.set_paused(&topic, partition, true);
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => {
                                tracing::error!(partition, "router for partition stopped");
                            }
                        }
                    }
                }
            }
        }
        tracing::info!(partitions = pipelines.len(), "conversation consumer draining");
        let tasks: Vec<_> = pipelines.into_values().flat_map(|p| p.tasks).collect();
        if tokio::time::timeout(self.drain_timeout, async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await
        .is_err()
        {
            tracing::warn!("in-flight turns did not finish within the drain deadline");
        }
        if let Err(e) = self.consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(error = %e, "final commit");
        }
    }

    /// Moves parked records into routers that have room again, and resumes
    /// the partitions whose backlog is gone.
    fn flush_overflow(&self, topic: &str, pipelines: &mut HashMap<i32, Pipeline>) {
        for (partition, pipeline) in pipelines.iter_mut().filter(|(_, p)| !p.overflow.is_empty()) {
            while let Some(delivery) = pipeline.overflow.pop_front() {
                match pipeline.deliveries.try_send(delivery) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(delivery)) => {
                        pipeline.overflow.push_front(delivery);
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        pipeline.overflow.clear();
                        break;
                    }
                }
            }
            if pipeline.overflow.is_empty() {
                self.set_paused(topic, *partition, false);
            }
        }
    }

    fn set_paused(&self, topic: &str, partition: i32, paused: bool) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, partition);
        let result = if paused { self.consumer.pause(&tpl) } else { self.consumer.resume(&tpl) };
        match result {
            Ok(()) => tracing::debug!(partition, paused, "partition flow changed"),
            Err(e) => tracing::warn!(partition, paused, error = %e, "cannot pause or resume partition"),
        }
    }

    fn drop_revoked(&self, pipelines: &mut HashMap<i32, Pipeline>) {
        let revoked: Vec<i32> =
            self.consumer.context().revoked.lock().map(|mut r| r.drain(..).collect()).unwrap_or_default();
        for p in revoked {
            // Dropping the senders lets the router and the tracker finish
            // what is in flight and stop; then the partition's actors stop
            // too (within the drain deadline), so nothing stale stays
            // resident here while the new owner serves those customers.
            let Some(pipeline) = pipelines.remove(&p) else { continue };
            let Pipeline { tasks, customers, .. } = pipeline;
            let supervisor = self.supervisor.clone();
            let deadline = self.drain_timeout;
            tokio::spawn(async move {
                let drained = tokio::time::timeout(deadline, async {
                    for t in tasks {
                        let _ = t.await;
                    }
                })
                .await;
                if drained.is_err() {
                    tracing::warn!(partition = p, "revoked partition did not drain within the deadline");
                }
                let mut stopped = 0usize;
                for customer in customers {
                    let (tx, rx) = oneshot::channel();
                    if supervisor.cast(SupervisorMessage::Passivate(customer, RpcReplyPort::from(tx))).is_ok()
                        && matches!(tokio::time::timeout(deadline, rx).await, Ok(Ok(true)))
                    {
                        stopped += 1;
                    }
                }
                tracing::info!(partition = p, actors_stopped = stopped, "actors of revoked partitions stopped");
            });
        }
    }

    fn pipeline(&self, topic: &str, partition: i32) -> Pipeline {
        let (deliveries, input) = mpsc::channel(self.router.max_in_flight.max(1));
        let (pending, acks) = mpsc::unbounded_channel();
        let router = tokio::spawn(run_router(input, self.supervisor.clone(), self.router.clone()));
        let tracker = tokio::spawn(track_offsets(
            Arc::clone(&self.consumer),
            topic.to_string(),
            partition,
            acks,
            self.producer.clone(),
            self.topics.clone(),
        ));
        Pipeline { deliveries, overflow: VecDeque::new(), pending, tasks: [router, tracker], customers: HashSet::new() }
    }
}

/// Stores each offset once it and everything before it is done.
async fn track_offsets(
    consumer: Arc<TicketConsumer>,
    topic: String,
    partition: i32,
    mut acks: mpsc::UnboundedReceiver<Pending>,
    producer: KafkaProducer,
    topics: Topics,
) {
    let (_never, mut no_shutdown) = watch::channel(false);
    while let Some(pending) = acks.recv().await {
        let offset = match pending {
            Pending::Done { offset } => offset,
            Pending::Turn { offset, outcome, key, payload } => match outcome.await {
                Ok(Ok(_)) => offset,
                Ok(Err(failed)) => {
                    let dead = DeadLetter::new(&topic, partition, offset, key.as_deref(), &payload, failed.to_string());
                    dead_letter(&producer, &topics, &dead, &mut no_shutdown).await;
                    offset
                }
                // The router stopped without an answer (shutdown): leave the
                // offset unstored so the record is redelivered.
                Err(_) => break,
            },
        };
        if let Err(e) = consumer.store_offset(&topic, partition, offset) {
            tracing::debug!(partition, offset, error = %e, "cannot store offset (partition revoked?)");
        }
    }
}
