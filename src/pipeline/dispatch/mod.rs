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
//! provider about an earlier attempt) are in `senders`; the dispatcher
//! role's Kafka consumer, which feeds the outbound topics' records to a
//! [`Dispatcher`], is in `consumer`.

mod consumer;
pub mod hold;
pub mod retry;
pub mod senders;
pub mod store;

pub use consumer::run_dispatcher;

use crate::channels::rate_limit::RateLimiter;
use crate::config::ChannelSettings;
use crate::domain::{Channel, OutboundMessage, TenantId};
use crate::kafka::{KafkaProducer, Topics};
use crate::telemetry::{Redacted, provider_id};
use retry::Backoff;
use senders::{Lookup, SendContext, SendFailure};
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

    async fn send_with_retries(&self, reply: &PendingReply, context: &SendContext) -> Outcome {
        let mut attempt = 0;
        let mut in_doubt = reply.send_started_at;
        // Sends that succeeded on the channel before this reply first failed.
        let mut successes_before: Option<u64> = None;
        loop {
            attempt += 1;
            let failure = match self.attempt(reply, context, &mut in_doubt, attempt).await {
                Ok(outcome) => return outcome,
                Err(failure) => failure,
            };
            let before = *successes_before.get_or_insert_with(|| self.successes(reply.channel));
            if !failure.retryable {
                return self.give_up(reply, &failure).await;
            }
            // A reply that keeps failing while others on its channel go
            // through is poison; a provider that fails every send is away,
            // and is waited for.
            if !self.backoff.may_retry(attempt) && self.successes(reply.channel) > before {
                return self.give_up(reply, &failure).await;
            }
            let wait = self.backoff.delay(attempt, failure.retry_after, retry::jitter());
            tracing::warn!(
                tenant_id = %reply.tenant_id, channel = %reply.channel, message_id = %reply.message_id,
                attempt, wait_ms = wait.as_millis() as u64, reason = %Redacted(&failure.reason), "send failed; will retry"
            );
            if self.pause(wait).await {
                return Outcome::Interrupted;
            }
        }
    }

    /// One attempt: asks the provider first if an earlier attempt may have
    /// reached it, else records that an attempt begins and sends.
    async fn attempt(
        &self,
        reply: &PendingReply,
        context: &SendContext,
        in_doubt: &mut Option<chrono::DateTime<chrono::Utc>>,
        attempt: u32,
    ) -> Result<Outcome, SendFailure> {
        if let Some(since) = *in_doubt {
            let Some(taken) =
                self.db("read accepted replies", || store::accepted_since(&self.pool, reply, since)).await
            else {
                return Ok(Outcome::Interrupted);
            };
            match senders::find_sent(&self.http, &self.gmail, &self.pool, context, reply, since, &taken).await? {
                Lookup::Found(accepted) => {
                    tracing::info!(
                        tenant_id = %reply.tenant_id, channel = %reply.channel, message_id = %reply.message_id,
                        external_id = %provider_id(&accepted.external_id), "the provider had the reply already; not sending again"
                    );
                    self.metrics.send(reply.channel.as_str(), "reconciled");
                    return Ok(self.accepted(reply, context, accepted, attempt, true).await);
                }
                Lookup::NotFound => {}
                Lookup::Unsupported => {
                    tracing::warn!(
                        tenant_id = %reply.tenant_id, channel = %reply.channel, message_id = %reply.message_id,
                        "an earlier attempt may have been accepted and the provider cannot be asked; sending again"
                    );
                    self.metrics.send(reply.channel.as_str(), "resent_unverified");
                }
            }
        }
        self.limiter.take(reply.tenant_id, reply.channel).await;
        let Some(started) =
            self.db("record the attempt", || store::mark_in_doubt(&self.pool, reply.tenant_id, reply.message_id)).await
        else {
            return Ok(Outcome::Interrupted);
        };
        *in_doubt = Some(started);
        let sent = senders::send(&self.http, &self.gmail, &self.pool, context, reply, self.public_url.as_deref()).await;
        let accepted = match sent {
            Ok(accepted) => accepted,
            Err(failure) if failure.unanswered => return Err(failure),
            Err(failure) => {
                // The provider answered: it did not take this attempt.
                let cleared = self
                    .db("clear the attempt", || store::clear_in_doubt(&self.pool, reply.tenant_id, reply.message_id));
                if cleared.await.is_none() {
                    return Ok(Outcome::Interrupted);
                }
                *in_doubt = None;
                return Err(failure);
            }
        };
        self.note_success(reply.channel);
        Ok(self.accepted(reply, context, accepted, attempt, false).await)
    }

    /// Stores the provider's acceptance (waiting out a database outage: a
    /// reply accepted but not recorded would be asked about, or sent
    /// again, by the next attempt).
    async fn accepted(
        &self,
        reply: &PendingReply,
        context: &SendContext,
        accepted: senders::Accepted,
        attempt: u32,
        reconciled: bool,
    ) -> Outcome {
        let mut metadata = accepted.metadata.clone();
        if let Some(m) = metadata.as_object_mut() {
            m.insert("account_id".into(), context.account.id.to_string().into());
            m.insert("attempts".into(), attempt.into());
            if reconciled {
                m.insert("reconciled".into(), true.into());
            }
        }
        let stored = self
            .db("record the acceptance", || {
                store::mark_accepted(
                    &self.pool,
                    reply.tenant_id,
                    reply.message_id,
                    &accepted.external_id,
                    accepted.status,
                    &metadata,
                )
            })
            .await;
        if stored.is_none() {
            // Shutdown: the reply stays in doubt, and the next attempt
            // finds it at the provider.
            return Outcome::Interrupted;
        }
        if reconciled {
            return Outcome::AlreadySent;
        }
        self.metrics.message(reply.channel.as_str(), "outbound");
        self.metrics.send(reply.channel.as_str(), "sent");
        tracing::info!(
            tenant_id = %reply.tenant_id, conversation_id = %reply.conversation_id,
            channel = %reply.channel, message_id = %reply.message_id,
            external_id = %provider_id(&accepted.external_id), attempt, "reply sent"
        );
        Outcome::Sent { external_id: accepted.external_id }
    }

    fn successes(&self, channel: Channel) -> u64 {
        self.channel_successes(channel).map_or(0, |n| n.load(Ordering::Relaxed))
    }

    fn note_success(&self, channel: Channel) {
        if let Some(n) = self.channel_successes(channel) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn channel_successes(&self, channel: Channel) -> Option<&AtomicU64> {
        Channel::ALL.iter().position(|c| *c == channel).and_then(|i| self.sent_ok.get(i))
    }

    async fn give_up(&self, reply: &PendingReply, failure: &SendFailure) -> Outcome {
        tracing::error!(
            tenant_id = %reply.tenant_id, conversation_id = %reply.conversation_id, channel = %reply.channel,
            message_id = %reply.message_id, reason = %Redacted(&failure.reason), "reply not delivered; conversation flagged"
        );
        self.metrics.send(reply.channel.as_str(), "failed");
        if self.db("mark the reply failed", || store::mark_failed(&self.pool, reply, &failure.reason)).await.is_none() {
            return Outcome::Interrupted;
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

    /// The sweeper of stuck replies: every `every`, replies committed in the
    /// last day and still not settled `stuck_after` after their commit are
    /// delivered from here (their outbound record was lost with a crashed
    /// process or an in-process bus, or a dispatcher gave up on a database
    /// step). It works only while this dispatcher's outbound records have
    /// stopped coming for `stuck_after`: under a backlog, old replies are
    /// not lost, only queued, and the records deliver them faster than a
    /// sweep would. A reply some dispatcher is working on is left to it.
    /// Runs until shutdown; the first sweep is at once (replies a previous
    /// run left behind).
    pub async fn run_sweeper(self: Arc<Self>, every: Duration, stuck_after: Duration) {
        loop {
            match self.sweep(stuck_after).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(redriven = n, "stuck replies delivered by the sweeper"),
                Err(e) => tracing::warn!(error = %e, "cannot look for stuck replies; will retry"),
            }
            if self.pause(every).await {
                return;
            }
        }
    }

    /// One sweep; returns how many stuck replies it settled.
    pub async fn sweep(&self, stuck_after: Duration) -> Result<usize, sqlx::Error> {
        let now = chrono::Utc::now();
        let before = now - chrono::Duration::from_std(stuck_after).unwrap_or_default();
        let pending = store::pending_replies(&self.pool, now - chrono::Duration::hours(24), before).await?;
        self.metrics.set_stuck_replies(pending.len() as u64);
        let mut settled = 0;
        for (tenant, id) in pending {
            if self.records_flowing(stuck_after) {
                break;
            }
            // Held: a dispatcher is on it.
            match self.holds.try_hold(id).await? {
                Some(hold) => self.holds.release(hold).await,
                None => continue,
            }
            let Some(out) = self.recovered(tenant, id).await else { break };
            let Some(out) = out else { continue };
            tracing::warn!(tenant_id = %tenant, message_id = %id, "reply stuck unsent; delivering it");
            self.metrics.redriven();
            match self.deliver_in_order(&out).await {
                Outcome::Interrupted => break,
                _ => settled += 1,
            }
        }
        Ok(settled)
    }

    /// The outbound record that queued reply `id`, read from the outbox
    /// (a database that is away is waited for): `None` when shutdown came
    /// first, `Some(None)` when there is no readable record.
    async fn recovered(&self, tenant: TenantId, id: Uuid) -> Option<Option<OutboundMessage>> {
        let payload = self.db("read the outbox", || store::outbox_payload(&self.pool, tenant, id)).await?;
        Some(payload.and_then(|payload| {
            serde_json::from_value(payload)
                .map_err(|e| tracing::warn!(message_id = %id, error = %Redacted(&e), "unreadable outbox payload"))
                .ok()
        }))
    }
}
