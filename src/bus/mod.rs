//! The message bus between the roles. With `KAFKA_BROKERS` set it is Kafka;
//! without, the embedded in-process bus here, with the same
//! semantics: topics split into partitions, a record's key picks its
//! partition (so one key's records stay in order), each partition has one
//! consumer, and it is bounded: a producer waits when a partition is full
//! instead of growing memory without limit. At-least-once delivery is the
//! consumers' side: the routers redeliver what failed.

mod memory;

pub use memory::{MemoryTopic, PartitionReceiver, TopicClosed};

/// A record on an outbound topic: what the outbox relay publishes and the
/// dispatcher consumes.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundRecord {
    pub outbox_id: i64,
    pub topic: String,
    pub key: String,
    pub payload: serde_json::Value,
}

/// Stable partition of a key (FNV-1a), the same in every process.
pub fn partition_of(key: &[u8], partitions: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % partitions.max(1) as u64) as usize
}
