//! The topic names a message moves through, unprefixed: the one place they
//! are spelt. The in-process bus uses them as they are; in Kafka mode
//! `kafka::Topics` puts the deployment's prefix (`KAFKA_TOPIC_PREFIX`) in
//! front. The outbox stores the unprefixed name of each row's topic.

use super::Channel;

/// Inbound messages whose customer is resolved, keyed by customer: the
/// actors' input.
pub const TICKETS: &str = "fte.tickets.incoming";
/// Each turn's measurements.
pub const METRICS: &str = "fte.metrics";
/// Hand-overs to humans.
pub const ESCALATIONS: &str = "fte.escalations";
/// Records that could not be processed, with the reason.
pub const DLQ: &str = "fte.dlq";

/// A channel's inbound topic: messages as the webhooks took them in.
pub fn inbound(channel: Channel) -> String {
    format!("fte.channels.{channel}.inbound")
}

/// A channel's outbound topic: replies for the dispatcher.
pub fn outbound(channel: Channel) -> String {
    format!("fte.channels.{channel}.outbound")
}
