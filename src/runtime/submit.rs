//! Messages handed to the runtime by the library's callers (tests, the
//! bench harness, the inject route, the embedded intake): `accept`,
//! `submit` (the customer resolved first), and the in-process
//! `fte.tickets.incoming` publish behind them.

use super::{Accepted, Runtime, SubmitError};
use crate::actors::router::DeliveryResult;
use crate::actors::{Delivery, TurnReceipt};
use crate::crm::resolve_customer;
use crate::domain::{InboundMessage, TicketMessage};
use tokio::sync::oneshot;

impl Runtime {
    /// Takes a customer message in. Embedded: returns once its turn is
    /// committed. Kafka: returns once the inbound topic has it (durable);
    /// a worker takes it from there.
    pub async fn accept(&self, message: InboundMessage) -> Result<Accepted, SubmitError> {
        let message = message.cleaned();
        match &self.kafka {
            None => self.submit(message).await.map(Accepted::Committed),
            Some(kafka) => {
                let (topic, partition, offset) = kafka.publish_inbound(&message).await?;
                Ok(Accepted::Queued { topic, partition, offset })
            }
        }
    }

    /// Resolves the sender (a Slack sender's profile read first, see
    /// `channels::slack::SlackProfiles`), then routes the message to their actor;
    /// returns once the turn is committed (or has finally failed).
    pub async fn submit(&self, message: InboundMessage) -> Result<TurnReceipt, SubmitError> {
        let message = self.config.slack_profiles.enrich(&self.pool, message.cleaned()).await;
        let identifiers = message.all_identifiers();
        let resolution =
            resolve_customer(&self.pool, message.tenant_id, &identifiers, message.display_name.as_deref()).await?;
        self.submit_resolved(TicketMessage { customer_id: resolution.customer_id, message }).await
    }

    /// Routes a message whose customer is known.
    pub async fn submit_resolved(&self, ticket: TicketMessage) -> Result<TurnReceipt, SubmitError> {
        self.enqueue_resolved(ticket).await?.await
    }

    /// Publishes a message whose customer is known and returns at once with
    /// a future of its outcome: messages enqueued one after the other are
    /// processed in that order.
    pub async fn enqueue_resolved(
        &self,
        ticket: TicketMessage,
    ) -> Result<impl std::future::Future<Output = Result<TurnReceipt, SubmitError>> + use<>, SubmitError> {
        let (tx, rx) = oneshot::channel::<DeliveryResult>();
        let key = ticket.customer_id.to_string();
        let tickets = self.tickets.as_ref().ok_or_else(|| {
            SubmitError::Refused("with Kafka, messages enter through the inbound topics (Runtime::accept)".into())
        })?;
        tickets
            .publish(key.as_bytes(), |offset| Delivery::new(offset, ticket, Some(tx)))
            .await
            .map_err(|_| SubmitError::Closed)?;
        Ok(async move {
            match rx.await {
                Ok(result) => Ok(result?),
                Err(_) => Err(SubmitError::OutcomeLost),
            }
        })
    }
}
