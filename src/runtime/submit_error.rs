//! Why a message was not taken in or its turn not done (`SubmitError`), and
//! which of those reasons pass.

use crate::actors::router::DeliveryFailed;
use crate::crm::CrmError;
use crate::pipeline::PublishError;

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Identity(#[from] CrmError),
    #[error("the runtime is shutting down")]
    Closed,
    #[error(transparent)]
    Failed(#[from] DeliveryFailed),
    #[error("the message was accepted but its outcome was lost")]
    OutcomeLost,
    #[error("{0}")]
    Refused(String),
    /// Embedded mode: as many messages are waiting as the in-process bus
    /// holds; nothing was stored.
    #[error("too many messages waiting; retry in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// The message could not be stored (the database away or busy).
    #[error("cannot store the message: {0}")]
    Store(sqlx::Error),
}

impl SubmitError {
    /// Whether the same message is expected to go through once a passing
    /// condition is over (the database away, the intake full).
    pub fn is_transient(&self) -> bool {
        match self {
            SubmitError::Identity(CrmError::Database(e)) | SubmitError::Store(e) => crate::db::is_transient(e),
            SubmitError::Identity(CrmError::Contention(_)) | SubmitError::OutcomeLost | SubmitError::Busy { .. } => {
                true
            }
            _ => false,
        }
    }
}

impl From<PublishError> for SubmitError {
    /// The inbound topic did not take the message.
    fn from(e: PublishError) -> Self {
        SubmitError::Refused(e.to_string())
    }
}
