//! The same-run baselines of the load harness: the
//! machine's own ceilings, measured in the run that measures the scenarios,
//! so the report can state each result as a ratio to them.
//!
//! - [`pg_commit_rate`]: single-row INSERTs, each its own commit, with
//!   `synchronous_commit = on`, from N concurrent connections into a scratch
//!   (logged) table — the ceiling of "durable before visible".
//! - [`broker_roundtrip_rate`]: records produced by the runtime's own
//!   [`KafkaProducer`] and consumed back by a consumer built by the runtime's
//!   [`group_consumer`], on a scratch topic partitioned like the tickets
//!   topic.
//!
//! Each creates its scratch table or topic under a random name with a fixed
//! prefix ([`SCRATCH_TABLE_PREFIX`], [`SCRATCH_TOPIC_PREFIX`]) and removes it
//! afterwards, also when the measurement fails (not when the future itself
//! is dropped midway: then the prefix finds the leftovers).

use super::report::{Rate, percentiles};
use crate::kafka::{KafkaConnection, KafkaError, KafkaProducer, LoggedRebalance, group_consumer};
use hdrhistogram::Histogram;
use hdrhistogram::errors::{AdditionError, CreationError};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Postgres, SqlSafeStr, SqlStr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Name prefix of the scratch tables [`pg_commit_rate`] creates.
pub const SCRATCH_TABLE_PREFIX: &str = "bench_baseline_";
/// Name prefix of the scratch topics [`broker_roundtrip_rate`] creates.
pub const SCRATCH_TOPIC_PREFIX: &str = "fte.bench.baseline.";

/// Bytes of text in each inserted row.
const PG_PAYLOAD_BYTES: usize = 100;
/// Partitions of the scratch topic: those of `fte.tickets.incoming`.
const TOPIC_PARTITIONS: i32 = 12;
/// Records produced and consumed before the clock starts: they make the
/// consumer join its group and every client connect.
const WARMUP_RECORDS: usize = 12;
/// Records awaiting their acknowledgement at once, like many actors each
/// sending its own.
const MAX_IN_FLIGHT: usize = 1024;
/// The runtime's defaults (`KAFKA_SESSION_TIMEOUT_MS`,
/// `KAFKA_MAX_POLL_INTERVAL_MS`).
const SESSION_TIMEOUT_MS: u32 = 10_000;
const MAX_POLL_INTERVAL_MS: u32 = 300_000;
/// Longest wait for the next record before the round trip gives up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Phase byte, sequence number (u64 LE), send time (ns since the run's
/// clock, u64 LE): the smallest payload.
const STAMP_BYTES: usize = 17;
const PHASE_WARMUP: u8 = 0;
const PHASE_MEASURED: u8 = 1;

/// Errors of a baseline measurement.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("invalid baseline parameter: {0}")]
    InvalidArgument(&'static str),
    #[error("database request failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("synchronous_commit is {0:?} on a benchmark connection, expected \"on\"")]
    SynchronousCommit(String),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("cannot subscribe to the scratch topic: {0}")]
    Subscribe(#[source] rdkafka::error::KafkaError),
    #[error("scratch topic {topic}: {detail}")]
    ScratchTopic { topic: String, detail: String },
    #[error("only {received} of {expected} records came back (none for {idle:?})")]
    Incomplete { received: usize, expected: usize, idle: Duration },
    #[error("cannot create a latency histogram: {0}")]
    HistogramCreation(#[from] CreationError),
    #[error("cannot merge latency histograms: {0}")]
    HistogramAddition(#[from] AdditionError),
    #[error("a benchmark task did not complete: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Single-row INSERTs per second, each its own commit with
/// `synchronous_commit = on`, from `clients` concurrent connections, over
/// `duration` after a short uncounted warm-up; latency is per INSERT.
///
/// Creates a scratch table in `database_url`'s database (the role needs
/// CREATE there) and drops it afterwards.
pub async fn pg_commit_rate(database_url: &str, clients: usize, duration: Duration) -> Result<Rate, BaselineError> {
    if clients == 0 {
        return Err(BaselineError::InvalidArgument("clients must be at least 1"));
    }
    if duration.is_zero() {
        return Err(BaselineError::InvalidArgument("duration must be positive"));
    }
    let connections = u32::try_from(clients).map_err(|_| BaselineError::InvalidArgument("too many clients"))?;
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move { sqlx::query("SET synchronous_commit = on").execute(conn).await.map(|_| ()) })
        })
        .connect(database_url)
        .await?;
    let table = format!("{SCRATCH_TABLE_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let create = format!("CREATE TABLE {table} (id bigint PRIMARY KEY, payload text NOT NULL)");
    if let Err(error) = sqlx::query(AssertSqlSafe(create)).execute(&pool).await {
        pool.close().await;
        return Err(error.into());
    }
    let measured = measure_commits(&pool, &table, clients, duration).await;
    let dropped = sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}"))).execute(&pool).await;
    pool.close().await;
    let rate = match (measured, dropped) {
        (Ok(rate), Ok(_)) => rate,
        (Ok(_), Err(error)) => return Err(error.into()),
        (Err(error), dropped) => {
            if let Err(drop_error) = dropped {
                tracing::warn!(table, error = %drop_error, "cannot drop the baseline table");
            }
            return Err(error);
        }
    };
    tracing::info!(
        clients,
        operations = rate.operations,
        per_sec = rate.per_sec,
        p99_ms = rate.latency_ms.as_ref().map(|p| p.p99),
        "PostgreSQL commit baseline measured"
    );
    Ok(rate)
}

/// Uncounted warm-up before a measurement of `duration`.
fn warmup_for(duration: Duration) -> Duration {
    (duration / 5).clamp(Duration::from_millis(200), Duration::from_secs(2))
}

async fn measure_commits(
    pool: &PgPool,
    table: &str,
    clients: usize,
    duration: Duration,
) -> Result<Rate, BaselineError> {
    // Every connection is opened and checked before the clock starts.
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut conn = pool.acquire().await?;
        let (setting,): (String,) = sqlx::query_as("SHOW synchronous_commit").fetch_one(&mut *conn).await?;
        if setting != "on" {
            return Err(BaselineError::SynchronousCommit(setting));
        }
        connections.push(conn);
    }
    let insert = AssertSqlSafe(format!("INSERT INTO {table} (id, payload) VALUES ($1, $2)")).into_sql_str();
    let measure_from = Instant::now() + warmup_for(duration);
    let until = measure_from + duration;
    let mut tasks = JoinSet::new();
    for (client, conn) in connections.into_iter().enumerate() {
        let window = Window { client, clients, measure_from, until };
        tasks.spawn(insert_loop(conn, insert.clone(), window));
    }
    let mut latency_us = latency_histogram()?;
    while let Some(joined) = tasks.join_next().await {
        let merged = match joined {
            Ok(Ok(h)) => latency_us.add(&h).map_err(BaselineError::from),
            Ok(Err(error)) => Err(error),
            Err(error) => Err(error.into()),
        };
        if let Err(error) = merged {
            // Stop the others before the caller drops the table.
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            return Err(error);
        }
    }
    let operations = latency_us.len();
    let seconds = duration.as_secs_f64();
    Ok(Rate {
        per_sec: operations as f64 / seconds,
        operations,
        seconds,
        latency_ms: Some(percentiles(&latency_us, 1000.0)),
    })
}

/// One client's place in the run: its ids are `client + k × clients`; it
/// counts the INSERTs that complete within `[measure_from, until)`.
struct Window {
    client: usize,
    clients: usize,
    measure_from: Instant,
    until: Instant,
}

/// Inserts one row per statement (autocommit: one commit each) until the
/// window ends; returns the latencies (µs) of those that completed in it.
async fn insert_loop(
    mut conn: PoolConnection<Postgres>,
    insert: SqlStr,
    window: Window,
) -> Result<Histogram<u64>, BaselineError> {
    let mut latency_us = latency_histogram()?;
    let payload = "x".repeat(PG_PAYLOAD_BYTES);
    let step = i64::try_from(window.clients).map_err(|_| BaselineError::InvalidArgument("too many clients"))?;
    let mut id = i64::try_from(window.client).map_err(|_| BaselineError::InvalidArgument("too many clients"))?;
    loop {
        let started = Instant::now();
        sqlx::query(insert.clone()).bind(id).bind(payload.as_str()).execute(&mut *conn).await?;
        let done = Instant::now();
        if done >= window.until {
            return Ok(latency_us);
        }
        if done >= window.measure_from {
            latency_us.saturating_record(micros(done - started));
        }
        id += step;
    }
}

/// A histogram of microseconds from 1 µs to an hour, 3 significant digits.
/// Fixed bounds, because `saturating_record` clamps to the current bounds
/// rather than growing them: `Histogram::new` would clamp at 2 ms.
fn latency_histogram() -> Result<Histogram<u64>, CreationError> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Records per second produced to and consumed back from a scratch topic
/// (12 partitions, keys spread over them), from the first produce to the
/// last consume; latency is per record, from just before its produce to its
/// consume. Every record is offered at once, so this is the saturated rate
/// and the latency includes the backlog ahead of each record, not the
/// round trip of an idle broker. The producer is the runtime's [`KafkaProducer`] (idempotent,
/// `acks=all`, its linger and compression) with up to 1024 records awaiting
/// acknowledgement; the consumer is the runtime's [`group_consumer`] with
/// its default timeouts, storing each record's offset once handled.
/// `payload_bytes` is raised to 17 at least (the timestamp and sequence).
pub async fn broker_roundtrip_rate(
    kafka: &KafkaConnection,
    records: usize,
    payload_bytes: usize,
) -> Result<Rate, BaselineError> {
    if records == 0 {
        return Err(BaselineError::InvalidArgument("records must be at least 1"));
    }
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let topic = format!("{SCRATCH_TOPIC_PREFIX}{suffix}");
    let group = format!("fte-bench-baseline-{suffix}");
    let admin: AdminClient<DefaultClientContext> = kafka.client_config().create().map_err(KafkaError::Config)?;
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT)).request_timeout(Some(ADMIN_TIMEOUT));
    let new = NewTopic::new(&topic, TOPIC_PARTITIONS, TopicReplication::Fixed(-1));
    let created = admin.create_topics([&new], &options).await.map_err(KafkaError::Admin)?;
    check_topic_results(created, &[])?;

    let measured = roundtrip(kafka, &topic, &group, records, payload_bytes.max(STAMP_BYTES)).await;
    let deleted = admin
        .delete_topics(&[&topic], &options)
        .await
        .map_err(|e| BaselineError::from(KafkaError::Admin(e)))
        .and_then(|results| check_topic_results(results, &[RDKafkaErrorCode::UnknownTopicOrPartition]));
    // Removing the scratch group is tidiness (its consumer has closed by
    // now) and not every broker supports it: failures are only logged.
    match admin.delete_groups(&[&group], &options).await {
        Ok(results) => {
            for result in results {
                if let Err((group, code)) = result {
                    tracing::debug!(group, ?code, "baseline consumer group not deleted");
                }
            }
        }
        Err(error) => tracing::debug!(group, %error, "baseline consumer group not deleted"),
    }
    let rate = match (measured, deleted) {
        (Ok(rate), Ok(())) => rate,
        (Ok(_), Err(error)) => return Err(error),
        (Err(error), deleted) => {
            if let Err(delete_error) = deleted {
                tracing::warn!(topic, error = %delete_error, "cannot delete the baseline topic");
            }
            return Err(error);
        }
    };
    tracing::info!(
        records,
        per_sec = rate.per_sec,
        p99_ms = rate.latency_ms.as_ref().map(|p| p.p99),
        "broker round-trip baseline measured"
    );
    Ok(rate)
}

/// Fails on the first per-topic error not in `tolerated`.
fn check_topic_results(
    results: Vec<rdkafka::admin::TopicResult>,
    tolerated: &[RDKafkaErrorCode],
) -> Result<(), BaselineError> {
    for result in results {
        if let Err((topic, code)) = result
            && !tolerated.contains(&code)
        {
            return Err(BaselineError::ScratchTopic { topic, detail: format!("{code:?}") });
        }
    }
    Ok(())
}

async fn roundtrip(
    kafka: &KafkaConnection,
    topic: &str,
    group: &str,
    records: usize,
    payload_bytes: usize,
) -> Result<Rate, BaselineError> {
    let producer = KafkaProducer::new(kafka)?;
    let consumer =
        group_consumer(kafka, group, SESSION_TIMEOUT_MS, MAX_POLL_INTERVAL_MS, LoggedRebalance("bench-baseline"))?;
    consumer.subscribe(&[topic]).map_err(BaselineError::Subscribe)?;
    let clock = Instant::now();
    let warmup = Batch { phase: PHASE_WARMUP, count: WARMUP_RECORDS, payload_bytes, clock };
    tokio::try_join!(produce(&producer, topic, &warmup), consume(&consumer, &warmup))?;

    let measured = Batch { phase: PHASE_MEASURED, count: records, payload_bytes, clock };
    let started = Instant::now();
    let ((), (latency_us, last)) =
        tokio::try_join!(produce(&producer, topic, &measured), consume(&consumer, &measured))?;
    let seconds = last.duration_since(started).as_secs_f64().max(f64::MIN_POSITIVE);
    let operations = latency_us.len();
    Ok(Rate {
        per_sec: operations as f64 / seconds,
        operations,
        seconds,
        latency_ms: Some(percentiles(&latency_us, 1000.0)),
    })
}

/// The records of one phase: sequence numbers `0..count`.
#[derive(Clone, Copy)]
struct Batch {
    phase: u8,
    count: usize,
    payload_bytes: usize,
    /// Send and receive times are measured from here.
    clock: Instant,
}

impl Batch {
    fn payload(&self, seq: usize) -> Vec<u8> {
        let mut payload = vec![b'x'; self.payload_bytes];
        let sent = u64::try_from(self.clock.elapsed().as_nanos()).unwrap_or(u64::MAX);
        payload[0] = self.phase;
        payload[1..9].copy_from_slice(&(seq as u64).to_le_bytes());
        payload[9..17].copy_from_slice(&sent.to_le_bytes());
        payload
    }

    /// The sequence number and send time (ns) of a record of this batch.
    fn parse(&self, payload: &[u8]) -> Option<(usize, u64)> {
        if payload.len() < STAMP_BYTES || payload[0] != self.phase {
            return None;
        }
        let seq = u64::from_le_bytes(payload[1..9].try_into().ok()?);
        let sent = u64::from_le_bytes(payload[9..17].try_into().ok()?);
        let seq = usize::try_from(seq).ok().filter(|s| *s < self.count)?;
        Some((seq, sent))
    }
}

/// Produces the batch, keyed `k<seq>`, at most [`MAX_IN_FLIGHT`] awaiting
/// their acknowledgement; returns once every record is acknowledged.
async fn produce(producer: &KafkaProducer, topic: &str, batch: &Batch) -> Result<(), BaselineError> {
    let topic: Arc<str> = topic.into();
    let mut in_flight = JoinSet::new();
    for seq in 0..batch.count {
        if in_flight.len() >= MAX_IN_FLIGHT
            && let Some(joined) = in_flight.join_next().await
        {
            joined??;
        }
        let producer = producer.clone();
        let topic = Arc::clone(&topic);
        let key = format!("k{seq}");
        let batch = *batch;
        in_flight.spawn(async move {
            // Stamped when the send starts, not when it was queued here.
            let payload = batch.payload(seq);
            producer.send_bytes(&topic, &key, &payload).await.map(|_| ())
        });
    }
    while let Some(joined) = in_flight.join_next().await {
        joined??;
    }
    Ok(())
}

/// Consumes until every record of the batch has come back once; returns
/// their latencies (µs) and when the last one arrived. Records of other
/// phases and duplicates are skipped; consume errors are logged and waited
/// out like the runtime's consumers do, within [`IDLE_TIMEOUT`].
async fn consume(
    consumer: &StreamConsumer<LoggedRebalance>,
    batch: &Batch,
) -> Result<(Histogram<u64>, Instant), BaselineError> {
    let mut latency_us = latency_histogram()?;
    let mut seen = vec![false; batch.count];
    let mut received = 0;
    let mut partitions = std::collections::BTreeSet::new();
    let mut last = Instant::now();
    let mut deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
    while received < batch.count {
        let message = match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Err(_) => {
                return Err(BaselineError::Incomplete { received, expected: batch.count, idle: IDLE_TIMEOUT });
            }
            Ok(Err(error)) => {
                tracing::warn!(consumer = "bench-baseline", %error, "consume error; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Ok(Ok(message)) => message,
        };
        let now = Instant::now();
        if let Err(error) = consumer.store_offset_from_message(&message) {
            tracing::warn!(consumer = "bench-baseline", %error, "cannot store the offset");
        }
        let Some((seq, sent)) = message.payload().and_then(|p| batch.parse(p)) else {
            continue;
        };
        if std::mem::replace(&mut seen[seq], true) {
            continue;
        }
        received += 1;
        partitions.insert(message.partition());
        let arrived = u64::try_from(now.duration_since(batch.clock).as_nanos()).unwrap_or(u64::MAX);
        latency_us.saturating_record(arrived.saturating_sub(sent) / 1000);
        last = now;
        deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
    }
    tracing::debug!(records = received, partitions = partitions.len(), phase = batch.phase, "baseline batch consumed");
    Ok((latency_us, last))
}
