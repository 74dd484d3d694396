//! The bench harness's same-run baselines (issue #8 item 4) against the
//! local stack: the PostgreSQL single-row commit rate and the broker's
//! produce → consume rate come out positive with ordered percentiles, and
//! leave no scratch table or topic behind.

use crate::common::{TestDb, kafka_brokers};
use fte::bench::baseline::{
    BaselineError, SCRATCH_TABLE_PREFIX, SCRATCH_TOPIC_PREFIX, broker_roundtrip_rate, pg_commit_rate,
};
use fte::bench::report::Rate;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::collections::BTreeSet;
use std::time::Duration;

fn assert_sane(rate: &Rate, what: &str) {
    assert!(rate.operations > 0, "{what}: no operations: {rate:?}");
    assert!(rate.per_sec > 0.0 && rate.per_sec.is_finite(), "{what}: {rate:?}");
    assert!(rate.seconds > 0.0, "{what}: {rate:?}");
    let expected = rate.operations as f64 / rate.seconds;
    assert!((rate.per_sec - expected).abs() <= expected * 1e-9, "{what}: per_sec is operations / seconds: {rate:?}");
    let p = rate.latency_ms.as_ref().unwrap_or_else(|| panic!("{what}: no latency: {rate:?}"));
    assert!(p.p50 > 0.0, "{what}: {p:?}");
    assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max, "{what}: {p:?}");
    assert!(p.mean > 0.0 && p.mean <= p.max, "{what}: {p:?}");
}

async fn scratch_tables(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE tablename LIKE $1")
        .bind(format!("{SCRATCH_TABLE_PREFIX}%"))
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

fn scratch_topics(brokers: &str) -> BTreeSet<String> {
    let client: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let metadata = client.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    metadata.topics().iter().map(|t| t.name().to_string()).filter(|n| n.starts_with(SCRATCH_TOPIC_PREFIX)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_commit_rate_at_1_and_4_clients_and_the_table_is_dropped() {
    let db = TestDb::empty().await;
    let one = pg_commit_rate(&db.url, 1, Duration::from_secs(1)).await.unwrap();
    let four = pg_commit_rate(&db.url, 4, Duration::from_secs(1)).await.unwrap();
    eprintln!("PG commits, 1 client: {one:?}");
    eprintln!("PG commits, 4 clients: {four:?}");
    assert_sane(&one, "1 client");
    assert_sane(&four, "4 clients");
    assert_eq!(one.seconds, 1.0, "the measured window is the duration asked for");
    // Each client runs one INSERT after the other: the latencies counted
    // in a 1 s window add up to at most the window plus the one straddling
    // its start (1% for the histogram's rounding), and to most of it (the
    // client's own work between two INSERTs is small).
    for (rate, clients) in [(&one, 1.0), (&four, 4.0)] {
        let p = rate.latency_ms.as_ref().unwrap();
        let busy_ms = rate.operations as f64 * p.mean;
        assert!(busy_ms <= clients * (1000.0 + p.max) * 1.01, "{clients} clients: {busy_ms} ms busy: {rate:?}");
        assert!(busy_ms >= clients * 1000.0 * 0.7, "{clients} clients: only {busy_ms} ms busy: {rate:?}");
    }
    assert!(scratch_tables(&db).await.is_empty(), "scratch tables left: {:?}", scratch_tables(&db).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_commit_rate_rejects_no_clients_and_an_unreachable_database() {
    let db = TestDb::empty().await;
    let none = pg_commit_rate(&db.url, 0, Duration::from_secs(1)).await;
    assert!(matches!(none, Err(BaselineError::InvalidArgument(_))), "{none:?}");
    let nowhere = crate::common::with_database(&db.url, "fte_no_such_database");
    let missing = pg_commit_rate(&nowhere, 1, Duration::from_millis(100)).await;
    assert!(matches!(missing, Err(BaselineError::Database(_))), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_roundtrip_rate_of_2000_records_and_the_topic_is_deleted() {
    let brokers = kafka_brokers();
    let before = scratch_topics(&brokers);
    let rate = broker_roundtrip_rate(&fte::kafka::KafkaConnection::plaintext(&brokers), 2000, 256).await.unwrap();
    eprintln!("broker round trip, 2000 records: {rate:?}");
    assert_sane(&rate, "broker");
    assert_eq!(rate.operations, 2000, "every record comes back exactly once: {rate:?}");
    // Every record is produced and consumed within the measured period.
    let p = rate.latency_ms.as_ref().unwrap();
    assert!(p.max <= rate.seconds * 1000.0 * 1.01, "a latency beyond the run: {rate:?}");
    let left: Vec<String> = scratch_topics(&brokers).difference(&before).cloned().collect();
    assert!(left.is_empty(), "scratch topics left: {left:?}");
}
