//! The identity router (worker role): consumes every channel's inbound
//! topic, resolves the sender to a customer in the CRM, and produces the
//! message to `fte.tickets.incoming` keyed by customer, so one customer's
//! messages from any channel reach one partition and one actor. The input
//! offset is stored only after the produce is acknowledged; a record that
//! is not a valid inbound event goes to `fte.dlq` with the reason, and the
//! router carries on.

use super::{DeadLetter, Envelope, EventType, KafkaProducer, Topics};
use crate::crm::{CrmError, resolve_customer};
use crate::domain::{InboundMessage, TicketMessage};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::watch;

const SOURCE: &str = "/fte/worker/identity-router";

/// Runs until `shutdown` turns true.
pub async fn run_identity_router(
    consumer: StreamConsumer<super::LoggedRebalance>,
    producer: KafkaProducer,
    topics: Topics,
    pool: PgPool,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let Some(msg) = super::consumer::next_record(&consumer, &mut shutdown, "identity-router").await else { break };
        let (topic, partition, offset) = (msg.topic().to_string(), msg.partition(), msg.offset());
        let payload = msg.payload().unwrap_or_default();
        let parsed = Envelope::parse(payload).and_then(|env| {
            let inbound: InboundMessage = env.data_as(EventType::Inbound)?;
            if env.tenant()? != inbound.tenant_id {
                return Err(super::EnvelopeError::Tenant(env.tenantid.clone()));
            }
            Ok(inbound)
        });
        let outcome = match parsed {
            Err(reason) => {
                let dead = DeadLetter::new(&topic, partition, offset, msg.key(), payload, reason.to_string());
                dead_letter(&producer, &topics, &dead, &mut shutdown).await
            }
            Ok(inbound) => match route(&producer, &topics, &pool, inbound, &mut shutdown).await {
                Routed::Done => true,
                Routed::ShuttingDown => false,
                Routed::Refused(reason) => {
                    let dead = DeadLetter::new(&topic, partition, offset, msg.key(), payload, reason);
                    dead_letter(&producer, &topics, &dead, &mut shutdown).await
                }
            },
        };
        if !outcome {
            break; // shutting down before the record was handled: it is redelivered
        }
        if let Err(e) = consumer.store_offset(&topic, partition, offset) {
            tracing::warn!(%topic, partition, offset, error = %e, "cannot store offset (partition revoked?)");
        }
    }
    if let Err(e) = consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync) {
        tracing::debug!(error = %e, "final commit of the identity router");
    }
}

enum Routed {
    Done,
    ShuttingDown,
    /// A permanent error (unknown tenant, invalid data): dead-letter it.
    Refused(String),
}

/// Errors worth retrying: the database or the broker is away for a while.
fn transient(e: &CrmError) -> bool {
    match e {
        CrmError::Database(db) => {
            matches!(
                db,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Protocol(_)
            ) || matches!(db, sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("40") || c.starts_with("08") || c.starts_with("57")))
        }
        CrmError::Contention(_) => true,
        _ => false,
    }
}

/// Resolves and forwards one message, retrying transient failures until
/// it succeeds or the process shuts down.
async fn route(
    producer: &KafkaProducer,
    topics: &Topics,
    pool: &PgPool,
    inbound: InboundMessage,
    shutdown: &mut watch::Receiver<bool>,
) -> Routed {
    let mut delay = Duration::from_millis(100);
    loop {
        let attempt = async {
            let identifiers = inbound.all_identifiers();
            let resolution =
                match resolve_customer(pool, inbound.tenant_id, &identifiers, inbound.display_name.as_deref()).await {
                    Ok(r) => r,
                    Err(e) if transient(&e) => return Err(e.to_string()),
                    Err(e) => return Ok(Err(format!("identity resolution refused the message: {e}"))),
                };
            let ticket = TicketMessage { customer_id: resolution.customer_id, message: inbound.clone() };
            let env = Envelope::new(
                EventType::Ticket,
                SOURCE,
                inbound.tenant_id,
                Some(ticket.customer_id.to_string()),
                &ticket,
            )
            .map_err(|e| e.to_string())?;
            producer
                .send(&topics.tickets(), &ticket.customer_id.to_string(), &env)
                .await
                .map(|_| Ok(()))
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(Ok(())) => return Routed::Done,
            Ok(Err(reason)) => return Routed::Refused(reason),
            Err(error) => {
                tracing::warn!(%error, external_id = %inbound.external_id, "identity routing failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return Routed::ShuttingDown,
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
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
    tracing::warn!(topic = %dead.topic, partition = dead.partition, offset = dead.offset, reason = %dead.reason, "record sent to the dead-letter topic");
    let payload = serde_json::to_vec(dead).unwrap_or_default();
    let key = dead.key.clone().unwrap_or_default();
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
