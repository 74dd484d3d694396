//! The broker restarted mid-stream: a tansu broker of this test's own, on
//! its PostgreSQL storage engine (so it keeps its log), is SIGKILLed while
//! an independent producer (confluent-kafka) writes 200 customers × 3
//! messages and a worker consumes them, then started again on the same
//! port and storage. Producers and consumers reconnect; at the end every
//! message was acknowledged, stored once and answered exactly once, in
//! order per customer.

use crate::common::{
    OwnBroker, TestDb, assert_each_answered_once, produce_inbound, replies, spawn_serve, wait_exit, wait_until_replies,
};
use fte::crm::MergePolicy;
use std::process::Command;
use std::time::Duration;

const CUSTOMERS: usize = 200;
const MESSAGES: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restarted_mid_stream_loses_nothing() {
    let db = TestDb::new().await;
    let tenant = db.tenant("restart", MergePolicy::Manual).await.id;

    let mut broker = OwnBroker::start().await;
    let brokers = broker.brokers();

    let prefix = format!("r{}.", uuid::Uuid::new_v4().simple());
    let env = [
        ("KAFKA_BROKERS", brokers.as_str()),
        ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_SESSION_TIMEOUT_MS", "10000"),
    ];
    let (mut worker, _) = spawn_serve(&db.url, &env);
    tokio::time::sleep(Duration::from_secs(5)).await;

    let producer = produce_inbound(&brokers, &prefix, tenant, CUSTOMERS, MESSAGES);
    let total = (CUSTOMERS * MESSAGES) as i64;
    wait_until_replies(&db, tenant, total / 5, Duration::from_secs(120)).await;
    // Mid-stream: kill the broker outright, keep it down a moment, restart
    // it on the same port and storage.
    broker.kill();
    let at_kill = replies(&db, tenant).await;
    assert!(at_kill < total, "the kill must land mid-stream ({at_kill} of {total} done)");
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.restart();

    let out = producer.await.unwrap().unwrap();
    assert!(out.status.success(), "producer failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), total.to_string(), "every record acknowledged");

    wait_until_replies(&db, tenant, total, Duration::from_secs(180)).await;
    assert_each_answered_once(&db, tenant, total).await;
    crate::common::assert_replies_in_order(&db.pool, tenant, CUSTOMERS, MESSAGES).await;

    assert!(Command::new("kill").args(["-TERM", &worker.id().to_string()]).status().unwrap().success());
    assert!(wait_exit(&mut worker, Duration::from_secs(30)).success());
    broker.kill();
}
