//! Resident conversation actors: memory per idle actor and spawn +
//! rehydrate time per actor, with N (default 100,000) conversations made
//! resident at once. Needs `DATABASE_URL` (run `make bench-actors`); it
//! creates and drops a database of its own.
//!
//! Each conversation is written straight into PostgreSQL (two events: a
//! customer message and the agent's reply, as a real first turn leaves it),
//! then every actor is spawned through the supervisor and rehydrates from
//! the database. Reported: resident set size before and after, per actor,
//! and rehydration percentiles.

use fte::brain::EchoBrain;
use fte::crm::{MergePolicy, NewTenant, create_tenant};
use fte::domain::CustomerId;
use fte::runtime::{Runtime, RuntimeConfig};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Actors brought up at once: the pool's size.
const CONCURRENCY: usize = 16;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Test runners list targets with `--list`: this is a benchmark, it has
    // no tests to list.
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let n: usize = std::env::var("ACTORS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let base = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set (make bench-actors sets it)")?;
    let name = format!("fte_bench_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&base).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
    let url = match base.rsplit_once('/') {
        Some((head, _)) => format!("{head}/{name}"),
        None => return Err("DATABASE_URL has no database name".into()),
    };
    let result = run(&url, n).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&mut admin).await?;
    result
}

async fn run(url: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let pool = PgPoolOptions::new().max_connections(CONCURRENCY as u32).connect(url).await?;
    fte::db::migrate(&pool).await?;
    let tenant = create_tenant(
        &pool,
        &NewTenant { slug: "bench".into(), name: "Bench".into(), merge_policy: MergePolicy::Manual },
    )
    .await?;
    let started = Instant::now();
    let mut tx = fte::db::begin_tenant(&pool, tenant.id).await?;
    sqlx::query(
        "WITH c AS (
            INSERT INTO customers (id, tenant_id) SELECT gen_random_uuid(), $1 FROM generate_series(1, $2) RETURNING id)
         INSERT INTO conversations (id, tenant_id, customer_id, state, state_version, initial_channel, current_channel, last_message_at)
         SELECT gen_random_uuid(), $1, c.id, 'awaiting_customer', 2, 'email', 'email', now() FROM c",
    )
    .bind(tenant.id)
    .bind(n as i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "WITH ids AS (SELECT id, gen_random_uuid() AS m, gen_random_uuid() AS r FROM conversations)
         INSERT INTO conversation_events (tenant_id, conversation_id, seq, event_type, payload, state_before, state_after, state_version)
         SELECT $1, id, 1, 'customer_message', jsonb_build_object('type', 'customer_message', 'message_id', m, 'channel', 'email'), 'idle', 'active', 1 FROM ids
         UNION ALL
         SELECT $1, id, 2, 'agent_replied', jsonb_build_object('type', 'agent_replied', 'reply_id', r, 'in_reply_to', m), 'active', 'awaiting_customer', 2 FROM ids",
    )
    .bind(tenant.id)
    .execute(&mut *tx)
    .await?;
    let customers: Vec<Uuid> = sqlx::query_scalar("SELECT customer_id FROM conversations").fetch_all(&mut *tx).await?;
    tx.commit().await?;
    println!("seeded {n} conversations in {:.1}s", started.elapsed().as_secs_f64());

    let config = RuntimeConfig {
        supervisor: fte::actors::SupervisorConfig {
            max_active: n + 1,
            idle_timeout: Duration::from_secs(3600),
            tick: Duration::from_secs(3600),
        },
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::start(pool.clone(), Arc::new(EchoBrain), config).await?;
    let before = rss_bytes();
    let started = Instant::now();
    // Bring every actor up (spawn + rehydrate), as many at a time as the
    // pool has connections, so the timings are not queueing for one.
    let mut joins = tokio::task::JoinSet::new();
    for chunk in customers.chunks(n.div_ceil(CONCURRENCY).max(1)) {
        let rt = Arc::clone(&runtime);
        let chunk = chunk.to_vec();
        let tenant = tenant.id;
        joins.spawn(async move {
            for c in chunk {
                let (_, state) = rt.inspect(tenant, CustomerId::from_uuid(c)).await.map_err(|e| e.to_string())?;
                if state.version != 2 {
                    return Err(format!("customer {c} rehydrated at version {}", state.version));
                }
            }
            Ok::<(), String>(())
        });
    }
    while let Some(done) = joins.join_next().await {
        done??;
    }
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes();
    let stats = runtime.stats();
    println!("resident actors:            {}", stats.resident);
    println!(
        "wall time to make resident: {:.2}s ({:.1} µs per actor, {CONCURRENCY} concurrent)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "spawn + rehydrate per actor: p50 {:.2} ms, p95 {:.2} ms (last 4096)",
        stats.rehydration_p50_ms, stats.rehydration_p95_ms
    );
    println!("RSS before: {:.1} MiB, after: {:.1} MiB", before as f64 / 1048576.0, after as f64 / 1048576.0);
    println!("RSS per resident actor:     {:.0} bytes", (after.saturating_sub(before)) as f64 / n as f64);
    runtime.shutdown().await;
    Ok(())
}
