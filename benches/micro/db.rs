//! The groups against PostgreSQL: a database of their own (created from
//! `DATABASE_URL`, migrated, dropped at the end, as `resident_actors`
//! does), one tenant, and each group's fixtures made outside the measured
//! time. Fewer, flat samples than the pure groups: a turn takes
//! milliseconds.

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, measurement::WallTime};
use fte::brain::{AgentRecord, EchoBrain};
use fte::conversation::store::{AgentTurn, CommitOutcome, NewInbound, NewReply, TurnRecord, commit_turn};
use fte::conversation::{Author, ConversationState, Event, transition};
use fte::crm::{MergePolicy, NewTenant, create_tenant, resolve_customer};
use fte::domain::{Channel, ConversationId, CustomerId, EmailAddress, Identifier, InboundMessage, MessageId, TenantId};
use fte::kb::{HashingEmbedder, KbSearch, ingest, read_articles};
use fte::runtime::{Runtime, RuntimeConfig};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Creates the bench's database, runs the groups, drops the database (also
/// when a group panics).
pub fn run(c: &mut Criterion, base: &str) -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let name = format!("fte_bench_micro_{}", Uuid::new_v4().simple());
    let url = match base.rsplit_once('/') {
        Some((head, _)) => format!("{head}/{name}"),
        None => return Err("DATABASE_URL has no database name".into()),
    };
    let mut admin = rt.block_on(PgConnection::connect(base))?;
    rt.block_on(sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin))?;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| groups(c, &rt, &url)));
    rt.block_on(sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&mut admin))?;
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn groups(c: &mut Criterion, rt: &tokio::runtime::Runtime, url: &str) -> Result<(), BoxError> {
    let pool = rt.block_on(PgPoolOptions::new().max_connections(8).connect(url))?;
    rt.block_on(fte::db::migrate(&pool))?;
    let tenant = rt
        .block_on(create_tenant(
            &pool,
            &NewTenant { slug: "bench".into(), name: "Bench".into(), merge_policy: MergePolicy::Manual },
        ))?
        .id;
    actor_round_trip(c, rt, &pool, tenant)?;
    turn_persistence(c, rt, &pool, tenant)?;
    kb_search(c, rt, &pool, tenant)?;
    rt.block_on(pool.close());
    Ok(())
}

fn db_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group
}

fn email(address: &str) -> Identifier {
    Identifier::Email(EmailAddress::parse(address).expect("a valid address"))
}

const QUESTION: &str = "Hi, how do I download last month's invoice as a PDF? Our accountant needs it by Friday.";

fn inbound(tenant: TenantId, from: &str, external_id: String) -> InboundMessage {
    InboundMessage {
        tenant_id: tenant,
        channel: Channel::Email,
        external_id,
        sender: email(from),
        identifiers: vec![],
        display_name: Some("Marisol Ortega".into()),
        subject: Some("Invoice as PDF".into()),
        body: QUESTION.into(),
        received_at: chrono::Utc::now(),
        metadata: serde_json::Value::Null,
    }
}

/// `inspect`: a message to a resident actor and its answer, through the
/// supervisor. `submit_follow_up`: a whole turn of a resident customer
/// (identity lookup, bus, actor, echo brain, commit). `submit_first_turn`:
/// the same for a new customer each time (identity created, actor spawned).
fn actor_round_trip(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    pool: &PgPool,
    tenant: TenantId,
) -> Result<(), BoxError> {
    let runtime = rt.block_on(Runtime::start(pool.clone(), Arc::new(EchoBrain), RuntimeConfig::default()))?;
    let resident = "marisol@example.com";
    rt.block_on(runtime.submit(inbound(tenant, resident, "seed".into())))?;
    let customer = rt.block_on(resolve_customer(pool, tenant, &[email(resident)], None))?.customer_id;
    let (_, state) = rt.block_on(runtime.inspect(tenant, customer))?;
    assert_eq!(state.version, 2, "the seed turn is committed");

    let mut group = db_group(c, "actor_round_trip");
    group.bench_function("inspect", |b| b.to_async(rt).iter(|| runtime.inspect(tenant, customer)));
    let mut n = 0u64;
    group.bench_function("submit_follow_up", |b| {
        b.to_async(rt).iter(|| {
            n += 1;
            let message = inbound(tenant, resident, format!("follow-up-{n}"));
            let runtime = &runtime;
            async move { runtime.submit(message).await.expect("the turn commits") }
        })
    });
    group.bench_function("submit_first_turn", |b| {
        b.to_async(rt).iter(|| {
            let message = inbound(tenant, &format!("new-{}@example.com", Uuid::new_v4().simple()), "first".into());
            let runtime = &runtime;
            async move { runtime.submit(message).await.expect("the turn commits") }
        })
    });
    group.finish();
    rt.block_on(runtime.shutdown());
    Ok(())
}

/// The record a first turn leaves: a new conversation, the customer's
/// message, `CustomerMessage` + `AgentReplied`, the AI's reply (and its
/// outbox row), the metrics outbox row and the agent's turn record.
fn first_turn(tenant: TenantId, customer: CustomerId, n: u64) -> TurnRecord {
    let before = ConversationState::new();
    let message_id = MessageId::new();
    let reply_id = MessageId::new();
    let sender = email(&format!("c{n}@example.com"));
    let events = vec![
        Event::CustomerMessage { message_id, channel: Channel::Email },
        Event::AgentReplied { reply_id, in_reply_to: message_id },
    ];
    let after = events.iter().fold(before.clone(), |s, e| transition(&s, e.clone()).expect("accepted").0);
    TurnRecord {
        tenant,
        customer,
        conversation: ConversationId::new(),
        new_conversation: true,
        before,
        after,
        events,
        inbound: Some(NewInbound {
            id: message_id,
            channel: Channel::Email,
            external_id: format!("<{}@mail.example.com>", Uuid::new_v4().simple()),
            body: QUESTION.into(),
            subject: Some("Invoice as PDF".into()),
            sender: sender.clone(),
            received_at: chrono::Utc::now(),
            metadata: serde_json::json!({ "thread_id": "18c2f0a9b7e4d3c1" }),
        }),
        replies: vec![NewReply {
            id: reply_id,
            channel: Channel::Email,
            author: Author::Ai,
            body: "Dear Marisol,\n\nYou can download any invoice as a PDF from Settings > Billing > Invoices: \
                   select the billing period, then Download PDF.\n\nBest regards,\nRobin"
                .into(),
            in_reply_to: Some(message_id),
            recipient: Some(sender),
            latency_ms: Some(12),
            tokens_used: Some(0),
        }],
        escalation: None,
        approval: None,
        agent: Some(AgentTurn {
            brain: "echo",
            decision: "reply",
            reason: None,
            confidence: 1.0,
            latency_ms: 12,
            record: AgentRecord::default(),
        }),
        close_escalations: false,
        claim_escalation: None,
        decided_approval: None,
        snapshot_every: 100,
    }
}

/// Inserts `n` customers of `tenant` at once.
async fn new_customers(pool: &PgPool, tenant: TenantId, n: u64) -> Result<Vec<CustomerId>, sqlx::Error> {
    let mut tx = fte::db::begin_tenant(pool, tenant).await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO customers (id, tenant_id) SELECT gen_random_uuid(), $1 FROM generate_series(1, $2) RETURNING id",
    )
    .bind(tenant)
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids.into_iter().map(CustomerId::from_uuid).collect())
}

fn turn_persistence(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    pool: &PgPool,
    tenant: TenantId,
) -> Result<(), BoxError> {
    let mut group = db_group(c, "turn_persistence");
    group.bench_function("commit_first_turn", |b| {
        b.to_async(rt).iter_custom(|iters| async move {
            // Fresh customers and their records, outside the timing.
            let customers = new_customers(pool, tenant, iters).await.expect("customers inserted");
            let records: Vec<TurnRecord> =
                customers.iter().enumerate().map(|(i, c)| first_turn(tenant, *c, i as u64)).collect();
            let started = Instant::now();
            for record in &records {
                match commit_turn(pool, record).await {
                    Ok(CommitOutcome::Committed) => {}
                    other => panic!("commit_turn: {other:?}"),
                }
            }
            started.elapsed()
        })
    });
    group.finish();
    Ok(())
}

/// Questions like the sample tickets', against the sample company's 30
/// articles.
const QUERIES: [(&str, &str); 4] = [
    ("invoice_pdf", "How do I download last month's invoice as a PDF for our accountant?"),
    ("slack_integration", "Our Slack integration stopped posting notifications after we renamed the channel"),
    ("csv_export", "Can I export a report to CSV with a custom date range?"),
    ("api_rate_limit", "We keep hitting 429 errors from the API, what are the rate limits and can we raise them?"),
];

fn kb_search(c: &mut Criterion, rt: &tokio::runtime::Runtime, pool: &PgPool, tenant: TenantId) -> Result<(), BoxError> {
    let embedder = HashingEmbedder::default();
    let articles = read_articles(&Path::new(env!("CARGO_MANIFEST_DIR")).join("context/product-docs"))?;
    let report = rt.block_on(ingest(pool, tenant, &embedder, &articles))?;
    println!("kb_search: {} articles, {} chunks (hashing embedder)", report.documents, report.chunks);
    let search = KbSearch::new();
    for (_, query) in QUERIES {
        let found = rt.block_on(search.search(pool, tenant, &embedder, query, None, fte::kb::MAX_RESULTS))?;
        assert!(!found.hits.is_empty(), "{query:?} finds something");
    }
    let mut group = db_group(c, "kb_search");
    for (name, query) in QUERIES {
        group.bench_with_input(BenchmarkId::from_parameter(name), query, |b, query| {
            b.to_async(rt).iter(|| async {
                search.search(pool, tenant, &embedder, query, None, fte::kb::MAX_RESULTS).await.expect("search")
            })
        });
    }
    group.finish();
    Ok(())
}
