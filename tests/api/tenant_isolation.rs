//! Tenant isolation is enforced by PostgreSQL, not by the queries: under
//! tenant A's `app.tenant_id`, no statement sees, changes or creates
//! tenant B's rows, even one that names them by id; with no tenant set,
//! nothing is visible at all. That holds for knowledge-base search too when
//! its keyword match runs on the full-text index, which holds every
//! tenant's lexemes, before the tenant filter.

use crate::common::{TestDb, index_scans, index_scans_after, with_database};
use fte::crm::MergePolicy;
use fte::db::begin_tenant;
use fte::domain::TenantId;
use fte::kb::{self, Article, Embedder, HashingEmbedder, KbSearch};
use sqlx::{Connection, PgPool};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Writes one row into every tenant-scoped table; returns each table's row
/// id as text.
async fn seed(pool: &PgPool, tenant: TenantId) -> BTreeMap<&'static str, String> {
    let mut tx = begin_tenant(pool, tenant).await.unwrap();
    let customer = Uuid::now_v7();
    let other_customer = Uuid::now_v7();
    let conversation = Uuid::now_v7();
    let inbound = Uuid::now_v7();
    let ticket = Uuid::now_v7();
    let (lo, hi) = if customer < other_customer { (customer, other_customer) } else { (other_customer, customer) };
    let mut ids = BTreeMap::new();
    ids.insert("tenants", tenant.to_string());
    let statements: Vec<(&'static str, String, &str)> = vec![
        ("customers", customer.to_string(), "INSERT INTO customers (id, tenant_id) VALUES ({id}, {tenant})"),
        ("", other_customer.to_string(), "INSERT INTO customers (id, tenant_id) VALUES ({id}, {tenant})"),
        (
            "customer_identifiers",
            Uuid::now_v7().to_string(),
            "INSERT INTO customer_identifiers (id, tenant_id, customer_id, kind, value) VALUES ({id}, {tenant}, {customer}, 'email', 'same@example.com')",
        ),
        (
            "customer_merge_candidates",
            Uuid::now_v7().to_string(),
            "INSERT INTO customer_merge_candidates (id, tenant_id, customer_a, customer_b, evidence) VALUES ({id}, {tenant}, {lo}, {hi}, '{}')",
        ),
        (
            "conversations",
            conversation.to_string(),
            "INSERT INTO conversations (id, tenant_id, customer_id, initial_channel, current_channel) VALUES ({id}, {tenant}, {customer}, 'email', 'email')",
        ),
        (
            "conversation_events",
            String::new(),
            "INSERT INTO conversation_events (tenant_id, conversation_id, seq, event_type, state_before, state_after, state_version) VALUES ({tenant}, {conversation}, 1, 'x', 'idle', 'active', 1) RETURNING id",
        ),
        (
            "conversation_snapshots",
            conversation.to_string(),
            "INSERT INTO conversation_snapshots (tenant_id, conversation_id, seq, state) VALUES ({tenant}, {id}, 1, '{}')",
        ),
        (
            "messages",
            inbound.to_string(),
            "INSERT INTO messages (id, tenant_id, conversation_id, customer_id, channel, direction, author, body, external_id, delivery_status) VALUES ({id}, {tenant}, {conversation}, {customer}, 'email', 'inbound', 'customer', 'hello', 'ext-1', 'received')",
        ),
        (
            "tickets",
            ticket.to_string(),
            "INSERT INTO tickets (id, tenant_id, customer_id, conversation_id, source_channel) VALUES ({id}, {tenant}, {customer}, {conversation}, 'email')",
        ),
        (
            "knowledge_base",
            Uuid::now_v7().to_string(),
            "INSERT INTO knowledge_base (id, tenant_id, document, title, chunk_index, content, content_hash, embedder, embedding) VALUES ({id}, {tenant}, 'doc.md', 'Doc', 0, 'content', 'h', 'test', array_fill(0.1::real, ARRAY[1536])::vector)",
        ),
        (
            "agent_metrics",
            String::new(),
            "INSERT INTO agent_metrics (tenant_id, conversation_id, channel, metric_name, metric_value) VALUES ({tenant}, {conversation}, 'email', 'latency_ms', 12) RETURNING id",
        ),
        (
            "escalations",
            Uuid::now_v7().to_string(),
            "INSERT INTO escalations (id, tenant_id, conversation_id, customer_id, ticket_id, reason) VALUES ({id}, {tenant}, {conversation}, {customer}, {ticket}, 'pricing_inquiry')",
        ),
        (
            "approvals",
            Uuid::now_v7().to_string(),
            "INSERT INTO approvals (id, tenant_id, conversation_id, inbound_message, draft, confidence) VALUES ({id}, {tenant}, {conversation}, {inbound}, 'draft', 0.5)",
        ),
        (
            "outbox",
            String::new(),
            "INSERT INTO outbox (tenant_id, topic, key, payload, message_id) VALUES ({tenant}, 'fte.channels.email.outbound', 'k', '{}', {inbound}) RETURNING id",
        ),
        (
            "audit_log",
            String::new(),
            "INSERT INTO audit_log (tenant_id, actor, action, target_type) VALUES ({tenant}, 'test', 'seed', 'tenant') RETURNING id",
        ),
        (
            "api_keys",
            Uuid::now_v7().to_string(),
            "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role) VALUES ({id}, {tenant}, 'k', {key}, 'hash', 'admin')",
        ),
    ];
    for (table, id, sql) in statements {
        let params = serde_json::json!({
            "id": if id.is_empty() { Uuid::nil().to_string() } else { id.clone() },
            "tenant": tenant, "customer": customer, "conversation": conversation,
            "inbound": inbound, "ticket": ticket, "lo": lo, "hi": hi,
            "key": format!("key-{}", Uuid::new_v4().simple()),
        });
        // Every statement takes one JSON parameter; {name} reads a field.
        let mut sql = sql.to_string();
        for field in ["id", "tenant", "customer", "conversation", "inbound", "ticket", "lo", "hi"] {
            sql = sql.replace(&format!("{{{field}}}"), &format!("(($1::jsonb)->>'{field}')::uuid"));
        }
        sql = sql.replace("{key}", "(($1::jsonb)->>'key')");
        let row_id = if sql.contains("RETURNING") {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .bind(&params)
                .fetch_one(&mut *tx)
                .await
                .map(|v| v.to_string())
        } else {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&params).execute(&mut *tx).await.map(|_| id.clone())
        };
        let row_id = row_id.unwrap_or_else(|e| panic!("seed {table}: {e}"));
        if !table.is_empty() {
            ids.insert(table, row_id);
        }
    }
    tx.commit().await.unwrap();
    ids
}

/// Each table's key column and its type, to select a row by id.
fn key_of(table: &str) -> (&'static str, &'static str) {
    match table {
        "conversation_events" | "agent_metrics" | "outbox" | "audit_log" => ("id", "bigint"),
        "conversation_snapshots" => ("conversation_id", "uuid"),
        _ => ("id", "uuid"),
    }
}

#[tokio::test]
async fn tenant_a_never_sees_tenant_b_rows() {
    let db = TestDb::new().await;
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let b = db.tenant("tenant-b", MergePolicy::Manual).await.id;
    let a_rows = seed(&db.pool, a).await;
    let b_rows = seed(&db.pool, b).await;
    assert_eq!(a_rows.len(), 16, "every tenant-scoped table seeded");

    let mut tx = begin_tenant(&db.pool, a).await.unwrap();
    for (table, b_id) in &b_rows {
        let (key, ty) = key_of(table);
        let tenant_col = if *table == "tenants" { "id" } else { "tenant_id" };
        // Asking for B's rows by tenant.
        let by_tenant: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table} WHERE {tenant_col} = $1")))
                .bind(b)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(by_tenant, 0, "{table}: B's rows visible under A");
        // Asking for one of B's rows by its id.
        let by_id: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table} WHERE {key} = $1::{ty}")))
                .bind(b_id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(by_id, 0, "{table}: B's row {b_id} visible under A by id");
        // A sees exactly its own.
        let all: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let expected = if *table == "customers" { 2 } else { 1 };
        assert_eq!(all, expected, "{table}: A should see only its own rows");
        let own: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table} WHERE {key} = $1::{ty}")))
                .bind(&a_rows[table])
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(own, 1, "{table}: A's own row by id");
    }
    // Changing B's rows by id touches nothing (UPDATE and DELETE see no row).
    for (table, b_id) in &b_rows {
        if matches!(*table, "audit_log" | "conversation_events") {
            continue; // append-only: their triggers refuse any change anyway
        }
        let (key, ty) = key_of(table);
        let deleted = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE {key} = $1::{ty}")))
            .bind(b_id)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        assert_eq!(deleted.rows_affected(), 0, "{table}: deleted B's row under A");
    }
    let updated = sqlx::query("UPDATE customers SET display_name = 'hijacked' WHERE id = $1::uuid")
        .bind(&b_rows["customers"])
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0);
    tx.rollback().await.unwrap();

    // Writing a row for B under A's setting is refused.
    let mut tx = begin_tenant(&db.pool, a).await.unwrap();
    let err = sqlx::query("INSERT INTO customers (id, tenant_id) VALUES ($1, $2)")
        .bind(Uuid::now_v7())
        .bind(b)
        .execute(&mut *tx)
        .await
        .expect_err("insert for another tenant");
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    // Moving A's own row to B is refused too.
    let mut tx = begin_tenant(&db.pool, a).await.unwrap();
    let err = sqlx::query("UPDATE customers SET tenant_id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .expect_err("move a row to another tenant");
    assert!(err.to_string().contains("row-level security") || err.to_string().contains("foreign key"), "{err}");
    tx.rollback().await.unwrap();

    // B still has all its rows.
    let mut tx = begin_tenant(&db.pool, b).await.unwrap();
    let name: Option<String> = sqlx::query_scalar("SELECT display_name FROM customers WHERE id = $1::uuid")
        .bind(&b_rows["customers"])
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(name, None);
}

#[tokio::test]
async fn without_a_tenant_setting_nothing_is_visible() {
    let db = TestDb::new().await;
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let rows = seed(&db.pool, a).await;
    for table in rows.keys() {
        let visible: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(visible, 0, "{table}: rows visible with no tenant set");
    }
    // A malformed setting is an error, not a match.
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', 'not-a-uuid', true)").execute(&mut *tx).await.unwrap();
    assert!(sqlx::query("SELECT count(*) FROM customers").execute(&mut *tx).await.is_err());
}

#[tokio::test]
async fn the_tenant_setting_does_not_leak_to_the_next_transaction_on_a_connection() {
    let db = TestDb::new().await;
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    seed(&db.pool, a).await;
    let mut conn = db.pool.acquire().await.unwrap();
    {
        use sqlx::Connection;
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(a.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(&mut *tx).await.unwrap();
        assert_eq!(n, 2);
        tx.commit().await.unwrap();
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(n, 0, "the tenant setting outlived its transaction");
}

/// The search path with the keyword match on the full-text index (as the
/// development stack and a production database set it up: `ts_match_vq`
/// leakproof): the index finds tenant A's chunk for tenant B's query, and
/// the policy must still drop it, in the search, in the phrase check and in
/// a bare match.
#[tokio::test]
async fn search_through_the_full_text_index_never_returns_another_tenants_chunks() {
    let db = TestDb::new().await;
    let superuser = std::env::var("FTE_PG_SUPERUSER_URL").expect("FTE_PG_SUPERUSER_URL (make test sets it)");
    let mut admin = sqlx::PgConnection::connect(&with_database(&superuser, &db.name)).await.unwrap();
    sqlx::query("ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF")
        .execute(&mut admin)
        .await
        .unwrap();
    assert!(kb::keyword_index_usable(&db.pool).await.unwrap());
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let b = db.tenant("tenant-b", MergePolicy::Manual).await.id;
    let e = HashingEmbedder::new(384);
    let secret = Article {
        document: "vault.md".into(),
        markdown: "# Vault codes\n\n## Rotation\n\nThe zanzibar vault code rotates every night.".into(),
    };
    kb::ingest(&db.pool, a, &e, &[secret]).await.unwrap();
    // Both tenants with chunks of their own: for the planner a tenant then
    // holds half the table, and a rare word's index entries are fewer.
    for tenant in [a, b] {
        fill(&db, tenant, e.name(), 2000).await;
    }
    let query = "when does the zanzibar vault code rotate";

    let search = KbSearch::new();
    let before = index_scans(&db, "knowledge_base_search_text").await;
    // A pool of its own: closing it ends the backend, which reports its
    // index statistics.
    let pool = PgPool::connect(&db.url).await.unwrap();
    let hits = search.search(&pool, b, &e, query, None, 5).await.unwrap().hits;
    pool.close().await;
    // B's own chunks may come back (by cosine); A's never.
    assert!(hits.iter().all(|h| h.document.starts_with("filler-") && !h.content.contains("zanzibar")), "{hits:?}");
    let after = index_scans_after(&db, "knowledge_base_search_text", before).await;
    assert!(after > before, "the keyword match did not use the full-text index ({before} → {after} scans)");
    assert!(!search.mentions(&db.pool, b, &e, "zanzibar vault").await.unwrap());
    let mut tx = begin_tenant(&db.pool, b).await.unwrap();
    let matched: i64 =
        sqlx::query_scalar("SELECT count(*) FROM knowledge_base WHERE search_text @@ to_tsquery('simple', 'zanzibar')")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(matched, 0);
    tx.rollback().await.unwrap();

    // The same search finds the chunk for its own tenant.
    let own = search.search(&db.pool, a, &e, query, None, 5).await.unwrap().hits;
    assert_eq!(own.first().map(|h| h.document.as_str()), Some("vault.md"), "{own:?}");
}

/// `n` unrelated chunks of `embedder` for `tenant`, then the table analysed.
async fn fill(db: &TestDb, tenant: TenantId, embedder: &str, n: i32) {
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    sqlx::query(
        "INSERT INTO knowledge_base (id, tenant_id, document, title, chunk_index, content, content_hash, embedder,
                                     embedding, dims)
         SELECT gen_random_uuid(), app_current_tenant(), 'filler-' || i || '.md', 'Filler', 0,
                'invoices and payments ' || i, 'h', $2,
                (array_fill(0.05::real, ARRAY[384]) || array_fill(0::real, ARRAY[1152]))::vector, 384
           FROM generate_series(1, $1) i",
    )
    .bind(n)
    .bind(embedder)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE knowledge_base").execute(&db.pool).await.unwrap();
}
