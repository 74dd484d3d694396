//! The dispatcher role's consumer: reads the outbound topics (group
//! `<prefix>fte-dispatcher`) and hands each reply to the dispatcher, one
//! at a time, storing the record's offset only once the reply is settled
//! (sent, already sent, or failed and flagged). A reply interrupted by
//! shutdown keeps its offset unstored, so the group redelivers it; a
//! redelivered reply that a provider already accepted is not sent again.

use super::{Envelope, EventType, Topics};
use crate::dispatch::{Dispatcher, Outcome};
use crate::domain::{Channel, OutboundMessage};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use std::sync::Arc;
use tokio::sync::watch;

pub async fn run_dispatcher(
    consumer: StreamConsumer<super::LoggedRebalance>,
    topics: Topics,
    mut shutdown: watch::Receiver<bool>,
    dispatcher: Arc<Dispatcher>,
) {
    let names: Vec<String> = Channel::ALL.iter().map(|c| topics.outbound(*c)).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Err(e) = consumer.subscribe(&refs) {
        tracing::error!(error = %e, "dispatcher cannot subscribe to the outbound topics");
        return;
    }
    loop {
        let Some(msg) = super::consumer::next_record(&consumer, &mut shutdown, "dispatcher").await else { break };
        match Envelope::parse(msg.payload().unwrap_or_default())
            .and_then(|e| e.data_as::<OutboundMessage>(EventType::Outbound))
        {
            Ok(out) => {
                if dispatcher.deliver(&out).await == Outcome::Interrupted {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(topic = msg.topic(), offset = msg.offset(), error = %e, "unreadable outbound record skipped")
            }
        }
        if let Err(e) = consumer.store_offset_from_message(&msg) {
            tracing::debug!(error = %e, "cannot store dispatcher offset");
        }
    }
    let _ = consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync);
}
