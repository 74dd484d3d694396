//! Kafka: everything that talks to the broker. Code here uses only the
//! Kafka protocol (no broker-specific API), so the local tansu broker and a
//! production Apache Kafka cluster are interchangeable. For now: the broker
//! probe used by `/health`; topics, producers and consumers arrive with the
//! pipeline (#4).

mod probe;

pub use probe::{BrokerProbe, BrokerStatus, KafkaError};
