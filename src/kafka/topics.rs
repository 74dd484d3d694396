//! This deployment's topics on the broker: the names of
//! `domain::topics` behind a prefix (`KAFKA_TOPIC_PREFIX`, so several
//! deployments or test runs share a cluster without seeing each other's
//! records), their partition counts, and their idempotent creation at
//! start-up through the admin API.

use super::{KafkaConnection, KafkaError};
use crate::config::KafkaSettings;
use crate::domain::{Channel, topics};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// Topic names and sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    pub prefix: String,
    /// Partitions of every topic but `fte.tickets.incoming`.
    pub partitions: i32,
    /// Partitions of `fte.tickets.incoming`: the most workers that can share
    /// the actors.
    pub tickets_partitions: i32,
    /// -1: the broker's default.
    pub replication_factor: i32,
}

impl Default for Topics {
    fn default() -> Self {
        Self { prefix: String::new(), partitions: 3, tickets_partitions: 12, replication_factor: -1 }
    }
}

impl Topics {
    /// The layout the `serve` role's flags describe (at least one
    /// partition per topic).
    pub fn from_settings(settings: &KafkaSettings) -> Self {
        Topics {
            prefix: settings.kafka_topic_prefix.clone(),
            partitions: settings.kafka_partitions.max(1),
            tickets_partitions: settings.kafka_tickets_partitions.max(1),
            replication_factor: settings.kafka_replication_factor,
        }
    }

    fn named(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn tickets(&self) -> String {
        self.named(topics::TICKETS)
    }

    pub fn inbound(&self, channel: Channel) -> String {
        self.named(&topics::inbound(channel))
    }

    pub fn outbound(&self, channel: Channel) -> String {
        self.named(&topics::outbound(channel))
    }

    pub fn escalations(&self) -> String {
        self.named(topics::ESCALATIONS)
    }

    pub fn metrics(&self) -> String {
        self.named(topics::METRICS)
    }

    pub fn dlq(&self) -> String {
        self.named(topics::DLQ)
    }

    /// The unprefixed outbound topic name as stored in the outbox, mapped
    /// to this deployment's name.
    pub fn resolve(&self, unprefixed: &str) -> String {
        self.named(unprefixed)
    }

    /// Every topic with its partition count.
    pub fn all(&self) -> Vec<(String, i32)> {
        let mut all = vec![(self.tickets(), self.tickets_partitions)];
        for channel in Channel::ALL {
            all.push((self.inbound(channel), self.partitions));
            all.push((self.outbound(channel), self.partitions));
        }
        for name in [self.escalations(), self.metrics(), self.dlq()] {
            all.push((name, self.partitions));
        }
        all
    }
}

/// Creates every topic that does not exist yet; existing ones are left as
/// they are.
pub async fn ensure_topics(
    connection: &KafkaConnection,
    topics: &Topics,
    timeout: Duration,
) -> Result<Vec<String>, KafkaError> {
    let admin: AdminClient<DefaultClientContext> = connection.client_config().create().map_err(KafkaError::Config)?;
    let wanted = topics.all();
    let new: Vec<NewTopic<'_>> = wanted
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(topics.replication_factor)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(timeout)).request_timeout(Some(timeout));
    let results = admin.create_topics(&new, &options).await.map_err(KafkaError::Admin)?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(KafkaError::CreateTopic { name, code: format!("{code:?}") }),
        }
    }
    Ok(created)
}
