//! `BrokerProbe`: asks the cluster for its metadata, which proves that the
//! bootstrap servers answer and tells how many brokers and topics it has,
//! and (for the consumer groups this process belongs to) the consumer lag:
//! per group, the records on its topics that it has not committed yet.
//! When the brokers cannot be reached, the error says why as librdkafka
//! last reported it (connection refused, TLS handshake, SASL
//! authentication), not only "broker transport failure".

use super::{KafkaConnection, KafkaError};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
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
    client: BaseConsumer<ProbeContext>,
}

/// Most events a check serves from the client's queue (logs and errors
/// since the last check; the queue is served only here).
const EVENTS_PER_CHECK: usize = 256;

/// The probe's clients' context: logs as librdkafka's default context does
/// and keeps the last connection failure librdkafka reported, as an error
/// (TLS handshake, SASL authentication) or as a `FAIL` log line (a
/// connection the broker closed, e.g. in plain text to a TLS listener).
struct ProbeContext {
    protocol: &'static str,
    last_failure: Mutex<Option<String>>,
}

impl ClientContext for ProbeContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if fac == "FAIL" && !matches!(level, RDKafkaLogLevel::Debug) {
            // Without librdkafka's `[thrd:…]: ` prefix.
            let message = log_message
                .strip_prefix("[thrd:")
                .and_then(|m| m.split_once("]: "))
                .map_or(log_message, |(_, rest)| rest);
            self.remember(message);
        }
        DefaultClientContext.log(level, fac, log_message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        // "1/1 brokers are down" follows the failure that says why.
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::AllBrokersDown) {
            self.remember(reason);
        }
        DefaultClientContext.error(error, reason);
    }
}

impl ConsumerContext for ProbeContext {}

impl ProbeContext {
    fn new(connection: &KafkaConnection) -> Self {
        Self { protocol: connection.security().protocol_name(), last_failure: Mutex::new(None) }
    }

    fn remember(&self, failure: &str) {
        if let Ok(mut last) = self.last_failure.lock() {
            *last = Some(failure.to_string());
        }
    }

    /// `error` with the last connection failure, if librdkafka reported one.
    fn explain(&self, error: rdkafka::error::KafkaError) -> KafkaError {
        match self.last_failure.lock().ok().and_then(|last| last.clone()) {
            Some(reason) => KafkaError::Unreachable { error, protocol: self.protocol, reason },
            None => KafkaError::Metadata(error),
        }
    }

    fn forget(&self) {
        if let Ok(mut last) = self.last_failure.lock() {
            *last = None;
        }
    }
}

#[derive(Clone)]
pub struct BrokerProbe {
    client: Arc<BaseConsumer<ProbeContext>>,
    groups: Arc<Vec<WatchedGroup>>,
    dlq: Option<String>,
}

impl BrokerProbe {
    pub fn new(connection: &KafkaConnection) -> Result<Self, KafkaError> {
        Self::with_groups(connection, Vec::new())
    }

    /// A probe that also reports the lag of `groups` (name, topics).
    pub fn with_groups(connection: &KafkaConnection, groups: Vec<(String, Vec<String>)>) -> Result<Self, KafkaError> {
        let config = |group: Option<&str>| {
            let mut c = connection.client_config();
            c.set("client.id", "fte-health");
            // Connection failures are logged at `Info` at the least (the
            // context keeps them); the logger still filters what it prints.
            if !matches!(c.log_level, RDKafkaLogLevel::Info | RDKafkaLogLevel::Debug) {
                c.set_log_level(RDKafkaLogLevel::Info);
            }
            if let Some(g) = group {
                c.set("group.id", g).set("enable.auto.commit", "false");
            }
            c
        };
        let client: BaseConsumer<ProbeContext> =
            config(None).create_with_context(ProbeContext::new(connection)).map_err(KafkaError::Config)?;
        let groups = groups
            .into_iter()
            .map(|(name, topics)| {
                let client = config(Some(&name))
                    .create_with_context(ProbeContext::new(connection))
                    .map_err(KafkaError::Config)?;
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
            let md = client.fetch_metadata(None, timeout);
            // Serves the queued logs and errors (the latter land in the
            // context).
            for _ in 0..EVENTS_PER_CHECK {
                let _ = client.poll(Duration::ZERO);
            }
            let md = md.map_err(|e| client.context().explain(e))?;
            client.context().forget();
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
