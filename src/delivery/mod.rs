//! The outbound leg of a reply: from the committed turn's outbox row to
//! the provider's acceptance, in the order a reply takes it:
//!
//! - the outbox relay ([`outbox_relay`]): committed outbox rows to their
//!   topics (in-process, or through [`OutboxKafkaSink`] with Kafka), each
//!   row marked published once its topic has it;
//! - the dispatcher ([`dispatch`]): its consumer, per-customer order,
//!   retries, the sweeper, and one sender per provider; a reply is settled
//!   when its provider accepts it or refuses it for good.
//!
//! The conversation's commit that writes the outbox row is
//! `conversation`'s; provider wire formats and the HTTP step of a provider
//! call are `channels`'; starting the relay and the dispatcher in a process
//! is `runtime`'s and `app`'s.

pub mod dispatch;
mod outbox_kafka_sink;
pub mod outbox_relay;

pub use outbox_kafka_sink::OutboxKafkaSink;
