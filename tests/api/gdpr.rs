//! A person's data rights, end to end against `serve` and the real
//! PostgreSQL: the export holds everything about them; the erase (admin
//! only, with a reason) leaves none of their addresses, names or words in
//! any table (searched as superuser), leaves other customers alone, is
//! audited without personal data, and stops their actor, so when they
//! write again they are a new customer with nothing of the old. Also the
//! erasure watch: an actor resident in a runtime that did not erase
//! (a worker, while the admin API erased) is stopped within seconds.

use crate::common::{TestDb, api_call, email, runtime_with, start_injectable, wait_until_replies, with_database};
use fte::auth::{Role, create_key};
use fte::brain::EchoBrain;
use fte::crm::{Erasure, MergePolicy, erase_customer};
use fte::domain::{CustomerId, TenantId};
use fte::runtime::RuntimeConfig;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "gdpr-inject-token";
const EMAIL: &str = "gdprmark.person@example.com";
const NAME: &str = "Gdprmark Person";

async fn say(addr: std::net::SocketAddr, tenant: TenantId, from: &str, name: &str, id: &str, body: &str) {
    let message = json!({"tenant_id": tenant.to_string(), "channel": "email", "external_id": id,
                         "from": from, "display_name": name, "subject": format!("{} subject", body.split(':').next().unwrap_or_default()), "body": body});
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/inbound"))
        .bearer_auth(TOKEN)
        .json(&message)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn customer_of(db: &TestDb, tenant: TenantId, address: &str) -> Option<uuid::Uuid> {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let id: Option<(uuid::Uuid,)> = sqlx::query_as("SELECT customer_id FROM customer_identifiers WHERE value = $1")
        .bind(address)
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id.map(|(c,)| c)
}

/// Rows of every table in the database whose text holds `needle`, as
/// superuser (no row-level security): `table: count` for each hit.
async fn rows_holding(db: &TestDb, needle: &str) -> Vec<String> {
    let superuser = std::env::var("FTE_PG_SUPERUSER_URL").expect("FTE_PG_SUPERUSER_URL (make test sets it)");
    let url = with_database(&superuser, &db.name);
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(tables.len() > 20, "every table: {tables:?}");
    let mut hits = Vec::new();
    for (table,) in tables {
        let sql = format!("SELECT count(*) FROM \"{table}\" t WHERE strpos(lower(t::text), lower($1)) > 0");
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(needle).fetch_one(&mut conn).await.unwrap();
        if n > 0 {
            hits.push(format!("{table}: {n}"));
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_erase_leaves_nothing_of_the_person_and_an_audit_without_them() {
    let db = TestDb::new().await;
    let tenant = db.tenant("gdpr", MergePolicy::Manual).await.id;
    let app = start_injectable(&db, TOKEN, &[]).await;
    let admin = create_key(&db.pool, Some(tenant), Role::Admin, "dpo").await.unwrap().1;
    let supervisor = create_key(&db.pool, Some(tenant), Role::Supervisor, "lead").await.unwrap().1;

    say(app.addr, tenant, EMAIL, NAME, "gdpr-1", "GDPRMARK-one: where are my invoices?").await;
    say(app.addr, tenant, EMAIL, NAME, "gdpr-2", "GDPRMARK-two: I want to talk to a human").await;
    say(app.addr, tenant, "other.keep@example.com", "OTHERKEEP Person", "other-1", "OTHERKEEP question").await;
    wait_until_replies(&db, tenant, 3, Duration::from_secs(30)).await;
    let customer = customer_of(&db, tenant, EMAIL).await.expect("customer stored");
    let base = format!("/api/v1/customers/{customer}");

    // The export: everything about them, nothing about the other customer.
    let (status, doc) = api_call(app.addr, Method::GET, &format!("{base}/export"), Some(&supervisor), None, None).await;
    assert_eq!(status, 200, "{doc}");
    let text = doc.to_string();
    for needle in [EMAIL, NAME, "GDPRMARK-one", "GDPRMARK-two", "GDPRMARK-one subject"] {
        assert!(text.contains(needle), "export lacks {needle}: {text}");
    }
    assert!(!text.contains("OTHERKEEP"), "export holds another customer's data");
    for section in ["identifiers", "conversations", "conversation_events", "messages", "escalations", "agent_turns"] {
        assert!(doc[section].as_array().is_some_and(|a| !a.is_empty()), "empty {section}: {doc}");
    }
    assert_eq!(doc["messages"].as_array().map(Vec::len), Some(4), "two messages, two replies");

    // Erasure is for admins, with a reason.
    let erase = format!("{base}/erase");
    let (status, _) =
        api_call(app.addr, Method::POST, &erase, Some(&supervisor), Some(json!({"reason": "x"})), None).await;
    assert_eq!(status, 403);
    let (status, body) =
        api_call(app.addr, Method::POST, &erase, Some(&admin), Some(json!({"reason": " "})), None).await;
    assert_eq!(status, 422, "{body}");
    let reason = "erasure request 2026-12-07 via privacy inbox";
    let (status, erased) =
        api_call(app.addr, Method::POST, &erase, Some(&admin), Some(json!({"reason": reason})), Some("erase-req-1"))
            .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["actor_stopped"], true, "the resident actor is stopped: {erased}");
    assert!(erased["erased"]["messages"].as_i64() == Some(4), "{erased}");
    assert!(erased["erased"]["conversation_events"].as_i64().is_some_and(|n| n > 0), "{erased}");
    assert!(erased["erased"]["audit_log_redacted"].as_i64().is_some_and(|n| n > 0), "the export's entry: {erased}");

    // Nothing of them in any table, the append-only ones included.
    for needle in [EMAIL, NAME, "GDPRMARK"] {
        let hits = rows_holding(&db, needle).await;
        assert!(hits.is_empty(), "{needle} still held in {hits:?}");
    }
    assert!(!rows_holding(&db, "OTHERKEEP").await.is_empty(), "the other customer is untouched");

    // Gone for the API too; a second erase finds no one.
    let (status, _) = api_call(app.addr, Method::GET, &format!("{base}/export"), Some(&supervisor), None, None).await;
    assert_eq!(status, 404);
    let (status, _) =
        api_call(app.addr, Method::POST, &erase, Some(&admin), Some(json!({"reason": reason})), None).await;
    assert_eq!(status, 404);

    // The audit log says who erased which customer and why, and nothing more.
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let (actor, target, after, request): (String, String, Value, Option<String>) =
        sqlx::query_as("SELECT actor, target_id, after, request_id FROM audit_log WHERE action = 'customer.erase'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert!(actor.ends_with(":dpo"), "{actor}");
    assert_eq!(target, customer.to_string());
    assert_eq!(after["reason"], reason);
    assert_eq!(request.as_deref(), Some("erase-req-1"));

    // They write again: a new customer, answered, with nothing of the old.
    say(app.addr, tenant, EMAIL, NAME, "gdpr-3", "GDPRMARK-three: hello again").await;
    wait_until_replies(&db, tenant, 2, Duration::from_secs(30)).await;
    let again = customer_of(&db, tenant, EMAIL).await.expect("a new customer");
    assert_ne!(again, customer);
    let (status, doc) =
        api_call(app.addr, Method::GET, &format!("/api/v1/customers/{again}/export"), Some(&supervisor), None, None)
            .await;
    assert_eq!(status, 200);
    let text = doc.to_string();
    assert!(
        text.contains("GDPRMARK-three") && !text.contains("GDPRMARK-one") && !text.contains("GDPRMARK-two"),
        "{text}"
    );
    let _ = app.stop.send(());
    let _ = app.task.await;
}

#[tokio::test]
async fn a_worker_stops_the_actor_of_a_customer_erased_elsewhere() {
    let db = TestDb::new().await;
    let tenant = db.tenant("gdpr-watch", MergePolicy::Manual).await.id;
    let runtime = runtime_with(&db, Arc::new(EchoBrain), RuntimeConfig::default()).await;
    let receipt = runtime.submit(email(tenant, "watch.me@example.com", "w-1", "GDPRMARK hello")).await.unwrap();
    let customer: CustomerId = {
        let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
        let (c,): (uuid::Uuid,) = sqlx::query_as("SELECT customer_id FROM messages WHERE id = $1")
            .bind(receipt.message_id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        CustomerId::from_uuid(c)
    };
    assert!(runtime.resident().iter().any(|a| a.customer_id == customer));
    // Another process (the admin API) erases them.
    let erasure = Erasure { actor: "test", reason: "watch test", request_id: None };
    erase_customer(&db.pool, tenant, customer, erasure).await.unwrap().expect("erased");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while runtime.resident().iter().any(|a| a.customer_id == customer) {
        assert!(tokio::time::Instant::now() < deadline, "the erased customer's actor is still resident");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    runtime.shutdown().await;
}
