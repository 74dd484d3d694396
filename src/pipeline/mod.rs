//! The inbound leg of a customer message: from the HTTP edge to the
//! conversation actors, in the order a message takes it:
//!
//! - [`intake`] (embedded mode: the message made durable in the
//!   `inbound_intake` table before the webhook is acknowledged) or
//!   [`publish_inbound`] (Kafka mode: the message published to its
//!   channel's inbound topic);
//! - then, with Kafka, the identity router (`identity_router`: sender →
//!   customer, onto `fte.tickets.incoming`) and the conversation consumer
//!   (`conversation_consumer`: a router per assigned partition, offsets
//!   stored once turns commit). The routers and actors the consumer feeds
//!   are `actors`'.
//!
//! A committed reply's way to its provider is `delivery`'s. Topic names
//! are `domain::topics`'; the Kafka protocol (connection, envelope,
//! producer, group consumers) is `kafka`'s; starting all this in a process
//! is `runtime`'s and `app`'s.

mod conversation_consumer;
mod identity_router;
pub mod intake;
pub mod publish_inbound;

pub use conversation_consumer::{ConversationConsumer, RebalanceContext, TicketConsumer};
pub use identity_router::run_identity_router;
pub use publish_inbound::{InboundPublisher, PublishError};
