//! The dispatcher role's consumer: reads the outbound topics (group
//! `<prefix>fte-dispatcher`) and hands each message to its channel's
//! sender. The channel adapters arrive with #6; until then each message is
//! logged and stays `pending` in the database (nothing claims it was
//! delivered), and its offset is stored so the group does not lag.

use super::{Envelope, EventType, Topics};
use crate::domain::{Channel, OutboundMessage};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use tokio::sync::watch;

pub async fn run_dispatcher(
    consumer: StreamConsumer<super::LoggedRebalance>,
    topics: Topics,
    mut shutdown: watch::Receiver<bool>,
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
            Ok(out) => tracing::info!(
                channel = %out.channel, message_id = %out.message_id, tenant_id = %out.tenant_id,
                conversation_id = %out.conversation_id,
                "reply ready; no channel adapter configured yet, left pending"
            ),
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
