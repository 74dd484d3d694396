//! The conversation runtime in one process: the supervisor and its actors,
//! what feeds them (a router per partition of the in-process
//! `fte.tickets.incoming` topic, or the Kafka consumers: `kafka_mode`), the
//! outbox relay, the inactivity sweeper, the erasure watch and the
//! retention job (`retention`), started in `start`. `Runtime::take`
//! (`intake_turns`) takes a webhook's message in; `Runtime::submit`
//! (`submit`) is the library entry point (tests, the bench harness, the
//! inject route): it resolves the customer, publishes the message keyed by
//! customer, and returns once the turn is committed. Requests to one
//! actor are in `actor_requests`; the configuration in `config`.

mod actor_requests;
mod config;
mod erasure_watch;
mod intake_turns;
mod kafka_mode;
pub mod retention;
mod start;
mod submit;
mod submit_error;
mod sweeper;

pub use config::RuntimeConfig;
pub use kafka_mode::KafkaTransport;
pub use submit_error::SubmitError;

/// How messages reach the actors.
#[derive(Clone, Debug)]
pub enum Transport {
    /// One process, in-process bus.
    Embedded,
    /// Kafka: this process is a worker in a consumer group.
    Kafka(KafkaTransport),
}

/// What `Runtime::accept` did with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Embedded: the turn is committed.
    Committed(TurnReceipt),
    /// Kafka: the inbound topic has it.
    Queued { topic: String, partition: i32, offset: i64 },
}

use crate::actors::supervisor;
use crate::actors::{
    Delivery, Registry, ResidentActor, StatsSnapshot, SupervisorMessage, SupervisorStats, TurnReceipt,
};
use crate::brain::Brain;
use crate::bus::{MemoryTopic, OutboundRecord, PartitionReceiver};
use crate::delivery::outbox_relay::MemoryOutbound;
use crate::domain::{Channel, topics};
use crate::pipeline::InboundPublisher;
use ractor::{ActorRef, RpcReplyPort};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot start the conversation supervisor: {0}")]
    Spawn(String),
    #[error("invalid runtime configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Kafka(#[from] crate::kafka::KafkaError),
}

/// How a message taken in for a webhook was made durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// Embedded: its intake row is committed (its turn runs after).
    Stored,
    /// Embedded: the same provider message was taken before and waits.
    AlreadyWaiting,
    /// Kafka: the inbound topic has it.
    Queued { topic: String, partition: i32, offset: i64 },
}

pub struct Runtime {
    supervisor: ActorRef<SupervisorMessage>,
    supervisor_task: JoinHandle<()>,
    registry: Registry,
    stats: Arc<SupervisorStats>,
    /// Embedded mode: the in-process `fte.tickets.incoming`.
    tickets: Option<Arc<MemoryTopic<Delivery>>>,
    /// Kafka mode: the producer and topic names.
    kafka: Option<InboundPublisher>,
    /// What feeds the actors: routers (embedded) or consumers (Kafka).
    intake: Mutex<Vec<JoinHandle<()>>>,
    intake_stop: watch::Sender<bool>,
    outbound: Arc<MemoryOutbound>,
    background: Mutex<Vec<JoinHandle<()>>>,
    shutdown: watch::Sender<bool>,
    pool: PgPool,
    config: RuntimeConfig,
    /// Embedded mode: messages taken in whose turn has not settled yet.
    intake_waiting: Arc<std::sync::atomic::AtomicUsize>,
}

impl Runtime {
    /// Starts the embedded runtime (in-process bus).
    pub async fn start(pool: PgPool, brain: Arc<dyn Brain>, config: RuntimeConfig) -> Result<Arc<Self>, RuntimeError> {
        Self::start_with(pool, brain, config, Transport::Embedded).await
    }

    /// Starts the runtime on the given transport. With Kafka, this process
    /// is a worker: it routes identities, consumes its share of
    /// `fte.tickets.incoming` and relays the outbox to Kafka.
    pub async fn start_with(
        pool: PgPool,
        brain: Arc<dyn Brain>,
        config: RuntimeConfig,
        transport: Transport,
    ) -> Result<Arc<Self>, RuntimeError> {
        let config = start::checked_config(config, &pool)?;
        let outbox_notify = Arc::new(Notify::new());
        let supervision = start::spawn_supervisor(&pool, brain, &config, Arc::clone(&outbox_notify)).await?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (intake_stop, intake_rx) = watch::channel(false);
        let feeds = start::start_feeds(transport, &pool, &supervision.supervisor, &config, intake_rx).await?;
        let outbound = start::memory_outbound(&config);
        let sink = feeds.sink.unwrap_or_else(|| Arc::clone(&outbound) as Arc<_>);
        let jobs = start::start_jobs(&pool, &supervision.supervisor, &config, sink, outbox_notify, shutdown_rx);
        let runtime = Arc::new(Self {
            supervisor: supervision.supervisor,
            supervisor_task: supervision.task,
            registry: supervision.registry,
            stats: supervision.stats,
            tickets: feeds.tickets,
            kafka: feeds.kafka,
            intake: Mutex::new(feeds.tasks),
            intake_stop,
            outbound,
            background: Mutex::new(jobs),
            shutdown,
            pool,
            config,
            intake_waiting: Arc::default(),
        });
        if runtime.kafka.is_none() {
            let recovery = tokio::spawn(Arc::clone(&runtime).recover_intake());
            runtime.keep_in_background(recovery);
        }
        if let Some(task) = start::start_retention(&runtime.pool, &runtime.config, runtime.shutdown.subscribe()) {
            runtime.keep_in_background(task);
        }
        Ok(runtime)
    }

    /// Adds a task to those shutdown waits for.
    fn keep_in_background(&self, task: JoinHandle<()>) {
        if let Ok(mut background) = self.background.lock() {
            background.push(task);
        }
    }

    fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Takes the consumer ends of a channel's outbound topic (once): the
    /// dispatcher's input.
    pub fn take_outbound(&self, channel: Channel) -> Vec<PartitionReceiver<OutboundRecord>> {
        self.take_topic(&topics::outbound(channel))
    }

    /// Takes the consumer ends of an in-process relay topic (the outbound
    /// topics, `fte.metrics`, `fte.escalations`); empty in Kafka mode.
    pub fn take_topic(&self, name: &str) -> Vec<PartitionReceiver<OutboundRecord>> {
        let Some(topic) = self.outbound.topics.get(name) else { return vec![] };
        (0..topic.partitions()).filter_map(|p| topic.take_partition(p)).collect()
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot(self.registry.len())
    }

    pub fn resident(&self) -> Vec<ResidentActor> {
        let mut actors = supervisor::resident(&self.registry);
        if let Some(tickets) = &self.tickets {
            for a in &mut actors {
                a.partition =
                    Some(crate::bus::partition_of(a.customer_id.to_string().as_bytes(), tickets.partitions()));
            }
        }
        actors
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Stops taking messages, lets every in-flight turn commit (within the
    /// drain timeout), drains the actors, publishes the outbox once more,
    /// and stops.
    pub async fn shutdown(&self) {
        if let Some(tickets) = &self.tickets {
            tickets.close();
        }
        let _ = self.intake_stop.send(true);
        let intake: Vec<_> = self.intake.lock().map(|mut r| r.drain(..).collect()).unwrap_or_default();
        let deadline = self.config.drain_timeout;
        if tokio::time::timeout(deadline, async {
            for r in intake {
                let _ = r.await;
            }
        })
        .await
        .is_err()
        {
            tracing::warn!("routers did not drain within the deadline");
        }
        let (tx, rx) = oneshot::channel();
        if self.supervisor.cast(SupervisorMessage::DrainAll(deadline, RpcReplyPort::from(tx))).is_ok() {
            let _ = rx.await;
        }
        self.supervisor.stop(Some("shutdown".into()));
        let _ = self.shutdown.send(true);
        // Closed first, so a relay waiting on a full in-process topic with no
        // reader gives up (its rows stay unpublished for the next start).
        for topic in self.outbound.topics.values() {
            topic.close();
        }
        let background: Vec<_> = self.background.lock().map(|mut b| b.drain(..).collect()).unwrap_or_default();
        for task in background {
            let _ = task.await;
        }
        tracing::info!("conversation runtime stopped");
    }

    /// True once the supervisor has stopped.
    pub fn is_stopped(&self) -> bool {
        self.supervisor_task.is_finished()
    }
}
