//! `KafkaOutbound`: the outbox relay's sink in Kafka mode. Each outbox row
//! becomes a CloudEvent on its topic (with this deployment's prefix), keyed
//! as the row says; the relay marks the row published only after the
//! broker acknowledged it.

use super::{Envelope, EventType, KafkaProducer, Topics};
use crate::bus::OutboundRecord;
use crate::domain::TenantId;
use crate::outbox::{OutboundSink, PublishFuture};

pub struct KafkaOutbound {
    pub producer: KafkaProducer,
    pub topics: Topics,
}

fn event_type(topic: &str) -> EventType {
    if topic.ends_with(".outbound") {
        EventType::Outbound
    } else if topic.ends_with("fte.escalations") {
        EventType::Escalation
    } else {
        EventType::Metrics
    }
}

impl OutboundSink for KafkaOutbound {
    fn publish(&self, record: OutboundRecord) -> PublishFuture<'_> {
        Box::pin(async move {
            let tenant: TenantId = record.payload["tenant_id"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("outbox row {} has no tenant_id", record.outbox_id))?;
            let env = Envelope::new(
                event_type(&record.topic),
                "/fte/worker/outbox-relay",
                tenant,
                Some(record.key.clone()),
                &record.payload,
            )
            .map_err(|e| e.to_string())?;
            self.producer
                .send(&self.topics.resolve(&record.topic), &record.key, &env)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}
