//! The outbox relay's sink in Kafka mode (`OutboxKafkaSink`). Each outbox
//! row becomes a CloudEvent on its topic (with this deployment's prefix),
//! keyed as the row says; the relay marks the row published only after the
//! broker acknowledged it. A batch is queued in order and acknowledged
//! together: one broker round trip per batch instead of one per row.

use super::outbox_relay::{BatchFuture, OutboundSink, PublishFuture};
use crate::bus::OutboundRecord;
use crate::domain::{TenantId, topics};
use crate::kafka::{Envelope, EventType, KafkaProducer, Topics};

pub struct OutboxKafkaSink {
    pub producer: KafkaProducer,
    pub topics: Topics,
}

fn event_type(topic: &str) -> EventType {
    if topic.ends_with(".outbound") {
        EventType::Outbound
    } else if topic.ends_with(topics::ESCALATIONS) {
        EventType::Escalation
    } else {
        EventType::Metrics
    }
}

impl OutboxKafkaSink {
    /// The row as the CloudEvent that goes on its topic.
    fn envelope(record: &OutboundRecord) -> Result<Envelope, String> {
        let tenant: TenantId = record.payload["tenant_id"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("outbox row {} has no tenant_id", record.outbox_id))?;
        Envelope::new(
            event_type(&record.topic),
            "/fte/worker/outbox-relay",
            tenant,
            Some(record.key.clone()),
            &record.payload,
        )
        .map_err(|e| e.to_string())
    }
}

impl OutboundSink for OutboxKafkaSink {
    fn publish(&self, record: OutboundRecord) -> PublishFuture<'_> {
        Box::pin(async move {
            let env = Self::envelope(&record)?;
            self.producer
                .send(&self.topics.resolve(&record.topic), &record.key, &env)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn publish_batch(&self, records: Vec<OutboundRecord>) -> BatchFuture<'_> {
        Box::pin(async move {
            let mut acks: Vec<PublishFuture<'static>> = Vec::with_capacity(records.len());
            for record in &records {
                let queued = match Self::envelope(record) {
                    Ok(env) => self
                        .producer
                        .enqueue(&self.topics.resolve(&record.topic), &record.key, &env.to_bytes())
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                match queued {
                    Ok(ack) => acks.push(Box::pin(async move { ack.await.map(|_| ()).map_err(|e| e.to_string()) })),
                    Err(e) => {
                        // Nothing after a row that could not be queued: the
                        // next round starts from it.
                        acks.push(Box::pin(std::future::ready(Err(e))));
                        break;
                    }
                }
            }
            futures::future::join_all(acks).await
        })
    }
}
