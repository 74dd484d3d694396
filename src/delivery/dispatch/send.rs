//! One reply's send, on the [`Dispatcher`]: attempts recorded before the
//! first request that may reach the provider, an earlier attempt looked up
//! before sending again, temporary failures retried with backoff
//! (`retry`) for as long as the whole channel fails, the acceptance
//! stored, and a reply given up on flagged and dead-lettered.

use super::retry;
use super::senders::{self, Lookup, SendContext, SendFailure};
use super::store::{self, PendingReply};
use super::{Dispatcher, Outcome};
use crate::domain::Channel;
use crate::telemetry::{Redacted, provider_id};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

impl Dispatcher {
    pub(super) async fn send_with_retries(&self, reply: &PendingReply, context: &SendContext) -> Outcome {
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

    pub(super) async fn give_up(&self, reply: &PendingReply, failure: &SendFailure) -> Outcome {
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
    pub(super) async fn pause(&self, wait: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        if *shutdown.borrow() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => false,
            _ = shutdown.changed() => true,
        }
    }
}
