//! Data retention against the real database: rows past a tenant's
//! `retention_days` go from every table that holds content, children
//! before parents (whole conversations once closed and quiet past
//! retention), while recent rows, what a live conversation still needs,
//! unpublished outbox rows and another tenant's rows within its own
//! retention stay; a live conversation rebuilds and answers after its old
//! rows are gone; the append-only tables still refuse ad-hoc changes (also
//! dressed up as the purge); one run at a time across processes (advisory
//! lock); every run that deleted something is audited per tenant and
//! counted in `/metrics`; `serve` runs the job; admins read and set a
//! tenant's retention.

use crate::common::{TestDb, email, runtime_with, with_database};
use fte::auth::{Role, create_key};
use fte::brain::EchoBrain;
use fte::crm::{MergePolicy, resolve_customer};
use fte::db::begin_tenant;
use fte::domain::{EmailAddress, Identifier, TenantId, TicketMessage};
use fte::metrics::{Gauges, Metrics};
use fte::runtime::RuntimeConfig;
use fte::runtime::retention::{LOCK_KEY, Purged, Retention, RunOutcome};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

type Tx = Transaction<'static, Postgres>;

/// A tenant keeping `days` of content.
async fn tenant_keeping(db: &TestDb, slug: &str, days: i32) -> TenantId {
    let tenant = db.tenant(slug, MergePolicy::Manual).await.id;
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    sqlx::query("UPDATE tenants SET retention_days = $1").bind(days).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    tenant
}

/// `now() - days`, in SQL.
const AGO: &str = "now() - make_interval(secs => $1::float8 * 86400)";

async fn customer(tx: &mut Tx, tenant: TenantId) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO customers (id, tenant_id) VALUES ($1, $2)")
        .bind(id)
        .bind(tenant)
        .execute(&mut **tx)
        .await
        .unwrap();
    id
}

/// A conversation in `state` at `version`, last active `idle` days ago.
async fn conversation(tx: &mut Tx, tenant: TenantId, customer: Uuid, state: &str, version: i64, idle: f64) -> Uuid {
    let id = Uuid::now_v7();
    let sql = format!(
        "INSERT INTO conversations (id, tenant_id, customer_id, state, state_version, initial_channel, current_channel,
                                    opened_at, updated_at, last_message_at, resolved_at)
         VALUES ($2, $3, $4, $5, $6, 'email', 'email', {AGO} - interval '1 day', {AGO}, {AGO},
                 CASE WHEN $5 = 'resolved' THEN {AGO} END)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(idle)
        .bind(id)
        .bind(tenant)
        .bind(customer)
        .bind(state)
        .bind(version)
        .execute(&mut **tx)
        .await
        .unwrap();
    id
}

async fn event(tx: &mut Tx, tenant: TenantId, conversation: Uuid, seq: i64, age: f64) {
    let sql = format!(
        "INSERT INTO conversation_events (tenant_id, conversation_id, seq, event_type, state_before, state_after,
                                          state_version, created_at)
         VALUES ($2, $3, $4, 'test', 'active', 'active', $4, {AGO})"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(age)
        .bind(tenant)
        .bind(conversation)
        .bind(seq)
        .execute(&mut **tx)
        .await
        .unwrap();
}

async fn snapshot(tx: &mut Tx, tenant: TenantId, conversation: Uuid, seq: i64, age: f64) {
    let sql = format!(
        "INSERT INTO conversation_snapshots (tenant_id, conversation_id, seq, state, created_at)
         VALUES ($2, $3, $4, '{{}}', {AGO})"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(age)
        .bind(tenant)
        .bind(conversation)
        .bind(seq)
        .execute(&mut **tx)
        .await
        .unwrap();
}

/// A customer message (`reply_to` None) or a reply to one.
#[allow(clippy::too_many_arguments)]
async fn message(
    tx: &mut Tx,
    tenant: TenantId,
    conversation: Uuid,
    customer: Uuid,
    channel: &str,
    reply_to: Option<Uuid>,
    status: &str,
    external_id: Option<&str>,
    age: f64,
) -> Uuid {
    let id = Uuid::now_v7();
    let (direction, author) = if reply_to.is_some() { ("outbound", "ai") } else { ("inbound", "customer") };
    let sql = format!(
        "INSERT INTO messages (id, tenant_id, conversation_id, customer_id, channel, direction, author, body,
                               external_id, in_reply_to, delivery_status, created_at)
         VALUES ($2, $3, $4, $5, $6, $7, $8, 'some private text', $9, $10, $11, {AGO})"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(age)
        .bind(id)
        .bind(tenant)
        .bind(conversation)
        .bind(customer)
        .bind(channel)
        .bind(direction)
        .bind(author)
        .bind(external_id)
        .bind(reply_to)
        .bind(status)
        .execute(&mut **tx)
        .await
        .unwrap();
    id
}

async fn outbox(tx: &mut Tx, tenant: TenantId, message: Option<Uuid>, published: bool, age: f64) -> i64 {
    let sql = format!(
        "INSERT INTO outbox (tenant_id, topic, key, payload, message_id, created_at, published_at)
         VALUES ($2, 'fte.channels.email.outbound', 'k', '{{\"body\": \"some private text\"}}', $3, {AGO},
                 CASE WHEN $4 THEN {AGO} END)
         RETURNING id"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(age)
        .bind(tenant)
        .bind(message)
        .bind(published)
        .fetch_one(&mut **tx)
        .await
        .unwrap()
}

async fn ticket(tx: &mut Tx, tenant: TenantId, customer: Uuid, conversation: Uuid, status: &str, age: f64) -> Uuid {
    let id = Uuid::now_v7();
    let sql = format!(
        "INSERT INTO tickets (id, tenant_id, customer_id, conversation_id, source_channel, subject, status,
                              created_at, updated_at)
         VALUES ($2, $3, $4, $5, 'email', 'private subject', $6, {AGO}, {AGO})"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(age)
        .bind(id)
        .bind(tenant)
        .bind(customer)
        .bind(conversation)
        .bind(status)
        .execute(&mut **tx)
        .await
        .unwrap();
    id
}

async fn agent_turn(tx: &mut Tx, tenant: TenantId, conversation: Uuid, inbound: Uuid, ticket: Option<Uuid>, age: f64) {
    let sql = format!(
        "INSERT INTO agent_turns (id, tenant_id, conversation_id, inbound_message, ticket_id, brain, decision,
                                  confidence, created_at)
         VALUES ($2, $3, $4, $5, $6, 'local', 'reply', 0.9, {AGO})"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(age)
        .bind(Uuid::now_v7())
        .bind(tenant)
        .bind(conversation)
        .bind(inbound)
        .bind(ticket)
        .execute(&mut **tx)
        .await
        .unwrap();
}

/// Counts under the tenant's own row-level security.
async fn count(pool: &PgPool, tenant: TenantId, sql: &str) -> i64 {
    let mut tx = begin_tenant(pool, tenant).await.unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut *tx).await.unwrap()
}

async fn exists(pool: &PgPool, tenant: TenantId, table: &str, id: Uuid) -> bool {
    let mut tx = begin_tenant(pool, tenant).await.unwrap();
    let sql = format!("SELECT count(*) FROM {table} WHERE id = $1");
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&mut *tx).await.unwrap();
    n == 1
}

/// The seqs of a conversation's events, or of its snapshots.
async fn seqs(pool: &PgPool, tenant: TenantId, table: &str, conversation: Uuid) -> Vec<i64> {
    let mut tx = begin_tenant(pool, tenant).await.unwrap();
    let sql = format!("SELECT seq FROM {table} WHERE conversation_id = $1 ORDER BY seq");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(conversation).fetch_all(&mut *tx).await.unwrap()
}

/// (action, actor, after) of the tenant's retention audit entries.
async fn purge_audits(pool: &PgPool, tenant: TenantId) -> Vec<(String, String, Value)> {
    let mut tx = begin_tenant(pool, tenant).await.unwrap();
    sqlx::query_as("SELECT action, actor, after FROM audit_log WHERE action = 'retention.purge' ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

fn job(pool: &PgPool, batch: i32) -> (Retention, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    (Retention { pool: pool.clone(), metrics: Arc::clone(&metrics), batch }, metrics)
}

async fn run(job: &Retention) -> RunOutcome {
    let (_keep, stop) = tokio::sync::watch::channel(false);
    job.run_once(&stop).await.expect("retention run")
}

fn counts(purged: &Purged, tenant: TenantId) -> HashMap<String, u64> {
    purged.get(&tenant).map(|t| t.iter().map(|(k, v)| (k.clone(), *v)).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_past_retention_go_from_every_table_and_what_is_still_needed_stays() {
    let db = TestDb::new().await;
    let a = tenant_keeping(&db, "keeps-30-days", 30).await;
    let b = db.tenant("keeps-a-year", MergePolicy::Manual).await.id;
    let mut tx = begin_tenant(&db.pool, a).await.unwrap();
    let (x, y) = (customer(&mut tx, a).await, customer(&mut tx, a).await);

    // C1: resolved, quiet for 100 days: everything of it goes.
    let c1 = conversation(&mut tx, a, x, "resolved", 2, 100.0).await;
    event(&mut tx, a, c1, 1, 100.0).await;
    event(&mut tx, a, c1, 2, 100.0).await;
    snapshot(&mut tx, a, c1, 2, 100.0).await;
    let c1_in = message(&mut tx, a, c1, x, "email", None, "received", Some("c1-in"), 100.0).await;
    let c1_out = message(&mut tx, a, c1, x, "email", Some(c1_in), "delivered", None, 100.0).await;
    outbox(&mut tx, a, Some(c1_out), true, 100.0).await;
    let t1 = ticket(&mut tx, a, x, c1, "resolved", 100.0).await;
    agent_turn(&mut tx, a, c1, c1_in, Some(t1), 100.0).await;
    sqlx::query(
        "INSERT INTO approvals (id, tenant_id, conversation_id, inbound_message, draft, confidence, status, created_at, decided_at)
         VALUES ($1, $2, $3, $4, 'private draft', 0.5, 'approved', now() - interval '100 days', now() - interval '100 days')",
    )
    .bind(Uuid::now_v7())
    .bind(a)
    .bind(c1)
    .bind(c1_in)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO escalations (id, tenant_id, conversation_id, customer_id, ticket_id, reason, status, summary, created_at, resolved_at)
         VALUES ($1, $2, $3, $4, $5, 'refund_request', 'resolved', 'private summary', now() - interval '100 days', now() - interval '100 days')",
    )
    .bind(Uuid::now_v7())
    .bind(a)
    .bind(c1)
    .bind(x)
    .bind(t1)
    .execute(&mut *tx)
    .await
    .unwrap();

    // C2: open, two months old: its old rows go, what it still needs stays.
    let c2 = conversation(&mut tx, a, x, "active", 5, 0.0).await;
    for (seq, age) in [(1, 60.0), (2, 60.0), (3, 60.0), (4, 0.0), (5, 0.0)] {
        event(&mut tx, a, c2, seq, age).await;
    }
    snapshot(&mut tx, a, c2, 2, 60.0).await;
    snapshot(&mut tx, a, c2, 4, 0.0).await;
    let account = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO channel_accounts (id, tenant_id, provider, channel, address) VALUES ($1, $2, 'webform', 'webform', 'widget-retention')",
    )
    .bind(account)
    .bind(a)
    .execute(&mut *tx)
    .await
    .unwrap();
    let kept_submission = Uuid::now_v7();
    let gone_submission = Uuid::now_v7();
    for (id, age) in [(kept_submission, 70), (gone_submission, 40)] {
        sqlx::query(
            "INSERT INTO webform_submissions (id, tenant_id, account_id, email, created_at)
             VALUES ($1, $2, $3, 'someone@example.com', now() - make_interval(days => $4))",
        )
        .bind(id)
        .bind(a)
        .bind(account)
        .bind(age)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    // The newest (only) web-form message of C2: kept, and its submission with it.
    let webform_in =
        message(&mut tx, a, c2, x, "webform", None, "received", Some(&kept_submission.to_string()), 70.0).await;
    let old_in = message(&mut tx, a, c2, x, "email", None, "received", Some("c2-old"), 60.0).await;
    let old_out = message(&mut tx, a, c2, x, "email", Some(old_in), "delivered", None, 60.0).await;
    let old_outbox = outbox(&mut tx, a, Some(old_out), true, 60.0).await;
    agent_turn(&mut tx, a, c2, old_in, None, 60.0).await;
    let new_in = message(&mut tx, a, c2, x, "email", None, "received", Some("c2-new"), 0.0).await;
    let new_out = message(&mut tx, a, c2, x, "email", Some(new_in), "delivered", None, 0.0).await;
    let new_outbox = outbox(&mut tx, a, Some(new_out), true, 0.0).await;
    let unpublished = outbox(&mut tx, a, None, false, 60.0).await;
    let closed_ticket = ticket(&mut tx, a, x, c2, "closed", 60.0).await;
    let open_ticket = ticket(&mut tx, a, x, c2, "open", 60.0).await;

    // C3: resolved five days ago: all of it stays.
    let c3 = conversation(&mut tx, a, y, "resolved", 2, 5.0).await;
    event(&mut tx, a, c3, 1, 5.0).await;
    event(&mut tx, a, c3, 2, 5.0).await;
    let c3_in = message(&mut tx, a, c3, y, "email", None, "received", Some("c3-in"), 5.0).await;

    // C4: resolved and quiet for 100 days, but a reply of it was never
    // published: it stays, with that reply.
    let c4 = conversation(&mut tx, a, y, "resolved", 1, 100.0).await;
    event(&mut tx, a, c4, 1, 100.0).await;
    let c4_in = message(&mut tx, a, c4, y, "email", None, "received", Some("c4-in"), 100.0).await;
    let c4_out = message(&mut tx, a, c4, y, "email", Some(c4_in), "pending", None, 100.0).await;
    let c4_outbox = outbox(&mut tx, a, Some(c4_out), false, 100.0).await;

    // Intake and provider deliveries.
    for (external_id, age) in [("intake-old", 40), ("intake-new", 10)] {
        sqlx::query(
            "INSERT INTO inbound_intake (tenant_id, channel, external_id, message, stored_at)
             VALUES ($1, 'email', $2, '{\"body\": \"some private text\"}', now() - make_interval(days => $3))",
        )
        .bind(a)
        .bind(external_id)
        .bind(age)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    // Past retention (30 days) but within Pub/Sub's 31-day redelivery: stays.
    for (delivery, hours) in [("d-old", 40 * 24), ("d-dedup-window", 30 * 24 + 12), ("d-new", 10 * 24)] {
        sqlx::query(
            "INSERT INTO inbound_deliveries (provider, delivery_id, tenant_id, received_at)
             VALUES ('slack', $1, $2, now() - make_interval(hours => $3))",
        )
        .bind(delivery)
        .bind(a)
        .bind(hours)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    // The audit log is not purged, however old.
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor, action, target_type, created_at)
         VALUES ($1, 'someone', 'tenant.update', 'tenant', now() - interval '400 days')",
    )
    .bind(a)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Tenant B keeps a year: its 100-day-old closed conversation stays.
    let mut tx = begin_tenant(&db.pool, b).await.unwrap();
    let z = customer(&mut tx, b).await;
    let cb = conversation(&mut tx, b, z, "resolved", 1, 100.0).await;
    event(&mut tx, b, cb, 1, 100.0).await;
    let cb_in = message(&mut tx, b, cb, z, "email", None, "received", Some("cb-in"), 100.0).await;
    tx.commit().await.unwrap();

    // A small batch, so the purge takes several calls.
    let (retention, metrics) = job(&db.pool, 2);
    let RunOutcome::Done(purged) = run(&retention).await else { panic!("the lock is free") };

    let expected: HashMap<String, u64> = [
        ("conversations", 1),
        ("conversation_events", 4),
        ("conversation_snapshots", 1),
        ("messages", 4),
        ("outbox", 2),
        ("agent_turns", 2),
        ("approvals", 1),
        ("escalations", 1),
        ("tickets", 2),
        ("inbound_intake", 1),
        ("inbound_deliveries", 1),
        ("webform_submissions", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts(&purged, a), expected);
    assert!(!purged.contains_key(&b), "tenant B keeps a year: {purged:?}");

    // C1 and everything of it: gone.
    assert!(!exists(&db.pool, a, "conversations", c1).await);
    for table in
        ["conversation_events", "conversation_snapshots", "messages", "agent_turns", "approvals", "escalations"]
    {
        let n = count(&db.pool, a, &format!("SELECT count(*) FROM {table} WHERE conversation_id = '{c1}'")).await;
        assert_eq!(n, 0, "{table} of C1");
    }
    assert!(!exists(&db.pool, a, "tickets", t1).await);
    // C2: events before its snapshot past retention go; the rest stays.
    assert!(exists(&db.pool, a, "conversations", c2).await);
    assert_eq!(seqs(&db.pool, a, "conversation_events", c2).await, [3, 4, 5]);
    assert_eq!(seqs(&db.pool, a, "conversation_snapshots", c2).await, [2, 4]);
    for (id, kept) in [(webform_in, true), (old_in, false), (old_out, false), (new_in, true), (new_out, true)] {
        assert_eq!(exists(&db.pool, a, "messages", id).await, kept, "message {id}");
    }
    let outbox_ids: Vec<i64> = {
        let mut tx = begin_tenant(&db.pool, a).await.unwrap();
        sqlx::query_scalar("SELECT id FROM outbox ORDER BY id").fetch_all(&mut *tx).await.unwrap()
    };
    assert!(!outbox_ids.contains(&old_outbox));
    for id in [new_outbox, unpublished, c4_outbox] {
        assert!(outbox_ids.contains(&id), "outbox row {id} kept: {outbox_ids:?}");
    }
    assert!(!exists(&db.pool, a, "tickets", closed_ticket).await);
    assert!(exists(&db.pool, a, "tickets", open_ticket).await);
    assert_eq!(count(&db.pool, a, "SELECT count(*) FROM agent_turns").await, 0);
    // C3 (recent) and C4 (an unpublished reply) stay whole.
    assert!(exists(&db.pool, a, "conversations", c3).await && exists(&db.pool, a, "messages", c3_in).await);
    assert_eq!(seqs(&db.pool, a, "conversation_events", c3).await, [1, 2]);
    for id in [c4_in, c4_out] {
        assert!(exists(&db.pool, a, "messages", id).await);
    }
    assert!(exists(&db.pool, a, "conversations", c4).await);
    // Intake, deliveries, submissions.
    let left: Vec<String> = {
        let mut tx = begin_tenant(&db.pool, a).await.unwrap();
        sqlx::query_scalar("SELECT external_id FROM inbound_intake").fetch_all(&mut *tx).await.unwrap()
    };
    assert_eq!(left, ["intake-new"]);
    let left: Vec<String> = {
        let mut tx = begin_tenant(&db.pool, a).await.unwrap();
        sqlx::query_scalar("SELECT delivery_id FROM inbound_deliveries ORDER BY delivery_id")
            .fetch_all(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!(left, ["d-dedup-window", "d-new"]);
    assert!(exists(&db.pool, a, "webform_submissions", kept_submission).await);
    assert!(!exists(&db.pool, a, "webform_submissions", gone_submission).await);
    assert_eq!(count(&db.pool, a, "SELECT count(*) FROM audit_log WHERE action = 'tenant.update'").await, 1);
    // Tenant B: untouched.
    assert!(exists(&db.pool, b, "conversations", cb).await && exists(&db.pool, b, "messages", cb_in).await);

    // One audit entry for A (counts only), none for B; the metric by table.
    let audits = purge_audits(&db.pool, a).await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    let (_, actor, after) = &audits[0];
    assert_eq!(actor, "system:retention");
    assert_eq!(after["retention_days"], 30);
    assert_eq!(after["deleted"]["messages"], 4);
    assert_eq!(after["deleted"]["conversations"], 1);
    assert!(!after.to_string().contains("private"), "no content in the audit log: {after}");
    assert!(purge_audits(&db.pool, b).await.is_empty());
    let text = metrics.render(&Gauges::default(), &HashMap::new());
    assert!(text.contains(r#"fte_retention_purged_rows_total{table="messages"} 4"#), "{text}");
    assert!(text.contains(r#"fte_retention_purged_rows_total{table="conversations"} 1"#), "{text}");

    // Nothing is left to purge: the next run deletes nothing and audits nothing.
    assert_eq!(run(&retention).await, RunOutcome::Done(Purged::new()));
    assert_eq!(purge_audits(&db.pool, a).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_conversation_rebuilds_and_answers_after_its_old_rows_go() {
    let db = TestDb::new().await;
    let tenant = tenant_keeping(&db, "live", 30).await;
    let config = RuntimeConfig { snapshot_every: 2, ..RuntimeConfig::default() };
    let runtime = runtime_with(&db, Arc::new(EchoBrain), config).await;
    let address = "regular@example.com";
    let id = Identifier::Email(EmailAddress::parse(address).unwrap());
    let customer = resolve_customer(&db.pool, tenant, &[id], None).await.unwrap().customer_id;
    let mut last = None;
    for m in 0..3 {
        let message = email(tenant, address, &format!("live-{m}"), &format!("question {m}"));
        last = Some(runtime.submit_resolved(TicketMessage { customer_id: customer, message }).await.unwrap());
    }
    let last = last.unwrap();
    assert_eq!(last.state_version, 6);
    // Wait for the relay, then age everything by two months (as superuser:
    // the event log refuses updates) and mark the replies delivered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count(&db.pool, tenant, "SELECT count(*) FROM outbox WHERE published_at IS NULL").await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the relay publishes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let superuser = std::env::var("FTE_PG_SUPERUSER_URL").expect("FTE_PG_SUPERUSER_URL (make test sets it)");
    let mut su = PgConnection::connect(&with_database(&superuser, &db.name)).await.unwrap();
    for statement in [
        "SET session_replication_role = replica",
        "UPDATE conversation_events SET created_at = created_at - interval '60 days'",
        "UPDATE conversation_snapshots SET created_at = created_at - interval '60 days'",
        "UPDATE messages SET created_at = created_at - interval '60 days',
                delivery_status = CASE WHEN direction = 'outbound' THEN 'delivered' ELSE delivery_status END",
        "UPDATE outbox SET created_at = created_at - interval '60 days'",
        "UPDATE agent_turns SET created_at = created_at - interval '60 days'",
    ] {
        sqlx::query(statement).execute(&mut su).await.unwrap();
    }
    su.close().await.unwrap();
    runtime.passivate(customer).await.unwrap();

    let (retention, _) = job(&db.pool, 1000);
    let RunOutcome::Done(purged) = run(&retention).await else { panic!("the lock is free") };
    let purged = counts(&purged, tenant);
    assert_eq!(purged.get("conversation_events"), Some(&6), "{purged:?}");
    assert!(!purged.contains_key("conversations"), "{purged:?}");
    let conversation = last.conversation_id.as_uuid();
    assert_eq!(seqs(&db.pool, tenant, "conversation_snapshots", conversation).await, [6]);
    // The newest customer message stays (replies are addressed from it).
    assert_eq!(count(&db.pool, tenant, "SELECT count(*) FROM messages WHERE direction = 'inbound'").await, 1);
    assert_eq!(count(&db.pool, tenant, "SELECT count(*) FROM messages WHERE direction = 'outbound'").await, 0);

    // A new actor rebuilds the conversation from what is left, and answers.
    let (loaded, state) = runtime.restart(tenant, customer).await.unwrap();
    assert_eq!((loaded, state.version), (Some(last.conversation_id), 6));
    let message = email(tenant, address, "live-3", "question 3");
    let receipt = runtime.submit_resolved(TicketMessage { customer_id: customer, message }).await.unwrap();
    assert_eq!((receipt.conversation_id, receipt.state_version, receipt.replies.len()), (last.conversation_id, 8, 1));
    runtime.shutdown().await;
}

#[tokio::test]
async fn ad_hoc_changes_to_append_only_tables_still_fail() {
    let db = TestDb::new().await;
    let tenant = tenant_keeping(&db, "append-only", 1).await;
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let x = customer(&mut tx, tenant).await;
    let c = conversation(&mut tx, tenant, x, "resolved", 1, 0.0).await;
    event(&mut tx, tenant, c, 1, 400.0).await;
    sqlx::query("INSERT INTO audit_log (tenant_id, actor, action, target_type) VALUES ($1, 'test', 'x', 'tenant')")
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Functions that only look like the purge.
    for ddl in [
        r#"CREATE FUNCTION "x function app_retention_purge("(n integer) RETURNS void LANGUAGE plpgsql
           AS $$ BEGIN DELETE FROM conversation_events; END $$"#,
        "CREATE FUNCTION purge_wrapper() RETURNS void LANGUAGE plpgsql
           AS $$ BEGIN PERFORM * FROM app_retention_purge(10); DELETE FROM conversation_events; END $$",
    ] {
        sqlx::query(ddl).execute(&db.pool).await.unwrap();
    }
    let spoof = "DO $$ BEGIN DELETE FROM conversation_events /*\nPL/pgSQL function app_retention_purge(integer) line 1 at SQL statement\n*/; END $$";
    for (job, statement) in [
        (None, "DELETE FROM conversation_events"),
        (None, "UPDATE conversation_events SET event_type = 'rewritten'"),
        (None, "UPDATE audit_log SET actor = 'someone else'"),
        (None, "DELETE FROM audit_log"),
        (Some("retention"), "DELETE FROM conversation_events"),
        (Some("retention"), "UPDATE audit_log SET after = '{}'"),
        (Some("retention"), spoof),
        (None, spoof),
        (Some("retention"), r#"SELECT "x function app_retention_purge("(1)"#),
        (Some("retention"), "SELECT purge_wrapper()"),
    ] {
        let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
        if let Some(job) = job {
            sqlx::query("SELECT set_config('app.system_job', $1, true)").bind(job).execute(&mut *tx).await.unwrap();
        }
        let err = sqlx::query(statement).execute(&mut *tx).await.expect_err(statement);
        assert!(err.to_string().contains("append-only"), "{statement}: {err}");
        tx.rollback().await.unwrap();
    }
    // The purge itself runs only as the retention job.
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let err = sqlx::query("SELECT * FROM app_retention_purge(10)").execute(&mut *tx).await.expect_err("not the job");
    assert!(err.to_string().contains("retention system job"), "{err}");
    tx.rollback().await.unwrap();
    assert_eq!(count(&db.pool, tenant, "SELECT count(*) FROM conversation_events").await, 1);
    assert_eq!(count(&db.pool, tenant, "SELECT count(*) FROM audit_log WHERE actor = 'test'").await, 1);
}

/// A tenant keeping 30 days with one closed conversation quiet for 100.
async fn one_expired_conversation(db: &TestDb) -> (TenantId, Uuid) {
    let tenant = tenant_keeping(db, "expired", 30).await;
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let x = customer(&mut tx, tenant).await;
    let c = conversation(&mut tx, tenant, x, "resolved", 1, 100.0).await;
    event(&mut tx, tenant, c, 1, 100.0).await;
    message(&mut tx, tenant, c, x, "email", None, "received", Some("expired-in"), 100.0).await;
    tx.commit().await.unwrap();
    (tenant, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_at_a_time_across_processes() {
    let db = TestDb::new().await;
    let (tenant, c) = one_expired_conversation(&db).await;
    // Another process's run holds the lock: this one skips.
    let mut other = PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(LOCK_KEY).execute(&mut other).await.unwrap();
    let (first, _) = job(&db.pool, 10);
    assert_eq!(run(&first).await, RunOutcome::Busy);
    assert!(exists(&db.pool, tenant, "conversations", c).await);
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(LOCK_KEY).execute(&mut other).await.unwrap();

    // Two runs at once (separate pools, as two processes): one purges.
    let pool = crate::common::wide_pool(&db, 3).await;
    let (second, _) = job(&pool, 10);
    let (a, b) = tokio::join!(run(&first), run(&second));
    let purging: Vec<_> = [&a, &b].into_iter().filter(|o| matches!(o, RunOutcome::Done(p) if !p.is_empty())).collect();
    assert_eq!(purging.len(), 1, "{a:?} {b:?}");
    assert!(!exists(&db.pool, tenant, "conversations", c).await);
    assert_eq!(purge_audits(&db.pool, tenant).await.len(), 1);
    // The lock went with the run's connection: the next run takes it.
    assert_eq!(run(&first).await, RunOutcome::Done(Purged::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_job_and_counts_it_in_metrics() {
    let db = TestDb::new().await;
    let (tenant, c) = one_expired_conversation(&db).await;
    let settings = crate::common::serve_settings(&[
        "--database-url",
        &db.url,
        "--http-addr",
        "127.0.0.1:0",
        "--kafka-brokers",
        "",
        "--retention-interval-secs",
        "1",
    ]);
    let app = crate::common::start_app(&settings).await;
    // The audit entry is written when the run ends.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while purge_audits(&db.pool, tenant).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the retention job ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!exists(&db.pool, tenant, "conversations", c).await);
    let text = reqwest::get(format!("http://{}/metrics", app.addr)).await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"fte_retention_purged_rows_total{table="conversations"} 1"#), "{text}");
    // Later runs find nothing more: still one entry.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(purge_audits(&db.pool, tenant).await.len(), 1);
    app.stop.send(()).ok();
    app.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_and_set_a_tenants_retention() {
    let db = TestDb::new().await;
    let tenant = db.tenant("retention-admin", MergePolicy::Manual).await.id;
    let settings = crate::common::serve_settings(&[
        "--database-url",
        &db.url,
        "--http-addr",
        "127.0.0.1:0",
        "--kafka-brokers",
        "",
    ]);
    let app = crate::common::start_app(&settings).await;
    let (_, admin) = create_key(&db.pool, Some(tenant), Role::Admin, "admin").await.unwrap();
    let path = format!("/api/v1/tenants/{tenant}");
    let call = |method: Method, body: Option<Value>| {
        crate::common::api_call(app.addr, method, &path, Some(&admin), body, Some("retention-1"))
    };
    let (status, got) = call(Method::GET, None).await;
    assert_eq!((status, got["retention_days"].as_i64()), (200, Some(365)), "{got}");
    for days in [json!(0), json!(3651), json!(-5), json!(1_000_000_000_000_i64)] {
        let (status, problem) = call(Method::PATCH, Some(json!({ "retention_days": days }))).await;
        assert_eq!(status, 422, "{days}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "retention_days", "{problem}");
    }
    let (status, changed) = call(Method::PATCH, Some(json!({ "retention_days": 90 }))).await;
    assert_eq!((status, changed["retention_days"].as_i64()), (200, Some(90)), "{changed}");
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let days: i32 = sqlx::query_scalar("SELECT retention_days FROM tenants").fetch_one(&mut *tx).await.unwrap();
    let (action, before, after): (String, Value, Value) =
        sqlx::query_as("SELECT action, before, after FROM audit_log ORDER BY id").fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(days, 90);
    assert_eq!(
        (action.as_str(), &before["retention_days"], &after["retention_days"]),
        ("tenant.update", &json!(365), &json!(90))
    );
    app.stop.send(()).ok();
    app.task.await.unwrap().unwrap();
}
