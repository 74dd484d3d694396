//! Domain newtypes: every value that crosses the edge (HTTP, Kafka, CLI) is
//! parsed into one of these before it reaches the CRM or an actor, so the
//! inner layers never see an unvalidated string.

mod channel;
mod contact;
mod ids;

pub use channel::{Channel, ParseChannelError};
pub use contact::{ContactError, EmailAddress, Identifier, IdentifierKind, PhoneNumber, SlackUserId};
pub use ids::{ConversationId, CustomerId, MessageId, TenantId, TicketId};
