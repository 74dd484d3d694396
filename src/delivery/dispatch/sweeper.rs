//! The dispatcher's sweeper: replies still unsettled a while after their
//! commit (their outbound record lost with a crashed process) are
//! delivered from the outbox.

use super::{Dispatcher, Outcome, store};
use crate::domain::{OutboundMessage, TenantId};
use crate::telemetry::Redacted;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

impl Dispatcher {
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
    pub(super) async fn recovered(&self, tenant: TenantId, id: Uuid) -> Option<Option<OutboundMessage>> {
        let payload = self.db("read the outbox", || store::outbox_payload(&self.pool, tenant, id)).await?;
        Some(payload.and_then(|payload| {
            serde_json::from_value(payload)
                .map_err(|e| tracing::warn!(message_id = %id, error = %Redacted(&e), "unreadable outbox payload"))
                .ok()
        }))
    }
}
