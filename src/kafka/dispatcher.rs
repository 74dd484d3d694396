//! The dispatcher role's consumer: reads the outbound topics (group
//! `<prefix>fte-dispatcher`) and hands each reply to the dispatcher. Each
//! partition has a lane of its own: its replies go out one at a time, in
//! order (a customer's replies share a partition), while other partitions
//! go on — a reply being retried holds back only its own partition. A
//! record's offset is stored once its reply is settled (sent, already
//! sent, or failed and flagged); a reply interrupted by shutdown keeps its
//! offset unstored, so the group redelivers it, and a redelivered reply a
//! provider already accepted is not sent again.

use super::{Envelope, EventType, Topics};
use crate::dispatch::{Dispatcher, Outcome};
use crate::domain::{Channel, OutboundMessage};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Records queued per partition before the consumer waits.
const LANE_DEPTH: usize = 64;

type Lanes = HashMap<(String, i32), mpsc::Sender<OwnedMessage>>;

pub async fn run_dispatcher(
    consumer: StreamConsumer<super::LoggedRebalance>,
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
        let Some(msg) = super::consumer::next_record(&consumer, &mut shutdown, "dispatcher").await else { break };
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

/// One partition's replies, in order.
async fn run_lane(
    consumer: Arc<StreamConsumer<super::LoggedRebalance>>,
    dispatcher: Arc<Dispatcher>,
    mut records: mpsc::Receiver<OwnedMessage>,
) {
    while let Some(msg) = records.recv().await {
        match Envelope::parse(msg.payload().unwrap_or_default())
            .and_then(|e| e.data_as::<OutboundMessage>(EventType::Outbound))
        {
            Ok(out) => {
                if dispatcher.deliver(&out).await == Outcome::Interrupted {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(topic = msg.topic(), offset = msg.offset(), error = %e, "unreadable outbound record skipped")
            }
        }
        if let Err(e) = consumer.store_offset(msg.topic(), msg.partition(), msg.offset()) {
            tracing::debug!(error = %e, "cannot store dispatcher offset (partition revoked?)");
        }
    }
}
