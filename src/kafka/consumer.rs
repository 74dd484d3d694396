//! Consumer set-up shared by the worker's consumers: a consumer group with
//! automatic commits of *stored* offsets only (`enable.auto.offset.store`
//! off): an offset is stored by the code once the record is fully handled,
//! so a crash redelivers whatever was not.

use super::{KafkaConnection, KafkaError};
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use std::time::Duration;
use tokio::sync::watch;

/// librdkafka's default is 500 ms.
const FETCH_WAIT_MAX_MS: &str = "20";

pub fn group_consumer<C: ConsumerContext + 'static>(
    connection: &KafkaConnection,
    group: &str,
    session_timeout_ms: u32,
    max_poll_interval_ms: u32,
    context: C,
) -> Result<StreamConsumer<C>, KafkaError> {
    connection
        .client_config()
        .set("group.id", group)
        .set("client.id", "fte")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", session_timeout_ms.to_string())
        // Survivors learn of a rebalance on their next heartbeat.
        .set("heartbeat.interval.ms", (session_timeout_ms / 6).max(100).to_string())
        .set("max.poll.interval.ms", max_poll_interval_ms.max(session_timeout_ms).to_string())
        // A fetch that finds nothing returns within this time. Apache Kafka
        // answers a waiting fetch as soon as a record arrives, but not every
        // Kafka-protocol broker does (tansu waits the whole time), and each
        // record crosses two consumers on its way to a reply.
        .set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS)
        .create_with_context(context)
        .map_err(KafkaError::Config)
}

/// The next record, or `None` once `shutdown` changes. Consume errors
/// (a broker away for a while) are logged and waited out, never fatal.
pub async fn next_record<'a, C: ConsumerContext + 'static>(
    consumer: &'a StreamConsumer<C>,
    shutdown: &mut watch::Receiver<bool>,
    who: &'static str,
) -> Option<BorrowedMessage<'a>> {
    loop {
        tokio::select! {
            r = consumer.recv() => match r {
                Ok(m) => return Some(m),
                Err(e) => {
                    tracing::warn!(consumer = who, error = %e, "consume error; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = shutdown.changed() => return None,
        }
    }
}

/// A consumer context that logs its group's rebalances (which partitions
/// this process holds), for consumers with no per-partition state.
pub struct LoggedRebalance(pub &'static str);

impl rdkafka::ClientContext for LoggedRebalance {}

impl ConsumerContext for LoggedRebalance {
    fn post_rebalance(
        &self,
        _consumer: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &rdkafka::consumer::Rebalance<'_>,
    ) {
        use rdkafka::consumer::Rebalance;
        match rebalance {
            Rebalance::Assign(tpl) => {
                let partitions: Vec<String> =
                    tpl.elements().iter().map(|e| format!("{}[{}]", e.topic(), e.partition())).collect();
                tracing::info!(consumer = self.0, ?partitions, "partitions assigned");
            }
            Rebalance::Revoke(tpl) => {
                tracing::info!(consumer = self.0, count = tpl.count(), "partitions revoked");
            }
            Rebalance::Error(e) => tracing::warn!(consumer = self.0, error = %e, "rebalance failed"),
        }
    }
}
