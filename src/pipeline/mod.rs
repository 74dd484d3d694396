//! The message pipeline: how a customer message moves between the HTTP
//! edge and the conversation actors, and how a committed reply moves from
//! PostgreSQL to its provider. Two stages, in the order a message takes
//! them:
//!
//! - In: [`intake`] (embedded mode: the message made durable in the
//!   `inbound_intake` table before the webhook is acknowledged) or
//!   [`publish_inbound`] (Kafka mode: the message published to its
//!   channel's inbound topic); then, with Kafka, the identity router
//!   (`identity_router`: sender → customer, onto `fte.tickets.incoming`)
//!   and the conversation consumer (`conversation_consumer`: a router per
//!   assigned partition, offsets stored once turns commit). The routers and
//!   actors the consumer feeds are `actors`'.
//! - Out: the outbox relay ([`outbox_relay`]: committed outbox rows to
//!   their topics, through [`OutboxKafkaSink`] with Kafka), then the
//!   dispatcher ([`dispatch`]: its consumer, order, retries, and one sender
//!   per provider).
//!
//! Topic names are `domain::topics`'; the Kafka protocol (connection,
//! envelope, producer, group consumers) is `kafka`'s; starting all this in
//! a process is `runtime`'s and `app`'s.

mod conversation_consumer;
pub mod dispatch;
mod identity_router;
pub mod intake;
mod outbox_kafka_sink;
pub mod outbox_relay;
pub mod publish_inbound;

pub use conversation_consumer::{ConversationConsumer, RebalanceContext, TicketConsumer};
pub use identity_router::run_identity_router;
pub use outbox_kafka_sink::OutboxKafkaSink;
pub use publish_inbound::{InboundPublisher, PublishError};
