//! `BrokerProbe`: asks the cluster for its metadata, which proves that the
//! bootstrap servers answer and tells how many brokers and topics it has.

use super::KafkaError;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// What the broker said.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BrokerStatus {
    pub brokers: usize,
    pub topics: usize,
}

#[derive(Clone)]
pub struct BrokerProbe {
    client: Arc<BaseConsumer>,
}

impl BrokerProbe {
    pub fn new(bootstrap_servers: &str) -> Result<Self, KafkaError> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("client.id", "fte-health")
            .create()
            .map_err(KafkaError::Config)?;
        Ok(Self { client: Arc::new(client) })
    }

    /// Fetches cluster metadata within `timeout` (on a blocking thread:
    /// librdkafka's metadata call blocks).
    pub async fn check(&self, timeout: Duration) -> Result<BrokerStatus, KafkaError> {
        let client = Arc::clone(&self.client);
        tokio::task::spawn_blocking(move || {
            let md = client.fetch_metadata(None, timeout).map_err(KafkaError::Metadata)?;
            Ok(BrokerStatus { brokers: md.brokers().len(), topics: md.topics().len() })
        })
        .await
        .map_err(|e| KafkaError::Task(e.to_string()))?
    }
}
