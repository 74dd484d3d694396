//! The schema as PostgreSQL sees it: migrations apply to an empty
//! database, every tenant table has forced row-level security, the
//! service's role cannot bypass it, and the append-only tables refuse
//! UPDATE, DELETE and TRUNCATE.

use crate::common::TestDb;
use fte::crm::MergePolicy;
use uuid::Uuid;

const TENANT_TABLES: &[&str] = &[
    "tenants",
    "customers",
    "customer_identifiers",
    "customer_merge_candidates",
    "conversations",
    "conversation_events",
    "conversation_snapshots",
    "messages",
    "inbound_intake",
    "customer_erasures",
    "tickets",
    "knowledge_base",
    "kb_documents",
    "channel_accounts",
    "channel_cursors",
    "inbound_deliveries",
    "webform_submissions",
    "agent_metrics",
    "escalations",
    "approvals",
    "outbox",
    "audit_log",
    "api_keys",
    "agent_turns",
    "admin_sessions",
];

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_are_recorded() {
    let db = TestDb::new().await;
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(&db.pool).await.unwrap();
    assert_eq!(applied as usize, fte::db::MIGRATOR.iter().count());
    // Running them again is a no-op.
    fte::db::migrate(&db.pool).await.unwrap();
    let vector: String = sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(vector.starts_with("0.8"), "pgvector 0.8 expected, got {vector}");
}

#[tokio::test]
async fn every_tenant_table_forces_row_level_security() {
    let db = TestDb::new().await;
    for table in TENANT_TABLES {
        let (enabled, forced): (bool, bool) = sqlx::query_as(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1 AND relkind = 'r'",
        )
        .bind(table)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("table {table} missing: {e}"));
        assert!(enabled && forced, "{table}: RLS enabled={enabled} forced={forced}");
        let policies: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_policies WHERE tablename = $1")
            .bind(table)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(policies >= 1, "{table} has no policy");
        // api_keys: an admin key may be global (a CHECK allows NULL only for admins);
        // admin_sessions belong to a key (and are reachable only in the api_auth job).
        if !["tenants", "api_keys", "admin_sessions"].contains(table) {
            let nullable: String = sqlx::query_scalar(
                "SELECT is_nullable FROM information_schema.columns WHERE table_name = $1 AND column_name = 'tenant_id'",
            )
            .bind(table)
            .fetch_one(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{table} has no tenant_id: {e}"));
            assert_eq!(nullable, "NO", "{table}.tenant_id must be NOT NULL");
        }
    }
    // And no table in the schema was forgotten.
    let all: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r' AND relname <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for table in &all {
        assert!(TENANT_TABLES.contains(&table.as_str()), "table {table} is not covered by this test");
    }
}

#[tokio::test]
async fn the_service_role_is_subject_to_row_level_security() {
    let db = TestDb::new().await;
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!superuser && !bypass);
    fte::db::ensure_unprivileged_role(&db.pool).await.unwrap();
}

/// A tenant with one customer, conversation, event and audit row, so the
/// append-only tables have something to refuse to change.
async fn seed_history(db: &TestDb) -> fte::domain::TenantId {
    let tenant = db.tenant("append-only", MergePolicy::Manual).await;
    let mut tx = fte::db::begin_tenant(&db.pool, tenant.id).await.unwrap();
    let customer = Uuid::now_v7();
    let conversation = Uuid::now_v7();
    sqlx::query("INSERT INTO customers (id, tenant_id) VALUES ($1, $2)")
        .bind(customer)
        .bind(tenant.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO conversations (id, tenant_id, customer_id, initial_channel, current_channel) VALUES ($1, $2, $3, 'email', 'email')",
    )
    .bind(conversation)
    .bind(tenant.id)
    .bind(customer)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO conversation_events (tenant_id, conversation_id, seq, event_type, state_before, state_after, state_version)
         VALUES ($1, $2, 1, 'customer_message', 'idle', 'active', 1)",
    )
    .bind(tenant.id)
    .bind(conversation)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor, action, target_type) VALUES ($1, 'test', 'create', 'tenant')",
    )
    .bind(tenant.id)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    tenant.id
}

#[tokio::test]
async fn audit_log_and_conversation_events_reject_update_delete_truncate() {
    let db = TestDb::new().await;
    let tenant = seed_history(&db).await;
    for statement in [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE conversation_events SET event_type = 'rewritten'",
        "DELETE FROM conversation_events",
        "TRUNCATE conversation_events CASCADE",
    ] {
        let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
        let err = sqlx::query(statement).execute(&mut *tx).await.expect_err(statement);
        let msg = err.to_string();
        assert!(msg.contains("append-only"), "{statement}: unexpected error {msg}");
        tx.rollback().await.unwrap();
    }
    // The rows are still there, unchanged.
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let actor: String = sqlx::query_scalar("SELECT actor FROM audit_log").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(actor, "test");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM conversation_events").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(events, 1);
}

#[tokio::test]
async fn conversation_event_seq_is_unique_per_conversation() {
    let db = TestDb::new().await;
    let tenant = seed_history(&db).await;
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let err = sqlx::query(
        "INSERT INTO conversation_events (tenant_id, conversation_id, seq, event_type, state_before, state_after, state_version)
         SELECT tenant_id, conversation_id, seq, 'again', 'active', 'active', 2 FROM conversation_events",
    )
    .execute(&mut *tx)
    .await
    .expect_err("seq reused");
    assert!(err.to_string().contains("conversation_events_conversation_id_seq_key"), "{err}");
}
