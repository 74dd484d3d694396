//! The dispatcher (DESIGN.md §2, issue #6 item 7): takes each reply off an
//! outbound topic and delivers it through its channel's provider.
//! - Exactly once per acceptance: the reply's row is read first; one that
//!   a provider already accepted (its id stored as `external_id`) is never
//!   sent again, whatever redelivers it (a Kafka rebalance, a restart).
//! - Retries with exponential backoff and full jitter for failures the
//!   provider calls temporary (throttling, 5xx, network), honouring
//!   `Retry-After`.
//! - A reply that fails for good (or runs out of attempts) is marked
//!   `failed`, its conversation flagged (`delivery_failed_at`), and, with
//!   Kafka, a dead letter goes to `fte.dlq`.
//! - Per-tenant, per-channel rate limits space the sends.
//!
//! Channel specifics (which account, which request) are in `senders`.

pub mod retry;
pub mod senders;
pub mod store;

use crate::channels::rate_limit::RateLimiter;
use crate::config::ChannelSettings;
use crate::domain::{OutboundMessage, TenantId};
use crate::kafka::{KafkaProducer, Topics};
use retry::Backoff;
use senders::{SendContext, SendFailure};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use store::PendingReply;
use tokio::sync::watch;
use uuid::Uuid;

/// The HTTP client for provider APIs, with the configured timeouts.
pub fn http_client(settings: &ChannelSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(settings.send_timeout_ms.max(1)))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("fte/", env!("CARGO_PKG_VERSION")))
        .build()
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
    gmail: Arc<crate::gmail::GmailClient>,
    backoff: Backoff,
    limiter: RateLimiter,
    public_url: Option<String>,
    dead_letters: Option<DeadLetters>,
    shutdown: watch::Receiver<bool>,
    metrics: Arc<crate::metrics::Metrics>,
}

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
            pool,
            gmail: Arc::new(crate::gmail::GmailClient::new(http.clone())),
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
        }))
    }

    /// Delivers one reply (see the module header for the guarantees).
    pub async fn deliver(&self, out: &OutboundMessage) -> Outcome {
        let (tenant, id) = (out.tenant_id, out.message_id.as_uuid());
        let reply = loop {
            match store::load_reply(&self.pool, tenant, id).await {
                Ok(Some(reply)) => break reply,
                Ok(None) => {
                    tracing::warn!(tenant_id = %tenant, message_id = %id, "outbound record for no stored reply; skipped");
                    return Outcome::Unknown;
                }
                Err(e) => {
                    tracing::warn!(tenant_id = %tenant, message_id = %id, error = %e, "cannot read the reply; retrying");
                    if self.pause(Duration::from_secs(1)).await {
                        return Outcome::Interrupted;
                    }
                }
            }
        };
        if reply.already_accepted() {
            tracing::info!(tenant_id = %tenant, message_id = %id, status = reply.delivery_status, "reply already sent; not sending again");
            return Outcome::AlreadySent;
        }
        let context = match senders::prepare(&self.pool, &reply, out.recipient.as_ref()).await {
            Ok(context) => context,
            Err(failure) => return self.give_up(&reply, &failure).await,
        };
        self.send_with_retries(&reply, &context).await
    }

    async fn send_with_retries(&self, reply: &PendingReply, context: &SendContext) -> Outcome {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.take(reply.tenant_id, reply.channel).await;
            let sent =
                senders::send(&self.http, &self.gmail, &self.pool, context, reply, self.public_url.as_deref()).await;
            let failure = match sent {
                Ok(accepted) => {
                    let mut metadata = accepted.metadata.clone();
                    if let Some(m) = metadata.as_object_mut() {
                        m.insert("account_id".into(), context.account.id.to_string().into());
                        m.insert("attempts".into(), attempt.into());
                    }
                    return match store::mark_accepted(
                        &self.pool,
                        reply.tenant_id,
                        reply.message_id,
                        &accepted.external_id,
                        accepted.status,
                        &metadata,
                    )
                    .await
                    {
                        Ok(_) => {
                            self.metrics.message(reply.channel.as_str(), "outbound");
                            self.metrics.send(reply.channel.as_str(), "sent");
                            tracing::info!(
                                tenant_id = %reply.tenant_id, conversation_id = %reply.conversation_id,
                                channel = %reply.channel, message_id = %reply.message_id,
                                external_id = accepted.external_id, attempt, "reply sent"
                            );
                            Outcome::Sent { external_id: accepted.external_id }
                        }
                        Err(e) => {
                            // Sent, but not recorded: a redelivery would
                            // send it again. Loud, so someone notices.
                            tracing::error!(message_id = %reply.message_id, external_id = accepted.external_id,
                                error = %e, "reply sent but its provider id could not be stored");
                            Outcome::Sent { external_id: accepted.external_id }
                        }
                    };
                }
                Err(failure) => failure,
            };
            if !failure.retryable || !self.backoff.may_retry(attempt) {
                return self.give_up(reply, &failure).await;
            }
            let wait = self.backoff.delay(attempt, failure.retry_after, retry::jitter());
            tracing::warn!(
                tenant_id = %reply.tenant_id, channel = %reply.channel, message_id = %reply.message_id,
                attempt, wait_ms = wait.as_millis() as u64, reason = failure.reason, "send failed; will retry"
            );
            if self.pause(wait).await {
                return Outcome::Interrupted;
            }
        }
    }

    async fn give_up(&self, reply: &PendingReply, failure: &SendFailure) -> Outcome {
        tracing::error!(
            tenant_id = %reply.tenant_id, conversation_id = %reply.conversation_id, channel = %reply.channel,
            message_id = %reply.message_id, reason = failure.reason, "reply not delivered; conversation flagged"
        );
        self.metrics.send(reply.channel.as_str(), "failed");
        if let Err(e) = store::mark_failed(&self.pool, reply, &failure.reason).await {
            tracing::error!(message_id = %reply.message_id, error = %e, "cannot mark the reply failed");
        }
        if let Some(dl) = &self.dead_letters {
            let letter = serde_json::json!({
                "kind": "delivery_failed",
                "tenant_id": reply.tenant_id,
                "conversation_id": reply.conversation_id,
                "message_id": reply.message_id,
                "channel": reply.channel,
                "reason": failure.reason,
            });
            let payload = letter.to_string();
            if let Err(e) =
                dl.producer.send_bytes(&dl.topics.dlq(), &reply.message_id.to_string(), payload.as_bytes()).await
            {
                tracing::error!(message_id = %reply.message_id, error = %e, "cannot publish the dead letter");
            }
        }
        Outcome::Failed { reason: failure.reason.clone() }
    }

    /// Sleeps `wait`; true if shutdown began meanwhile.
    async fn pause(&self, wait: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        if *shutdown.borrow() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => false,
            _ = shutdown.changed() => true,
        }
    }

    /// Embedded mode at start-up: sends the replies of the last day that
    /// were committed but never sent (the in-process bus does not survive
    /// a restart).
    pub async fn recover(&self) {
        let now = chrono::Utc::now();
        let pending = match store::pending_replies(&self.pool, now - chrono::Duration::hours(24), now).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot look for unsent replies");
                return;
            }
        };
        if !pending.is_empty() {
            tracing::info!(count = pending.len(), "sending replies left unsent by the last run");
        }
        for (tenant, id) in pending {
            if let Some(out) = self.recovered(tenant, id).await {
                self.deliver(&out).await;
            }
        }
    }

    async fn recovered(&self, tenant: TenantId, id: Uuid) -> Option<OutboundMessage> {
        match store::outbox_payload(&self.pool, tenant, id).await {
            Ok(Some(payload)) => serde_json::from_value(payload)
                .map_err(|e| tracing::warn!(message_id = %id, error = %e, "unreadable outbox payload"))
                .ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "cannot read the outbox");
                None
            }
        }
    }
}
