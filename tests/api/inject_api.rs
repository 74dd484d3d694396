//! `POST /api/v1/inbound`: authentication, validation (RFC 7807 errors),
//! and a committed turn for a valid message; absent unless a token is set.

use crate::common::TestDb;
use fte::config::ServeSettings;
use fte::crm::MergePolicy;
use serde_json::{Value, json};
use std::net::SocketAddr;

const TOKEN: &str = "s3cret-inject";

fn settings(db: &TestDb, token: Option<&str>) -> ServeSettings {
    let mut args = vec!["--database-url", &db.url, "--http-addr", "127.0.0.1:0", "--kafka-brokers", ""];
    if let Some(t) = token {
        args.extend(["--inject-api-token", t]);
    }
    crate::common::serve_settings(&args)
}

async fn start(db: &TestDb, token: Option<&str>) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let running = crate::common::start_app(&settings(db, token)).await;
    (running.addr, running.stop)
}

async fn post(addr: SocketAddr, token: Option<&str>, body: reqwest::Body, content_type: &str) -> (u16, String, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/inbound"))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let text = resp.text().await.unwrap();
    (status, ctype, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn count(db: &TestDb, tenant: fte::domain::TenantId, sql: &str) -> i64 {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut *tx).await.unwrap()
}

#[tokio::test]
async fn a_valid_message_is_committed_and_answered() {
    let db = TestDb::new().await;
    let tenant = db.tenant("inject", MergePolicy::Manual).await.id;
    let (addr, _stop) = start(&db, Some(TOKEN)).await;
    let msg = json!({
        "tenant_id": tenant.to_string(), "channel": "whatsapp", "external_id": "SM123",
        "from": "whatsapp:+44 7700 900418", "body": "Hi, how do I export a report?"
    });
    let (status, _, body) = post(addr, Some(TOKEN), msg.to_string().into(), "application/json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], false);
    assert_eq!(body["replies"].as_array().unwrap().len(), 1);
    let (status, _, again) = post(addr, Some(TOKEN), msg.to_string().into(), "application/json").await;
    assert_eq!(status, 200);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["replies"], body["replies"]);
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages").await, 2);
    assert_eq!(
        count(
            &db,
            tenant,
            "SELECT count(*) FROM customer_identifiers WHERE kind = 'whatsapp' AND value = '+447700900418'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn bad_requests_get_problem_details_and_store_nothing() {
    let db = TestDb::new().await;
    let tenant = db.tenant("inject", MergePolicy::Manual).await.id;
    let (addr, _stop) = start(&db, Some(TOKEN)).await;
    let valid = json!({ "tenant_id": tenant.to_string(), "channel": "email", "external_id": "e1", "from": "a@b.co", "body": "hi" });

    // No token, wrong token.
    for token in [None, Some("wrong")] {
        let (status, ctype, body) = post(addr, token, valid.to_string().into(), "application/json").await;
        assert_eq!((status, ctype.as_str()), (401, "application/problem+json"), "{body}");
        assert_eq!(body["status"], 401);
    }
    // Truncated JSON, wrong content type, invalid UTF-8, unknown field.
    let truncated = &valid.to_string()[..20];
    for (body, ctype) in [
        (reqwest::Body::from(truncated.to_string()), "application/json"),
        (reqwest::Body::from(valid.to_string()), "text/plain"),
        (reqwest::Body::from(vec![b'{', 0xff, 0xfe, b'}']), "application/json"),
        (reqwest::Body::from(json!({"surprise": 1}).to_string()), "application/json"),
    ] {
        let (status, ctype_back, problem) = post(addr, Some(TOKEN), body, ctype).await;
        assert!((400..500).contains(&status), "{status} {problem}");
        assert_eq!(ctype_back, "application/problem+json");
    }
    // Field errors, all at once.
    let bad = json!({ "tenant_id": "nope", "channel": "fax", "external_id": "", "from": "x", "body": "hi" });
    let (status, _, problem) = post(addr, Some(TOKEN), bad.to_string().into(), "application/json").await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["tenant_id", "channel", "external_id"]);
    // An address that does not fit the channel.
    let bad = json!({ "tenant_id": tenant.to_string(), "channel": "whatsapp", "external_id": "w", "from": "not a phone", "body": "hi" });
    let (status, _, problem) = post(addr, Some(TOKEN), bad.to_string().into(), "application/json").await;
    assert_eq!(status, 422, "{problem}");
    // Oversized: a body over the message limit, and a request over the byte limit.
    let long = json!({ "tenant_id": tenant.to_string(), "channel": "email", "external_id": "e2", "from": "a@b.co", "body": "x".repeat(20_001) });
    assert_eq!(post(addr, Some(TOKEN), long.to_string().into(), "application/json").await.0, 422);
    let huge = json!({ "tenant_id": tenant.to_string(), "channel": "email", "external_id": "e3", "from": "a@b.co", "body": "x".repeat(300_000) });
    assert_eq!(post(addr, Some(TOKEN), huge.to_string().into(), "application/json").await.0, 413);
    // A tenant that does not exist.
    let ghost = json!({ "tenant_id": uuid::Uuid::now_v7().to_string(), "channel": "email", "external_id": "e4", "from": "a@b.co", "body": "hi" });
    assert_eq!(post(addr, Some(TOKEN), ghost.to_string().into(), "application/json").await.0, 404);

    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages").await, 0, "nothing stored");
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM customers").await, 0);
}

#[tokio::test]
async fn without_a_token_the_route_does_not_exist() {
    let db = TestDb::new().await;
    let (addr, _stop) = start(&db, None).await;
    let (status, _, _) = post(addr, Some("anything"), "{}".into(), "application/json").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_tenant_cli_creates_a_tenant() {
    let db = TestDb::new().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fte"))
        .args(["tenant", "create", "--slug", "tallyloom", "--name", "Tallyloom B.V."])
        .env("DATABASE_URL", &db.url)
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id: fte::domain::TenantId = created["id"].as_str().unwrap().parse().unwrap();
    let tenant = fte::crm::get_tenant(&db.pool, id).await.unwrap();
    assert_eq!((tenant.slug.as_str(), tenant.name.as_str()), ("tallyloom", "Tallyloom B.V."));
    // A bad slug is a clear error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fte"))
        .args(["tenant", "create", "--slug", "Not Valid", "--name", "x"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("slug"), "{}", String::from_utf8_lossy(&out.stderr));
}
