//! Kafka: everything that talks to the broker. Code here uses only the
//! Kafka protocol (no broker-specific API), so the local tansu broker and a
//! production Apache Kafka cluster are interchangeable: the broker probe
//! used by `/health`, CloudEvents envelopes, topic creation, the producer,
//! the worker's consumers (identity router, conversation consumer) and the
//! outbox relay's sink. The dispatcher role's consumer is part of the
//! dispatcher (`dispatch::run_dispatcher`), built on [`group_consumer`].
//! Every client starts from [`KafkaConnection::client_config`] (bootstrap
//! servers and transport security).

mod connection;
mod consumer;
mod conversation_consumer;
pub mod envelope;
mod identity_router;
mod outbound_sink;
mod probe;
mod producer;
mod topics;

pub use connection::{ClientCertificate, KafkaConnection, KafkaSecurity, KafkaSecurityError, Sasl, Tls};
pub(crate) use consumer::next_record;
pub use consumer::{LoggedRebalance, group_consumer};
pub use conversation_consumer::{ConversationConsumer, RebalanceContext, TicketConsumer};
pub use envelope::{DeadLetter, Envelope, EnvelopeError, EventType};
pub use identity_router::run_identity_router;
pub use outbound_sink::KafkaOutbound;
pub use probe::{BrokerProbe, BrokerStatus};
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
