//! Two workers in one consumer group share the actors; one is killed with
//! SIGKILL mid-stream and the other takes its partitions. 500 customers x 4
//! messages, produced by an independent Kafka client (Python
//! confluent-kafka): at the end every message has exactly one reply, in
//! PostgreSQL and on the outbound topic, each customer's replies are in
//! order, and the conversation consumers' lag is zero.
//!
//! Needs a broker that evicts a member that died without leaving and
//! rebalances the survivors, as Apache Kafka does: tansu 0.6.0 does not
//! (the survivor keeps its old half forever), so `make setup` builds tansu
//! with our fix (scripts/build-tansu.sh).

use crate::common::{
    OwnBroker, TestDb, assert_each_answered_once, produce_inbound, replies, spawn_serve, wait_exit, wait_until_replies,
};
use fte::crm::MergePolicy;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::HashSet;
use std::time::Duration;

const CUSTOMERS: usize = 500;
const MESSAGES: usize = 4;

/// Sum over partitions of (high watermark - committed offset) for a group.
fn lag(brokers: &str, group: &str, topic: &str, partitions: i32) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    let mut total = 0;
    for e in committed.elements() {
        let (_, high) = consumer.fetch_watermarks(topic, e.partition(), Duration::from_secs(10)).unwrap();
        let done = match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        };
        total += high - done;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_stream_loses_and_duplicates_nothing() {
    let db = TestDb::new().await;
    let tenant = db.tenant("failover", MergePolicy::Manual).await.id;
    // A broker of its own on tansu's PostgreSQL engine: tansu's memory
    // engine reports a high watermark of 1 on partitions an idempotent
    // client produced to, so a member that takes them over fetches nothing.
    let broker = OwnBroker::start().await;
    let brokers = broker.brokers();
    let prefix = format!("f{}.", uuid::Uuid::new_v4().simple());
    let env = [
        ("KAFKA_BROKERS", brokers.as_str()),
        ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_SESSION_TIMEOUT_MS", "6000"),
        ("KAFKA_MAX_POLL_INTERVAL_MS", "15000"),
    ];
    let (mut a, _) = spawn_serve(&db.url, &env);
    let (mut b, _) = spawn_serve(&db.url, &env);
    // Let both join the group before the stream starts.
    tokio::time::sleep(Duration::from_secs(8)).await;

    let producer = produce_inbound(&brokers, &prefix, tenant, CUSTOMERS, MESSAGES);

    let total = (CUSTOMERS * MESSAGES) as i64;
    // Kill worker A once a fifth of the replies are in.
    wait_until_replies(&db, tenant, total / 5, Duration::from_secs(120)).await;
    assert!(std::process::Command::new("kill").args(["-KILL", &a.id().to_string()]).status().unwrap().success());
    wait_exit(&mut a, Duration::from_secs(10));
    let killed_at = replies(&db, tenant).await;
    assert!(killed_at < total, "the kill must land mid-stream ({killed_at} of {total} done)");

    let out = producer.await.unwrap().unwrap();
    assert!(out.status.success(), "producer failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), total.to_string(), "every record acknowledged");

    // Worker B takes over A's partitions and finishes.
    wait_until_replies(&db, tenant, total, Duration::from_secs(180)).await;
    assert_each_answered_once(&db, tenant, total).await;
    crate::common::assert_replies_in_order(&db.pool, tenant, CUSTOMERS, MESSAGES).await;

    // The outbound topic has every reply (at least once; distinct ids).
    let reader: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    reader.subscribe(&[&format!("{prefix}fte.channels.email.outbound")]).unwrap();
    let mut ids = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ids.len() < total as usize {
        let msg = tokio::time::timeout_at(deadline, reader.recv()).await.expect("all replies on the topic").unwrap();
        let env: serde_json::Value = serde_json::from_slice(msg.payload().unwrap()).unwrap();
        ids.insert(env["data"]["message_id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), total as usize);

    // Consumer lag reaches zero.
    let group = format!("{prefix}fte-conversations");
    let topic = format!("{prefix}fte.tickets.incoming");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (brokers, group, topic) = (brokers.clone(), group.clone(), topic.clone());
        let lag = tokio::task::spawn_blocking(move || lag(&brokers, &group, &topic, 12)).await.unwrap();
        if lag == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "lag stays at {lag}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    assert!(std::process::Command::new("kill").args(["-TERM", &b.id().to_string()]).status().unwrap().success());
    assert!(wait_exit(&mut b, Duration::from_secs(30)).success());
}
