//! The identity router (worker role): consumes every channel's inbound
//! topic, resolves the sender to a customer in the CRM (a Slack sender's
//! profile read first: `channels::slack::SlackProfiles`), and produces the
//! message to `fte.tickets.incoming` keyed by customer, so one customer's
//! messages from any channel reach one partition and one actor. A record
//! that is not a valid inbound event goes to `fte.dlq` with the reason, and
//! the router carries on.
//!
//! It is a pipeline: up to [`IN_FLIGHT`] records are resolved at once, but
//! their produces are queued strictly in input order (so a sender's
//! messages keep their order on the tickets topic), and an input offset is
//! stored only once it and every record before it were acknowledged by the
//! broker: a crash or a rebalance redelivers exactly what was not done.
//! Taking one record at a time would cap the worker at one resolution plus
//! one broker round trip per message (the load harness's hop breakdown
//! shows it). While the window is full the consumer keeps polling (its
//! group's rebalances are served on the poll), and what it reads waits in
//! order, up to `PARKED_MAX` records.

use crate::channels::slack::SlackProfiles;
use crate::crm::{CrmError, resolve_customer};
use crate::domain::{InboundMessage, TicketMessage};
use crate::kafka::{
    DeadLetter, Delivered, Envelope, EnvelopeError, EventType, KafkaError, KafkaProducer, LoggedRebalance, Topics,
    next_record,
};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use sqlx::PgPool;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const SOURCE: &str = "/fte/worker/identity-router";

/// Records between being read and their offset being stored.
pub const IN_FLIGHT: usize = 64;
/// Records read ahead of a full window, at most.
const PARKED_MAX: usize = 1024;

/// Where an input record came from.
struct Position {
    topic: String,
    partition: i32,
    offset: i64,
}

/// What a read record becomes once resolved: a record to produce (to the
/// tickets topic, or a dead letter), or nothing because the process is
/// shutting down (it is redelivered).
enum Resolved {
    Produce { at: Position, topic: String, key: String, payload: Vec<u8> },
    ShuttingDown,
}

type Pending<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The broker's answer to one queued record.
type Acknowledgement = Pending<Result<Delivered, KafkaError>>;

/// Runs until `shutdown` turns true, then settles what is in flight.
pub async fn run_identity_router(
    consumer: StreamConsumer<LoggedRebalance>,
    producer: KafkaProducer,
    topics: Topics,
    pool: PgPool,
    profiles: Arc<SlackProfiles>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut resolving: FuturesOrdered<Pending<Resolved>> = FuturesOrdered::new();
    let mut acknowledging: FuturesOrdered<Pending<Option<Position>>> = FuturesOrdered::new();
    // Records read and not yet resolving, oldest first: the consumer is
    // polled also with a full window, until `PARKED_MAX` records wait (a
    // consumer that stops polling stops taking part in its group's
    // rebalances, and every other member waits for it). Nothing is paused
    // instead: pausing a partition makes librdkafka drop what it fetched
    // ahead and fetch again, and a bench run showed acknowledged records
    // that were never read again.
    let mut parked: VecDeque<Read> = VecDeque::new();
    let mut reading = true;
    while reading || !resolving.is_empty() || !acknowledging.is_empty() {
        while resolving.len() + acknowledging.len() < IN_FLIGHT
            && let Some(read) = parked.pop_front()
        {
            let profiles = Arc::clone(&profiles);
            resolving.push_back(Box::pin(resolve(read, topics.clone(), pool.clone(), profiles, shutdown.clone())));
        }
        tokio::select! {
            msg = next_record(&consumer, &mut shutdown, "identity-router"), if reading && parked.len() < PARKED_MAX => {
                let Some(msg) = msg else {
                    reading = false;
                    continue;
                };
                // Resolving starts at the top of the loop, if the window has room.
                parked.push_back(Read {
                    at: Position { topic: msg.topic().to_string(), partition: msg.partition(), offset: msg.offset() },
                    key: msg.key().map(<[u8]>::to_vec),
                    payload: msg.payload().unwrap_or_default().to_vec(),
                });
            }
            Some(resolved) = resolving.next(), if !resolving.is_empty() => match resolved {
                Resolved::Produce { at, topic, key, payload } => {
                    // Queued here, in input order; acknowledged later.
                    let retry = Retry { producer: producer.clone(), topic, key, payload };
                    let queued = retry.enqueue().await;
                    acknowledging.push_back(Box::pin(retry.settle(at, queued, shutdown.clone())));
                }
                Resolved::ShuttingDown => {
                    // Nothing after an unfinished record may be stored.
                    reading = false;
                    resolving.clear();
                    parked.clear();
                }
            },
            Some(settled) = acknowledging.next(), if !acknowledging.is_empty() => match settled {
                Some(at) => {
                    if let Err(e) = consumer.store_offset(&at.topic, at.partition, at.offset) {
                        tracing::warn!(topic = %at.topic, partition = at.partition, offset = at.offset, error = %e, "cannot store offset (partition revoked?)");
                    }
                }
                None => {
                    reading = false;
                    resolving.clear();
                    acknowledging.clear();
                    parked.clear();
                }
            },
        }
    }
    if let Err(e) = consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync) {
        tracing::debug!(error = %e, "final commit of the identity router");
    }
}

/// One record as read from an input topic.
struct Read {
    at: Position,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
}

/// Parses and resolves one record into what to produce.
async fn resolve(
    Read { at, key, payload }: Read,
    topics: Topics,
    pool: PgPool,
    profiles: Arc<SlackProfiles>,
    mut shutdown: watch::Receiver<bool>,
) -> Resolved {
    let parsed = Envelope::parse(&payload).and_then(|env| {
        let inbound: InboundMessage = env.data_as(EventType::Inbound)?;
        if env.tenant()? != inbound.tenant_id {
            return Err(EnvelopeError::Tenant(env.tenantid.clone()));
        }
        Ok(inbound)
    });
    let refused = match parsed {
        Err(reason) => reason.to_string(),
        Ok(inbound) => match route(&pool, profiles.enrich(&pool, inbound.cleaned()).await, &mut shutdown).await {
            Routed::Ticket { key, payload } => return Resolved::Produce { at, topic: topics.tickets(), key, payload },
            Routed::ShuttingDown => return Resolved::ShuttingDown,
            Routed::Refused(reason) => reason,
        },
    };
    let dead = DeadLetter::new(&at.topic, at.partition, at.offset, key.as_deref(), &payload, refused);
    let (key, payload) = dead_letter_record(&dead);
    Resolved::Produce { at, topic: topics.dlq(), key, payload }
}

/// The dead letter's key and value on `fte.dlq` (logged once here).
fn dead_letter_record(dead: &DeadLetter) -> (String, Vec<u8>) {
    tracing::warn!(topic = %dead.topic, partition = dead.partition, offset = dead.offset, reason = %crate::telemetry::Redacted(&dead.reason), "record sent to the dead-letter topic");
    (dead.key.clone().unwrap_or_default(), serde_json::to_vec(dead).unwrap_or_default())
}

/// A record to produce again if its acknowledgement fails.
struct Retry {
    producer: KafkaProducer,
    topic: String,
    key: String,
    payload: Vec<u8>,
}

impl Retry {
    /// Waits for the broker's acknowledgement of `queued`, producing the
    /// record again after a failure (librdkafka has already retried for
    /// `delivery.timeout.ms` by then, so the record may land after later
    /// ones: nothing is lost, order is kept in every other case) until it
    /// is acknowledged or the process shuts down (`None`).
    async fn settle(
        self,
        at: Position,
        mut queued: Result<Acknowledgement, KafkaError>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Option<Position> {
        let mut delay = Duration::from_millis(100);
        loop {
            let error = match queued {
                Ok(ack) => match ack.await {
                    Ok(_) => return Some(at),
                    Err(e) => e,
                },
                Err(e) => e,
            };
            tracing::warn!(%error, topic = %self.topic, "produce failed; retrying");
            if !pause(delay, &mut shutdown).await {
                return None;
            }
            delay = (delay * 2).min(Duration::from_secs(5));
            queued = self.enqueue().await;
        }
    }

    /// Queues the record (in call order) and returns its acknowledgement.
    async fn enqueue(&self) -> Result<Acknowledgement, KafkaError> {
        let ack = self.producer.enqueue(&self.topic, &self.key, &self.payload).await?;
        Ok(Box::pin(ack))
    }
}

/// Sleeps `delay`; false when the process is shutting down instead.
async fn pause(delay: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => !*shutdown.borrow(),
        _ = shutdown.changed() => false,
    }
}

enum Routed {
    /// The ticket to produce, keyed by customer.
    Ticket {
        key: String,
        payload: Vec<u8>,
    },
    ShuttingDown,
    /// A permanent error (unknown tenant, invalid data): dead-letter it.
    Refused(String),
}

/// Errors worth retrying: the database is away or busy, or a concurrent
/// resolution of the same sender won.
fn transient(e: &CrmError) -> bool {
    match e {
        CrmError::Database(db) => crate::db::is_transient(db),
        CrmError::Contention(_) => true,
        _ => false,
    }
}

/// Resolves one message to its ticket, retrying transient failures until
/// it succeeds or the process shuts down.
async fn route(pool: &PgPool, inbound: InboundMessage, shutdown: &mut watch::Receiver<bool>) -> Routed {
    let mut delay = Duration::from_millis(100);
    loop {
        let identifiers = inbound.all_identifiers();
        match resolve_customer(pool, inbound.tenant_id, &identifiers, inbound.display_name.as_deref()).await {
            Ok(resolution) => {
                let ticket = TicketMessage { customer_id: resolution.customer_id, message: inbound.clone() };
                let key = ticket.customer_id.to_string();
                return match Envelope::new(EventType::Ticket, SOURCE, inbound.tenant_id, Some(key.clone()), &ticket) {
                    Ok(env) => Routed::Ticket { key, payload: env.to_bytes() },
                    Err(e) => Routed::Refused(format!("the ticket does not serialize: {e}")),
                };
            }
            Err(e) if transient(&e) => {
                tracing::warn!(error = %e, external_id = %crate::telemetry::provider_id(&inbound.external_id), "identity resolution failed; retrying");
                if !pause(delay, shutdown).await {
                    return Routed::ShuttingDown;
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Routed::Refused(format!("identity resolution refused the message: {e}")),
        }
    }
}

/// Writes a dead letter, retrying until the broker has it.
pub(crate) async fn dead_letter(
    producer: &KafkaProducer,
    topics: &Topics,
    dead: &DeadLetter,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let (key, payload) = dead_letter_record(dead);
    loop {
        match producer.send_bytes(&topics.dlq(), &key, &payload).await {
            Ok(_) => return true,
            Err(error) => {
                tracing::warn!(%error, "cannot write the dead letter; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => return false,
                }
            }
        }
    }
}
