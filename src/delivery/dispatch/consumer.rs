//! The dispatcher role's Kafka consumer: reads the outbound topics (group
//! `<prefix>fte-dispatcher`) and hands each reply to the [`Dispatcher`]. Each
//! partition has a lane of its own, which delivers several of its replies
//! at once (the dispatcher keeps each customer's replies in commit order
//! whatever the lanes do) while other partitions go on. A record's offset
//! is stored once its reply and every earlier record's are settled (sent,
//! already sent, or failed and flagged); a reply interrupted by shutdown
//! keeps its offset unstored, so the group redelivers it, and a
//! redelivered reply a provider already accepted is not sent again.

use super::{Dispatcher, Outcome};
use crate::domain::{Channel, OutboundMessage};
use crate::kafka::{Envelope, EventType, LoggedRebalance, Topics, next_record};
use futures::StreamExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Records queued per partition before the consumer waits.
const LANE_DEPTH: usize = 64;

/// Replies of one partition delivered at once.
const LANE_CONCURRENCY: usize = 8;

type Lanes = HashMap<(String, i32), mpsc::Sender<OwnedMessage>>;

pub async fn run_dispatcher(
    consumer: StreamConsumer<LoggedRebalance>,
    topics: Topics,
    mut shutdown: watch::Receiver<bool>,
    dispatcher: Arc<Dispatcher>,
) {
    let consumer = Arc::new(consumer);
    let names: Vec<String> = Channel::ALL.iter().map(|c| topics.outbound(*c)).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Err(e) = consumer.subscribe(&refs) {
        tracing::error!(error = %e, "dispatcher cannot subscribe to the outbound topics");
        return;
    }
    let mut lanes: Lanes = HashMap::new();
    let mut tasks = JoinSet::new();
    loop {
        let Some(msg) = next_record(&consumer, &mut shutdown, "dispatcher").await else { break };
        let key = (msg.topic().to_string(), msg.partition());
        let lane = lanes.entry(key).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(LANE_DEPTH);
            tasks.spawn(run_lane(consumer.clone(), dispatcher.clone(), rx));
            tx
        });
        if lane.send(msg.detach()).await.is_err() {
            // The lane stopped (shutdown began inside a delivery).
            break;
        }
    }
    drop(lanes);
    while tasks.join_next().await.is_some() {}
    let _ = consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync);
}

/// One partition's replies: up to `LANE_CONCURRENCY` delivered at once
/// (order per customer is kept by the dispatcher itself, which sends a
/// reply's unsettled predecessors first and holds each reply while it is
/// delivered), offsets stored in record order as each prefix settles.
async fn run_lane(
    consumer: Arc<StreamConsumer<LoggedRebalance>>,
    dispatcher: Arc<Dispatcher>,
    records: mpsc::Receiver<OwnedMessage>,
) {
    let incoming = futures::stream::unfold(records, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let settled = incoming
        .map(|msg| {
            let dispatcher = Arc::clone(&dispatcher);
            async move {
                let outcome = match Envelope::parse(msg.payload().unwrap_or_default())
                    .and_then(|e| e.data_as::<OutboundMessage>(EventType::Outbound))
                {
                    Ok(out) => dispatcher.deliver(&out).await,
                    Err(e) => {
                        let error = crate::telemetry::Redacted(&e);
                        tracing::warn!(topic = msg.topic(), offset = msg.offset(), %error, "unreadable outbound record skipped");
                        Outcome::Unknown
                    }
                };
                (msg, outcome)
            }
        })
        .buffered(LANE_CONCURRENCY);
    let mut settled = std::pin::pin!(settled);
    while let Some((msg, outcome)) = settled.next().await {
        if outcome == Outcome::Interrupted {
            // Shutdown: this record and every later one keep their offsets
            // unstored, and the group redelivers them.
            return;
        }
        if let Err(e) = consumer.store_offset(msg.topic(), msg.partition(), msg.offset()) {
            tracing::debug!(error = %e, "cannot store dispatcher offset (partition revoked?)");
        }
    }
}
