//! `BrokerProbe`: asks the cluster for its metadata, which proves that the
//! bootstrap servers answer and tells how many brokers and topics it has,
//! and (for the consumer groups this process belongs to) the consumer lag:
//! per group, the records on its topics that it has not committed yet.

use super::KafkaError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What the broker said.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BrokerStatus {
    pub brokers: usize,
    pub topics: usize,
    /// Per consumer group: uncommitted records across its topics.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub consumer_lag: BTreeMap<String, i64>,
    /// The same lag per partition (for `/metrics`).
    #[serde(skip)]
    pub partition_lag: Vec<PartitionLag>,
    /// Records in the dead-letter topic (high minus low watermark).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlq_records: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub lag: i64,
}

/// A consumer group whose lag is reported, with its topics.
struct WatchedGroup {
    name: String,
    topics: Vec<String>,
    /// A client with the group's id that never joins it (offset fetches
    /// only), so asking does not trigger a rebalance.
    client: BaseConsumer,
}

#[derive(Clone)]
pub struct BrokerProbe {
    client: Arc<BaseConsumer>,
    groups: Arc<Vec<WatchedGroup>>,
    dlq: Option<String>,
}

impl BrokerProbe {
    pub fn new(bootstrap_servers: &str) -> Result<Self, KafkaError> {
        Self::with_groups(bootstrap_servers, Vec::new())
    }

    /// A probe that also reports the lag of `groups` (name, topics).
    pub fn with_groups(bootstrap_servers: &str, groups: Vec<(String, Vec<String>)>) -> Result<Self, KafkaError> {
        let config = |group: Option<&str>| {
            let mut c = ClientConfig::new();
            c.set("bootstrap.servers", bootstrap_servers).set("client.id", "fte-health");
            if let Some(g) = group {
                c.set("group.id", g).set("enable.auto.commit", "false");
            }
            c
        };
        let client: BaseConsumer = config(None).create().map_err(KafkaError::Config)?;
        let groups = groups
            .into_iter()
            .map(|(name, topics)| {
                let client = config(Some(&name)).create().map_err(KafkaError::Config)?;
                Ok(WatchedGroup { name, topics, client })
            })
            .collect::<Result<Vec<_>, KafkaError>>()?;
        Ok(Self { client: Arc::new(client), groups: Arc::new(groups), dlq: None })
    }

    /// Also reports how many records the dead-letter topic `dlq` holds.
    pub fn watching_dlq(mut self, dlq: String) -> Self {
        self.dlq = Some(dlq);
        self
    }

    /// Fetches cluster metadata (and lag) within `timeout` per request, on a
    /// blocking thread: librdkafka's calls block.
    pub async fn check(&self, timeout: Duration) -> Result<BrokerStatus, KafkaError> {
        let client = Arc::clone(&self.client);
        let groups = Arc::clone(&self.groups);
        let dlq = self.dlq.clone();
        tokio::task::spawn_blocking(move || {
            let md = client.fetch_metadata(None, timeout).map_err(KafkaError::Metadata)?;
            let mut consumer_lag = BTreeMap::new();
            let mut partition_lag = Vec::new();
            for group in groups.iter() {
                let mut tpl = TopicPartitionList::new();
                for topic in &group.topics {
                    if let Some(t) = md.topics().iter().find(|t| t.name() == topic) {
                        for p in t.partitions() {
                            tpl.add_partition(topic, p.id());
                        }
                    }
                }
                let committed = group.client.committed_offsets(tpl, timeout).map_err(KafkaError::Metadata)?;
                let mut lag = 0;
                for e in committed.elements() {
                    let (low, high) = group
                        .client
                        .fetch_watermarks(e.topic(), e.partition(), timeout)
                        .map_err(KafkaError::Metadata)?;
                    let done = match e.offset() {
                        Offset::Offset(o) => o,
                        _ => low,
                    };
                    let behind = (high - done).max(0);
                    lag += behind;
                    partition_lag.push(PartitionLag {
                        group: group.name.clone(),
                        topic: e.topic().to_string(),
                        partition: e.partition(),
                        lag: behind,
                    });
                }
                consumer_lag.insert(group.name.clone(), lag);
            }
            let dlq_records = match dlq.as_deref().and_then(|name| md.topics().iter().find(|t| t.name() == name)) {
                Some(topic) => {
                    let mut records = 0;
                    for p in topic.partitions() {
                        let (low, high) =
                            client.fetch_watermarks(topic.name(), p.id(), timeout).map_err(KafkaError::Metadata)?;
                        records += (high - low).max(0);
                    }
                    Some(records)
                }
                None => None,
            };
            Ok(BrokerStatus {
                brokers: md.brokers().len(),
                topics: md.topics().len(),
                consumer_lag,
                partition_lag,
                dlq_records,
            })
        })
        .await
        .map_err(|e| KafkaError::Task(e.to_string()))?
    }
}
