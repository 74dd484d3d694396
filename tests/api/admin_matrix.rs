//! The role × endpoint matrix and tenant isolation, over every secured
//! operation of the served OpenAPI document: the table below is the
//! independent statement of who may call what, and the test fails if an
//! operation is missing from it (or the table names one that is not
//! served). For each operation and each role: a role below the least one
//! is refused with 403, the least role and those above are not refused
//! (whatever the operation then says about the made-up ids: 404, 409, …);
//! without a key, or with a bad one, 401. Then tenant isolation: tenant
//! A's admin asking for tenant B's conversation, customer, ticket, draft
//! or document by id gets 404 on every route that takes one, while a
//! global admin naming tenant B sees them.

use crate::common::TestDb;
use fte::auth::{Role, create_key};
use fte::crm::MergePolicy;
use fte::domain::TenantId;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;

const INJECT: &str = "matrix-inject-token";

/// Who may call what: (method, path template, least role, global admin only).
const MATRIX: &[(&str, &str, Role, bool)] = &[
    ("GET", "/api/v1/escalations", Role::Viewer, false),
    ("POST", "/api/v1/conversations/{id}/claim", Role::Agent, false),
    ("POST", "/api/v1/conversations/{id}/reply", Role::Agent, false),
    ("POST", "/api/v1/conversations/{id}/handback", Role::Agent, false),
    ("POST", "/api/v1/conversations/{id}/resolve", Role::Agent, false),
    ("GET", "/api/v1/approvals", Role::Viewer, false),
    ("POST", "/api/v1/approvals/{id}/approve", Role::Agent, false),
    ("POST", "/api/v1/approvals/{id}/edit", Role::Agent, false),
    ("POST", "/api/v1/approvals/{id}/reject", Role::Agent, false),
    ("GET", "/api/v1/metrics/channels", Role::Viewer, false),
    ("GET", "/api/v1/actors", Role::Viewer, false),
    ("GET", "/api/v1/actors/{customer_id}", Role::Viewer, false),
    ("GET", "/api/v1/runtime/stats", Role::Supervisor, false),
    ("POST", "/api/v1/actors/{customer_id}/passivate", Role::Supervisor, false),
    ("POST", "/api/v1/actors/{customer_id}/restart", Role::Supervisor, false),
    ("GET", "/api/v1/conversations", Role::Viewer, false),
    ("GET", "/api/v1/conversations/{id}", Role::Viewer, false),
    ("GET", "/api/v1/customers", Role::Viewer, false),
    ("GET", "/api/v1/customers/merge-candidates", Role::Viewer, false),
    ("GET", "/api/v1/customers/{id}", Role::Viewer, false),
    ("POST", "/api/v1/customers/{id}/merge", Role::Supervisor, false),
    ("GET", "/api/v1/customers/{id}/export", Role::Supervisor, false),
    ("POST", "/api/v1/customers/{id}/erase", Role::Admin, false),
    ("GET", "/api/v1/tickets", Role::Viewer, false),
    ("GET", "/api/v1/tickets/{id}", Role::Viewer, false),
    ("PATCH", "/api/v1/tickets/{id}", Role::Agent, false),
    ("GET", "/api/v1/kb/documents", Role::Viewer, false),
    ("GET", "/api/v1/kb/documents/{document}", Role::Viewer, false),
    ("PUT", "/api/v1/kb/documents/{document}", Role::Supervisor, false),
    ("DELETE", "/api/v1/kb/documents/{document}", Role::Supervisor, false),
    ("POST", "/api/v1/kb/search", Role::Viewer, false),
    ("GET", "/api/v1/tenants", Role::Admin, false),
    ("POST", "/api/v1/tenants", Role::Admin, true),
    ("GET", "/api/v1/tenants/{id}", Role::Admin, false),
    ("PATCH", "/api/v1/tenants/{id}", Role::Admin, false),
    ("GET", "/api/v1/tenants/{id}/agent-config", Role::Admin, false),
    ("PUT", "/api/v1/tenants/{id}/agent-config", Role::Admin, false),
];

/// A plausible body for the operation (so a refusal is about the role,
/// never about the body).
fn body_for(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        (_, p) if p.ends_with("/reply") || p.ends_with("/edit") => json!({"body": "Thanks, on it."}),
        (_, p) if p.ends_with("/reject") => json!({"note": "matrix"}),
        (_, p) if p.ends_with("/merge") => json!({"absorb": uuid::Uuid::now_v7().to_string()}),
        ("PATCH", "/api/v1/tickets/{id}") => json!({"status": "pending"}),
        ("PUT", "/api/v1/kb/documents/{document}") => json!({"markdown": "# Matrix\n\nA test article."}),
        ("POST", "/api/v1/kb/search") => json!({"query": "invoices", "limit": 1}),
        ("POST", "/api/v1/tenants") => {
            json!({"slug": format!("m-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]), "name": "Matrix"})
        }
        ("PATCH", "/api/v1/tenants/{id}") => json!({"name": "Renamed"}),
        ("PUT", "/api/v1/tenants/{id}/agent-config") => json!({}),
        _ => return None,
    })
}

async fn call(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let (status, body) = crate::common::api_call(addr, method, path, key, body, None).await;
    if status >= 400 {
        assert_eq!(body["status"], status, "{path}: an error is a problem document: {body}");
    }
    (status, body)
}

fn fill(path: &str, id: &str, document: &str) -> String {
    path.replace("{id}", id).replace("{customer_id}", id).replace("{document}", document)
}

async fn start(db: &TestDb) -> crate::common::RunningApp {
    crate::common::start_injectable(db, INJECT, &[]).await
}

async fn inject(addr: SocketAddr, tenant: TenantId, from: &str, id: &str, text: &str) {
    crate::common::inject(addr, INJECT, tenant, "email", from, id, text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_admits_exactly_its_roles() {
    let db = TestDb::new().await;
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let app = start(&db).await;
    let addr = app.addr;

    let doc: Value = reqwest::get(format!("http://{addr}/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"].as_str().unwrap().get(..3), Some("3.1"), "OpenAPI 3.1");
    let mut served = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_some() {
                served.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<(String, String)> = MATRIX.iter().map(|(m, p, _, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(served, table, "the matrix must list every secured operation, and only those");

    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, create_key(&db.pool, Some(a), role, &format!("{role} of A")).await.unwrap().1));
    }
    let (_, global) = create_key(&db.pool, None, Role::Admin, "installation admin").await.unwrap();
    let made_up = uuid::Uuid::now_v7().to_string();
    for (method, template, least, global_only) in MATRIX {
        let path = fill(template, &made_up, "no-such-doc");
        for key in [None, Some("fte_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] {
            let (status, body) = call(addr, method, &path, key, body_for(method, template)).await;
            assert_eq!(status, 401, "{method} {template} with {key:?}: {body}");
        }
        for (role, key) in &keys {
            let (status, body) = call(addr, method, &path, Some(key), body_for(method, template)).await;
            let allowed = role >= least && !global_only;
            if allowed {
                assert!(![401, 403].contains(&status), "{method} {template} as {role}: {status} {body}");
                assert!(status < 500 || status == 503, "{method} {template} as {role}: {status} {body}");
            } else {
                assert_eq!(status, 403, "{method} {template} as {role}: {body}");
            }
        }
        let scoped = if template.contains("/tenants") { path.clone() } else { format!("{path}?tenant={a}") };
        let (status, body) = call(addr, method, &scoped, Some(&global), body_for(method, template)).await;
        assert!(![401, 403].contains(&status), "{method} {template} as the global admin: {status} {body}");
    }
    let _ = app.stop.send(());
    let _ = app.task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_key_never_reaches_another_tenants_records_by_id() {
    let db = TestDb::new().await;
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let b = db.tenant("tenant-b", MergePolicy::Manual).await.id;
    let app = start(&db).await;
    let addr = app.addr;
    inject(addr, b, "bea@example.com", "b-1", "I want to talk to a human").await;
    inject(addr, b, "bo@example.com", "b-2", "Please draft an answer about invoices").await;
    let (_, admin_a) = create_key(&db.pool, Some(a), Role::Admin, "admin of A").await.unwrap();
    let (_, global) = create_key(&db.pool, None, Role::Admin, "installation admin").await.unwrap();

    let mut tx = fte::db::begin_tenant(&db.pool, b).await.unwrap();
    let (conversation, customer): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("SELECT id, customer_id FROM conversations ORDER BY opened_at LIMIT 1")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let approval: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM approvals LIMIT 1").fetch_one(&mut *tx).await.unwrap();
    let ticket: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO tickets (id, tenant_id, customer_id, conversation_id, source_channel, subject)
         VALUES ($1, $2, $3, $4, 'email', 'B only') RETURNING id",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(b.as_uuid())
    .bind(customer)
    .bind(conversation)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // B's knowledge-base document, written through the API by the global admin.
    let (status, body) = call(
        addr,
        "PUT",
        &format!("/api/v1/kb/documents/b-secret?tenant={b}"),
        Some(&global),
        Some(json!({"markdown": "# B only\n\nTenant B's secret article."})),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");

    let by_id: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/v1/conversations/{conversation}"), None),
        ("POST", format!("/api/v1/conversations/{conversation}/claim"), None),
        ("POST", format!("/api/v1/conversations/{conversation}/reply"), Some(json!({"body": "hi"}))),
        ("POST", format!("/api/v1/conversations/{conversation}/handback"), None),
        ("POST", format!("/api/v1/conversations/{conversation}/resolve"), None),
        ("POST", format!("/api/v1/approvals/{approval}/approve"), None),
        ("POST", format!("/api/v1/approvals/{approval}/edit"), Some(json!({"body": "hi"}))),
        ("POST", format!("/api/v1/approvals/{approval}/reject"), None),
        ("GET", format!("/api/v1/actors/{customer}"), None),
        ("POST", format!("/api/v1/actors/{customer}/passivate"), None),
        ("POST", format!("/api/v1/actors/{customer}/restart"), None),
        ("GET", format!("/api/v1/customers/{customer}"), None),
        (
            "POST",
            format!("/api/v1/customers/{customer}/merge"),
            Some(json!({"absorb": uuid::Uuid::now_v7().to_string()})),
        ),
        ("GET", format!("/api/v1/customers/{customer}/export"), None),
        ("POST", format!("/api/v1/customers/{customer}/erase"), Some(json!({"reason": "isolation check"}))),
        ("GET", format!("/api/v1/tickets/{ticket}"), None),
        ("PATCH", format!("/api/v1/tickets/{ticket}"), Some(json!({"status": "closed"}))),
        ("GET", "/api/v1/kb/documents/b-secret".to_string(), None),
        ("DELETE", "/api/v1/kb/documents/b-secret".to_string(), None),
        ("GET", format!("/api/v1/tenants/{b}"), None),
        ("PATCH", format!("/api/v1/tenants/{b}"), Some(json!({"name": "Taken"}))),
        ("GET", format!("/api/v1/tenants/{b}/agent-config"), None),
        ("PUT", format!("/api/v1/tenants/{b}/agent-config"), Some(json!({}))),
    ];
    for (method, path, body) in &by_id {
        let (status, problem) = call(addr, method, path, Some(&admin_a), body.clone()).await;
        assert_eq!(status, 404, "{method} {path} as A's admin: {problem}");
    }
    // Lists never show B's rows to A.
    for list in [
        "/api/v1/conversations",
        "/api/v1/customers",
        "/api/v1/tickets",
        "/api/v1/approvals",
        "/api/v1/escalations",
        "/api/v1/kb/documents",
    ] {
        let (status, body) = call(addr, "GET", list, Some(&admin_a), None).await;
        assert_eq!(status, 200, "{list}: {body}");
        let text = body.to_string();
        for id in [conversation.to_string(), customer.to_string(), ticket.to_string(), approval.to_string()] {
            assert!(!text.contains(&id), "{list} shows B's {id}");
        }
        assert!(!text.contains("b-secret"), "{list} shows B's document");
    }
    // Nothing of B's changed.
    let (status, detail) =
        call(addr, "GET", &format!("/api/v1/conversations/{conversation}?tenant={b}"), Some(&global), None).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["conversation"]["state"], "escalated");
    let (status, doc) =
        call(addr, "GET", &format!("/api/v1/kb/documents/b-secret?tenant={b}"), Some(&global), None).await;
    assert_eq!(status, 200, "{doc}");
    let (status, ticket_b) =
        call(addr, "GET", &format!("/api/v1/tickets/{ticket}?tenant={b}"), Some(&global), None).await;
    assert_eq!((status, ticket_b["status"].as_str()), (200, Some("open")));
    let _ = app.stop.send(());
    let _ = app.task.await;
}
