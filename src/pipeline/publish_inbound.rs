//! Kafka mode's intake: a message a webhook took in is published to its
//! channel's inbound topic, keyed by the sender's address, idempotently and
//! with `acks=all`. It is durable once the broker has acknowledged it; the
//! webhook answers only then, and the identity router takes it from there.

use crate::domain::InboundMessage;
use crate::kafka::{Envelope, EventType, KafkaProducer, Topics};

/// The producer inbound messages are published with, and this
/// deployment's topic names.
pub struct InboundPublisher {
    pub producer: KafkaProducer,
    pub topics: Topics,
}

/// Why an inbound message was not published: its envelope could not be
/// built, or the broker did not acknowledge it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PublishError(String);

impl InboundPublisher {
    /// Publishes an inbound message to its channel's topic, keyed by the
    /// sender's address; answers the topic, partition and offset.
    pub async fn publish_inbound(&self, message: &InboundMessage) -> Result<(String, i32, i64), PublishError> {
        let topic = self.topics.inbound(message.channel);
        let key = message.sender.value().to_string();
        let env = Envelope::new(EventType::Inbound, "/fte/api", message.tenant_id, Some(key.clone()), message)
            .map_err(|e| PublishError(e.to_string()))?;
        let delivered = self.producer.send(&topic, &key, &env).await.map_err(|e| PublishError(e.to_string()))?;
        Ok((topic, delivered.partition, delivered.offset))
    }
}
