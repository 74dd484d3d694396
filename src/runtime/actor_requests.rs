//! Requests to one customer's actor that are not messages (the admin API's
//! and the console's): an event applied, a support agent's action, the
//! actor's view of the conversation, a restart, a passivation.

use super::{Runtime, SubmitError};
use crate::actors::{ConversationActorMessage, HumanAction, HumanOutcome, HumanRefusal, SupervisorMessage};
use crate::conversation::{ConversationState, Event};
use crate::domain::{ConversationId, CustomerId, TenantId};
use ractor::RpcReplyPort;
use tokio::sync::oneshot;

impl Runtime {
    /// Applies a non-message event to a customer's conversation.
    pub async fn apply(&self, tenant: TenantId, customer: CustomerId, event: Event) -> Result<u64, SubmitError> {
        let (tx, rx) = oneshot::channel();
        let message = ConversationActorMessage::Apply(event, RpcReplyPort::from(tx));
        self.supervisor
            .cast(SupervisorMessage::Route { tenant, customer, message })
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::OutcomeLost)?.map_err(SubmitError::Refused)
    }

    /// A support agent's reply or decision on a draft, carried out by the
    /// customer's actor (the outer error: it never got there).
    pub async fn human(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        conversation: ConversationId,
        action: HumanAction,
    ) -> Result<Result<HumanOutcome, HumanRefusal>, SubmitError> {
        let (tx, rx) = oneshot::channel();
        let message = ConversationActorMessage::Human(conversation, action, RpcReplyPort::from(tx));
        self.supervisor
            .cast(SupervisorMessage::Route { tenant, customer, message })
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::OutcomeLost)
    }

    /// The actor's view of a customer's conversation (spawning it if needed).
    pub async fn inspect(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<(Option<ConversationId>, ConversationState), SubmitError> {
        let (tx, rx) = oneshot::channel();
        let message = ConversationActorMessage::Inspect(RpcReplyPort::from(tx));
        self.supervisor
            .cast(SupervisorMessage::Route { tenant, customer, message })
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::OutcomeLost)
    }

    /// Restarts a customer's actor: the running one drains and stops, and
    /// a successor rehydrates from PostgreSQL at once (so a conversation
    /// fixed in the database by hand is picked up). Answers the state the
    /// successor loaded.
    pub async fn restart(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<(Option<ConversationId>, ConversationState), SubmitError> {
        self.passivate(customer).await?;
        let loaded = self.inspect(tenant, customer).await?;
        self.stats.restarted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(loaded)
    }

    /// Passivates a customer's actor now; answers whether it was resident.
    pub async fn passivate(&self, customer: CustomerId) -> Result<bool, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.supervisor
            .cast(SupervisorMessage::Passivate(customer, RpcReplyPort::from(tx)))
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::OutcomeLost)
    }
}
