//! The CRM boundary's error type.

use crate::domain::{ContactError, CustomerId};

#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    #[error("no identifiers given: a customer must be recognisable by at least one")]
    NoIdentifiers,
    #[error("invalid identifier stored in the database: {0}")]
    CorruptIdentifier(#[from] ContactError),
    #[error("tenant not found")]
    TenantNotFound,
    #[error("invalid tenant: {0}")]
    InvalidTenant(String),
    #[error("customer {0} not found")]
    CustomerNotFound(CustomerId),
    #[error("cannot merge customer {0} into itself")]
    SelfMerge(CustomerId),
    #[error("customer {absorbed} has an open conversation and so has {kept}; resolve one of them before merging")]
    OpenConversationConflict { kept: CustomerId, absorbed: CustomerId },
    #[error("identity resolution kept conflicting with concurrent writers; giving up after {0} attempts")]
    Contention(u32),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
