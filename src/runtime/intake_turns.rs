//! A webhook's message taken in (`Runtime::take`): made durable before its
//! turn runs, in the intake table (embedded mode, `pipeline::intake`) or on
//! the inbound topic (Kafka mode). In embedded mode the turn then runs in
//! the background, passing failures waited out, and the intake row is
//! removed once the turn has settled; rows a crash left behind are taken up
//! again at start-up.

use super::{Runtime, SubmitError, Taken};
use crate::db::Patience;
use crate::domain::InboundMessage;
use crate::pipeline::intake;
use crate::telemetry::{Redacted, provider_id};
use std::sync::Arc;
use std::time::Duration;

impl Runtime {
    /// Takes a customer message in for a webhook and returns once it is
    /// durable, before its turn runs. Embedded: its intake row is committed
    /// and the turn follows in the background (`intake`); Kafka: the
    /// inbound topic has it. A full intake refuses the message before
    /// storing anything.
    pub async fn take(self: &Arc<Self>, message: InboundMessage) -> Result<Taken, SubmitError> {
        let message = message.cleaned();
        if let Some(kafka) = &self.kafka {
            let (topic, partition, offset) = kafka.publish_inbound(&message).await?;
            return Ok(Taken::Queued { topic, partition, offset });
        }
        let capacity = self.config.partitions * self.config.partition_capacity;
        if self.intake_waiting.load(std::sync::atomic::Ordering::Relaxed) >= capacity {
            return Err(SubmitError::Busy { retry_after_secs: 2 });
        }
        match intake::store(&self.pool, &message).await.map_err(SubmitError::Store)? {
            Some(id) => {
                self.process_intake(id, message);
                Ok(Taken::Stored)
            }
            None => Ok(Taken::AlreadyWaiting),
        }
    }

    /// Runs a stored message's turn in the background, waiting out passing
    /// failures, and removes its intake row once the turn has settled.
    fn process_intake(self: &Arc<Self>, id: intake::IntakeId, message: InboundMessage) {
        use std::sync::atomic::Ordering;
        self.intake_waiting.fetch_add(1, Ordering::Relaxed);
        let runtime = Arc::clone(self);
        tokio::spawn(async move {
            let tenant = message.tenant_id;
            let mut patience = Patience::new(Duration::from_millis(100));
            let settled = loop {
                match runtime.submit(message.clone()).await {
                    Ok(_) | Err(SubmitError::Failed(_)) => break true,
                    Err(e) if e.is_transient() => {
                        let (external_id, error) = (provider_id(&message.external_id), Redacted(&e));
                        tracing::warn!(tenant_id = %tenant, %external_id, %error, "stored message not taken up yet; retrying");
                        patience.wait().await;
                    }
                    Err(e) => {
                        // Shutting down (the row is taken up at the next
                        // start) or refused for good (reported).
                        if !matches!(e, SubmitError::Closed) {
                            let (external_id, error) = (provider_id(&message.external_id), Redacted(&e));
                            tracing::error!(tenant_id = %tenant, %external_id, %error, "stored message cannot be taken up");
                        }
                        break false;
                    }
                }
            };
            if settled {
                let mut patience = Patience::new(Duration::from_millis(100));
                while let Err(e) = intake::remove(&runtime.pool, tenant, id).await {
                    if !crate::db::is_transient(&e) || runtime.is_shutting_down() {
                        // Left behind: taken up again at the next start and
                        // recognised by its turn as done.
                        tracing::warn!(tenant_id = %tenant, error = %e, "cannot remove a settled intake row");
                        break;
                    }
                    patience.wait().await;
                }
            }
            runtime.intake_waiting.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// At start-up: takes up again every message a crash left in the
    /// intake, oldest first, waiting for the database if it is away.
    pub(super) async fn recover_intake(self: Arc<Self>) {
        let mut patience = Patience::new(Duration::from_millis(250));
        let rows = loop {
            match intake::leftovers(&self.pool).await {
                Ok(rows) => break rows,
                Err(e) if crate::db::is_transient(&e) && !self.is_shutting_down() => {
                    tracing::warn!(error = %e, "cannot read the intake yet; retrying");
                    patience.wait().await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the intake: messages left by a crash stay there");
                    return;
                }
            }
        };
        if !rows.is_empty() {
            tracing::info!(messages = rows.len(), "taking up messages stored before a restart");
        }
        for (id, tenant, message) in rows {
            match message {
                Ok(message) => self.process_intake(id, message),
                Err(e) => {
                    tracing::error!(tenant_id = %tenant, intake_id = id.0, error = %Redacted(&e), "unreadable intake row left in place")
                }
            }
        }
    }
}
