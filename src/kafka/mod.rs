//! Kafka, the protocol only: the connection and its security, CloudEvents
//! envelopes, this deployment's topics and their creation, the idempotent
//! producer, group consumers, and the broker probe `/health` uses. Code here
//! uses only the Kafka protocol (no broker-specific API), so the local
//! tansu broker and a production Apache Kafka cluster are interchangeable.
//! What the consumers do with the records is the inbound leg's
//! (`pipeline`: identity router, conversation consumer) and the outbound
//! leg's (`delivery`: the outbox relay's sink, the dispatcher). Every
//! client starts from
//! [`KafkaConnection::client_config`] (bootstrap servers and transport
//! security).

mod connection;
mod consumer;
pub mod envelope;
mod probe;
mod producer;
mod topics;

pub use connection::{ClientCertificate, KafkaConnection, KafkaSecurity, KafkaSecurityError, Sasl, Tls};
pub(crate) use consumer::next_record;
pub use consumer::{LoggedRebalance, group_consumer};
pub use envelope::{DeadLetter, Envelope, EnvelopeError, EventType};
pub use probe::{BrokerProbe, BrokerStatus, PartitionLag};
pub use producer::{Delivered, KafkaProducer};
pub use topics::{Topics, ensure_topics};

/// Errors at the Kafka boundary.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("invalid Kafka security settings: {0}")]
    Security(#[from] KafkaSecurityError),
    #[error("invalid Kafka client configuration: {0}")]
    Config(#[source] rdkafka::error::KafkaError),
    #[error("broker metadata request failed: {0}")]
    Metadata(#[source] rdkafka::error::KafkaError),
    /// A metadata request failed after a connection failure librdkafka
    /// reported (`reason`: refused connection, TLS handshake, SASL
    /// authentication, connection closed by the broker).
    #[error("broker metadata request failed over {protocol}: {reason}")]
    Unreachable {
        #[source]
        error: rdkafka::error::KafkaError,
        protocol: &'static str,
        reason: String,
    },
    #[error("broker probe task failed: {0}")]
    Task(String),
    #[error("admin request failed: {0}")]
    Admin(#[source] rdkafka::error::KafkaError),
    #[error("cannot create topic {name}: {code}")]
    CreateTopic { name: String, code: String },
    #[error("producing to {topic} failed: {error}")]
    Produce { topic: String, error: rdkafka::error::KafkaError },
}
