//! Domain newtypes: every value that crosses the edge (HTTP, Kafka, CLI) is
//! parsed into one of these before it reaches the CRM or an actor, so the
//! inner layers never see an unvalidated string. Also the agent's record
//! of a turn (`turn`), which the brain produces and the conversation store
//! persists, and the topic names (`topics`).

mod channel;
mod contact;
mod escalation;
mod ids;
mod message;
mod provider;
mod text;
pub mod topics;
mod turn;

pub use channel::{Channel, ParseChannelError};
pub use contact::{ContactError, EmailAddress, Identifier, IdentifierKind, PhoneNumber, SlackUserId};
pub use escalation::EscalationReason;
pub use ids::{ApprovalId, ConversationId, CustomerId, MessageId, TenantId, TicketId};
pub use message::{InboundMessage, MAX_BODY_CHARS, OutboundMessage, TicketMessage, limit_body};
pub use provider::{ParseProviderError, Provider};
pub use text::{clean_json, clean_text};
pub use turn::{AgentRecord, Fallback, Priority, TicketIntent, ToolCallRecord, Urgency};
