//! The dispatcher: takes each reply off an outbound topic and delivers it
//! through its channel's provider.
//! - Order: a customer's replies on a channel reach the provider in the
//!   order their turns committed. Before a reply is sent, the customer's
//!   earlier replies on that channel that are not settled (accepted, or
//!   failed for good) are delivered first, whichever outbound record
//!   arrives first, on whichever dispatcher.
//! - One acceptance per reply: a reply is held (`hold`: an advisory lock,
//!   let go at once if its dispatcher dies) while it is delivered, so two
//!   dispatchers never send it at the same time. Before
//!   the first request that may reach the provider, the attempt is
//!   recorded (`send_started_at`); a later attempt on a reply in that state
//!   asks the provider whether it has the message (`senders::find_sent`)
//!   and sends only if it does not. A reply a provider accepted (its id
//!   stored as `external_id`) is never sent again.
//! - Transient is not poison: a database that is away is waited for at
//!   every step; a send the provider calls temporary (throttling, 5xx,
//!   network) is retried with exponential backoff and full jitter,
//!   honouring `Retry-After`, for as long as every send on the channel
//!   fails. Only a reply that keeps failing while others on its channel go
//!   through, or one the provider refuses for good, is marked `failed`,
//!   its conversation flagged (`delivery_failed_at`), and, with Kafka, a
//!   dead letter goes to `fte.dlq`.
//! - Nothing stuck: a sweeper delivers replies still unsettled a while
//!   after their commit (their record lost with a crashed process).
//! - Per-tenant, per-channel rate limits space the sends.
//!
//! Channel specifics (which account, which request, how to ask the
//! provider about an earlier attempt) are in `senders`; one reply's send,
//! its retries and giving up in `send`; the sweeper in `sweeper`; the
//! dispatcher role's Kafka consumer, which feeds the outbound topics'
//! records to a [`Dispatcher`], in `consumer`.

mod consumer;
pub mod hold;
pub mod retry;
mod send;
pub mod senders;
pub mod store;
mod sweeper;

pub use consumer::run_dispatcher;

use crate::channels::rate_limit::RateLimiter;
use crate::config::ChannelSettings;
use crate::domain::{Channel, OutboundMessage, TenantId};
use crate::kafka::{KafkaProducer, Topics};
use crate::telemetry::Redacted;
use retry::Backoff;
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use store::PendingReply;
use tokio::sync::watch;
use uuid::Uuid;

/// The HTTP client for provider APIs, with the configured timeouts: the
/// process's one client for them (the dispatcher and Gmail share it).
pub fn http_client(settings: &ChannelSettings) -> Result<reqwest::Client, reqwest::Error> {
    crate::http_clients::http(crate::http_clients::HttpOptions {
        timeout: Some(Duration::from_millis(settings.send_timeout_ms.max(1))),
        connect_timeout: Some(Duration::from_secs(5)),
    })
}

/// Where final failures are reported besides the database.
#[derive(Clone)]
pub struct DeadLetters {
    pub producer: KafkaProducer,
    pub topics: Topics,
}

/// What became of one reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted it (now).
    Sent { external_id: String },
    /// Accepted before: not sent again.
    AlreadySent,
    /// Given up: marked failed and flagged.
    Failed { reason: String },
    /// The row does not exist (never committed): nothing to send.
    Unknown,
    /// Shutdown came first; it stays pending for the next dispatcher.
    Interrupted,
}

pub struct Dispatcher {
    pool: PgPool,
    http: reqwest::Client,
    gmail: Arc<crate::channels::gmail::GmailClient>,
    backoff: Backoff,
    limiter: RateLimiter,
    public_url: Option<String>,
    dead_letters: Option<DeadLetters>,
    shutdown: watch::Receiver<bool>,
    metrics: Arc<crate::metrics::Metrics>,
    /// The replies this process is delivering.
    holds: hold::Holds,
    /// Sends accepted per channel (in `Channel::ALL` order): a reply that
    /// keeps failing while this grows is poison.
    sent_ok: Vec<AtomicU64>,
    /// When an outbound record last came in (milliseconds since `born`):
    /// the sweeper works only while the records have stopped coming.
    last_record: AtomicU64,
    born: std::time::Instant,
}

/// How often a reply held by another dispatcher is looked at again.
const HELD_POLL: Duration = Duration::from_millis(200);

impl Dispatcher {
    pub fn new(
        pool: PgPool,
        settings: &ChannelSettings,
        dead_letters: Option<DeadLetters>,
        shutdown: watch::Receiver<bool>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<Arc<Self>, reqwest::Error> {
        let http = http_client(settings)?;
        Ok(Arc::new(Self {
            holds: hold::Holds::new(pool.clone()),
            pool,
            gmail: Arc::new(crate::channels::gmail::GmailClient::new(http.clone())),
            http,
            backoff: Backoff {
                max_attempts: settings.send_max_attempts.max(1),
                base: Duration::from_millis(settings.send_backoff_base_ms),
                max: Duration::from_millis(settings.send_backoff_max_ms.max(settings.send_backoff_base_ms)),
            },
            limiter: RateLimiter::new(settings.outbound_rate_per_sec, settings.outbound_burst),
            public_url: settings.public_url.clone(),
            dead_letters,
            shutdown,
            metrics,
            sent_ok: Channel::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            last_record: AtomicU64::new(0),
            born: std::time::Instant::now(),
        }))
    }

    /// Delivers one reply (see the module header for the guarantees):
    /// first the customer's earlier replies on the channel that are not
    /// settled yet, in commit order, then this one.
    pub async fn deliver(&self, out: &OutboundMessage) -> Outcome {
        self.last_record.store(self.born.elapsed().as_millis() as u64, Ordering::Relaxed);
        let outcome = self.deliver_in_order(out).await;
        self.last_record.store(self.born.elapsed().as_millis() as u64, Ordering::Relaxed);
        outcome
    }

    /// Whether outbound records came in within `quiet`.
    fn records_flowing(&self, quiet: Duration) -> bool {
        let last = self.last_record.load(Ordering::Relaxed);
        last > 0 && self.born.elapsed().as_millis() as u64 - last < quiet.as_millis() as u64
    }

    async fn deliver_in_order(&self, out: &OutboundMessage) -> Outcome {
        let (tenant, id) = (out.tenant_id, out.message_id.as_uuid());
        let Some(reply) = self.load(tenant, id).await else { return Outcome::Interrupted };
        let Some(reply) = reply else {
            tracing::warn!(tenant_id = %tenant, message_id = %id, "outbound record for no stored reply; skipped");
            return Outcome::Unknown;
        };
        if reply.already_accepted() {
            return Outcome::AlreadySent;
        }
        let Some(earlier) = self.db("find earlier replies", || store::predecessors(&self.pool, &reply)).await else {
            return Outcome::Interrupted;
        };
        for predecessor in earlier {
            tracing::info!(
                tenant_id = %tenant, message_id = %id, earlier = %predecessor,
                "an earlier reply of the customer is not settled: delivering it first"
            );
            let Some(record) = self.recovered(tenant, predecessor).await else { return Outcome::Interrupted };
            let Some(record) = record else { continue };
            if self.deliver_held(&record).await == Outcome::Interrupted {
                return Outcome::Interrupted;
            }
        }
        self.deliver_held(out).await
    }

    /// Delivers one reply under its hold: a reply another dispatcher holds
    /// is waited for until it settles or is let go.
    async fn deliver_held(&self, out: &OutboundMessage) -> Outcome {
        let (tenant, id) = (out.tenant_id, out.message_id.as_uuid());
        loop {
            let Some(hold) = self.db("hold the reply", || self.holds.try_hold(id)).await else {
                return Outcome::Interrupted;
            };
            if let Some(hold) = hold {
                let outcome = self.deliver_unsettled(out).await;
                self.holds.release(hold).await;
                return outcome;
            }
            match self.load(tenant, id).await {
                None => return Outcome::Interrupted,
                Some(None) => return Outcome::Unknown,
                Some(Some(reply)) if reply.already_accepted() => return Outcome::AlreadySent,
                Some(Some(_)) => {}
            }
            tracing::debug!(message_id = %id, "another dispatcher holds the reply; waiting");
            if self.pause(HELD_POLL).await {
                return Outcome::Interrupted;
            }
        }
    }

    /// Delivers a held reply unless it is settled already.
    async fn deliver_unsettled(&self, out: &OutboundMessage) -> Outcome {
        let (tenant, id) = (out.tenant_id, out.message_id.as_uuid());
        let Some(reply) = self.load(tenant, id).await else { return Outcome::Interrupted };
        let Some(reply) = reply else { return Outcome::Unknown };
        if reply.already_accepted() {
            tracing::info!(tenant_id = %tenant, message_id = %id, status = reply.delivery_status, "reply already sent; not sending again");
            return Outcome::AlreadySent;
        }
        self.deliver_reply(&reply, out.recipient.as_ref()).await
    }

    /// Picks the account, then sends with retries.
    async fn deliver_reply(&self, reply: &PendingReply, recipient: Option<&crate::domain::Identifier>) -> Outcome {
        loop {
            match senders::prepare(&self.pool, reply, recipient).await {
                Ok(context) => return self.send_with_retries(reply, &context).await,
                Err(failure) if failure.retryable => {
                    tracing::warn!(message_id = %reply.message_id, reason = %Redacted(&failure.reason), "cannot prepare the send; waiting");
                    if self.pause(Duration::from_secs(1)).await {
                        return Outcome::Interrupted;
                    }
                }
                Err(failure) => return self.give_up(reply, &failure).await,
            }
        }
    }

    /// Reads reply `id`; `None` when shutdown came first (a database that
    /// is away is waited for).
    async fn load(&self, tenant: TenantId, id: Uuid) -> Option<Option<PendingReply>> {
        self.db("read the reply", || store::load_reply(&self.pool, tenant, id)).await
    }

    /// Runs a database step until it succeeds: a transient failure (the
    /// database away or busy) is waited out with backoff; anything else is
    /// logged as an error and tried again more slowly, since the reply
    /// must not be dropped. `None`: shutdown began.
    async fn db<T, F, Fut>(&self, what: &'static str, mut step: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        let mut wait = Duration::from_millis(100);
        loop {
            match step().await {
                Ok(value) => return Some(value),
                Err(e) if crate::db::is_transient(&e) => {
                    tracing::warn!(step = what, error = %e, "database unavailable; waiting")
                }
                Err(e) => {
                    tracing::error!(step = what, error = %e, "database step failed; retrying");
                    wait = wait.max(Duration::from_secs(5));
                }
            }
            if self.pause(wait).await {
                return None;
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}
