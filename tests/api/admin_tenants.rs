//! Tenants and their agent configuration through the admin API (issue #7
//! item 5): admin keys only (an agent key gets 403); a global admin key
//! lists and creates tenants (a taken slug is 409), a tenant-scoped admin
//! key sees and changes only its own tenant (another tenant's id is 404);
//! the agent configuration round-trips, refuses unknown fields, bad values
//! and secrets (422, nothing stored); every change is audited with the
//! request id and the values before and after.

use crate::common::TestDb;
use fte::agent::config::AgentConfig;
use fte::auth::{Role, create_key};
use fte::crm::MergePolicy;
use fte::domain::TenantId;
use reqwest::Method;
use serde_json::{Value, json};
use std::net::SocketAddr;

async fn start(db: &TestDb) -> crate::common::RunningApp {
    let settings = crate::common::serve_settings(&[
        "--database-url",
        &db.url,
        "--http-addr",
        "127.0.0.1:0",
        "--kafka-brokers",
        "",
    ]);
    crate::common::start_app(&settings).await
}

async fn call(addr: SocketAddr, method: Method, path: &str, key: &str, body: Option<Value>, rid: &str) -> (u16, Value) {
    crate::common::api_call(addr, method, path, Some(key), body, Some(rid)).await
}

async fn get(addr: SocketAddr, path: &str, key: &str) -> (u16, Value) {
    call(addr, Method::GET, path, key, None, "tenants-get").await
}

/// (action, target, request id, before, after) of the tenant's audit rows, oldest first.
async fn audit_rows(db: &TestDb, tenant: TenantId) -> Vec<(String, String, Option<String>, Value, Value)> {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let rows = sqlx::query_as("SELECT action, target_id, request_id, before, after FROM audit_log ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows
}

fn slugs(page: &Value) -> Vec<&str> {
    page["items"].as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_listed_created_and_changed_by_admins_in_scope() {
    let db = TestDb::new().await;
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let b = db.tenant("tenant-b", MergePolicy::Manual).await.id;
    let app = start(&db).await;
    let addr = app.addr;
    let (_, global) = create_key(&db.pool, None, Role::Admin, "installation admin").await.unwrap();
    let (_, admin_a) = create_key(&db.pool, Some(a), Role::Admin, "admin of A").await.unwrap();
    let (_, supervisor_a) = create_key(&db.pool, Some(a), Role::Supervisor, "supervisor of A").await.unwrap();
    let (_, agent_a) = create_key(&db.pool, Some(a), Role::Agent, "agent of A").await.unwrap();

    // Below admin: 403 on every tenant route.
    for key in [&agent_a, &supervisor_a] {
        assert_eq!(get(addr, "/api/v1/tenants", key).await.0, 403);
        assert_eq!(get(addr, &format!("/api/v1/tenants/{a}"), key).await.0, 403);
        assert_eq!(get(addr, &format!("/api/v1/tenants/{a}/agent-config"), key).await.0, 403);
        let patch = Some(json!({ "name": "Mine now" }));
        assert_eq!(call(addr, Method::PATCH, &format!("/api/v1/tenants/{a}"), key, patch, "r").await.0, 403);
        let new = Some(json!({ "slug": "sneaky", "name": "Sneaky" }));
        assert_eq!(call(addr, Method::POST, "/api/v1/tenants", key, new, "r").await.0, 403);
    }

    // A global admin sees every tenant, page by page.
    let (status, all) = get(addr, "/api/v1/tenants", &global).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(slugs(&all), ["tenant-a", "tenant-b"]);
    let (_, first) = get(addr, "/api/v1/tenants?limit=1", &global).await;
    assert_eq!(slugs(&first), ["tenant-a"]);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second) = get(addr, &format!("/api/v1/tenants?limit=1&cursor={cursor}"), &global).await;
    assert_eq!(slugs(&second), ["tenant-b"]);
    assert!(second["next_cursor"].is_null());
    assert_eq!(get(addr, "/api/v1/tenants?limit=0", &global).await.0, 400);
    assert_eq!(get(addr, "/api/v1/tenants?cursor=a%00", &global).await.0, 400);
    // A tenant admin sees its own tenant only; another's id is not found.
    let (_, own) = get(addr, "/api/v1/tenants", &admin_a).await;
    assert_eq!(slugs(&own), ["tenant-a"]);
    let (status, tenant) = get(addr, &format!("/api/v1/tenants/{a}"), &admin_a).await;
    assert_eq!((status, tenant["slug"].as_str()), (200, Some("tenant-a")));
    for path in
        [format!("/api/v1/tenants/{b}"), format!("/api/v1/tenants/{b}/agent-config"), "/api/v1/tenants/nope".into()]
    {
        let (status, body) = get(addr, &path, &admin_a).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.get("slug").is_none() && body.get("assistant_name").is_none());
    }
    let patch = Some(json!({ "name": "Taken over" }));
    assert_eq!(call(addr, Method::PATCH, &format!("/api/v1/tenants/{b}"), &admin_a, patch, "r").await.0, 404);
    let (_, b_now) = get(addr, &format!("/api/v1/tenants/{b}"), &global).await;
    assert_eq!(b_now["name"], "Tenant tenant-b");
    assert_eq!(get(addr, &format!("/api/v1/tenants/{}", TenantId::new()), &global).await.0, 404);

    // Creating: global admins only; the id is the one `fte tenant ensure` derives.
    let new = json!({ "slug": "new-co", "name": "New Co", "identity_merge_policy": "auto" });
    let (status, body) = call(addr, Method::POST, "/api/v1/tenants", &admin_a, Some(new.clone()), "r").await;
    assert_eq!(status, 403, "{body}");
    let (status, created) = call(addr, Method::POST, "/api/v1/tenants", &global, Some(new.clone()), "create-1").await;
    assert_eq!(status, 201, "{created}");
    let id = fte::crm::stable_tenant_id("new-co");
    assert_eq!(created["id"], id.to_string());
    assert_eq!((created["name"].as_str(), created["identity_merge_policy"].as_str()), (Some("New Co"), Some("auto")));
    let got = fte::crm::get_tenant(&db.pool, id).await.unwrap();
    assert_eq!(got.merge_policy, MergePolicy::Auto);
    // A taken slug: 409, whoever made it.
    for slug in ["new-co", "tenant-b"] {
        let body = json!({ "slug": slug, "name": "Again" });
        let (status, problem) = call(addr, Method::POST, "/api/v1/tenants", &global, Some(body), "r").await;
        assert_eq!(status, 409, "{slug}: {problem}");
    }
    assert_eq!(fte::crm::get_tenant(&db.pool, id).await.unwrap().name, "New Co");
    // Invalid fields: 422 naming them.
    for (body, field) in [
        (json!({ "slug": "Bad Slug", "name": "X" }), "slug"),
        (json!({ "slug": "-dash", "name": "X" }), "slug"),
        (json!({ "slug": "fine-slug", "name": "  " }), "name"),
        (json!({ "slug": "fine-slug", "name": "X", "identity_merge_policy": "sometimes" }), "identity_merge_policy"),
    ] {
        let (status, problem) = call(addr, Method::POST, "/api/v1/tenants", &global, Some(body.clone()), "r").await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (status, _) = call(
        addr,
        Method::POST,
        "/api/v1/tenants",
        &global,
        Some(json!({ "slug": "x-y", "name": "X", "plan": 1 })),
        "r",
    )
    .await;
    assert_eq!(status, 422);
    let (_, all) = get(addr, "/api/v1/tenants", &global).await;
    assert_eq!(slugs(&all), ["new-co", "tenant-a", "tenant-b"]);

    // Changing: name and merge policy, validated, audited.
    let path = format!("/api/v1/tenants/{a}");
    for (body, field) in [
        (json!({}), "name"),
        (json!({ "name": "" }), "name"),
        (json!({ "identity_merge_policy": "never" }), "identity_merge_policy"),
    ] {
        let (status, problem) = call(addr, Method::PATCH, &path, &admin_a, Some(body), "r").await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field);
    }
    assert_eq!(call(addr, Method::PATCH, &path, &admin_a, Some(json!({ "slug": "renamed" })), "r").await.0, 422);
    let change = json!({ "name": "Acme Renamed", "identity_merge_policy": "auto" });
    let (status, changed) = call(addr, Method::PATCH, &path, &admin_a, Some(change), "patch-1").await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (changed["name"].as_str(), changed["identity_merge_policy"].as_str()),
        (Some("Acme Renamed"), Some("auto"))
    );
    assert_eq!(fte::crm::get_tenant(&db.pool, a).await.unwrap().merge_policy, MergePolicy::Auto);

    let rows = audit_rows(&db, a).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (action, target, rid, before, after) = &rows[0];
    assert_eq!(
        (action.as_str(), target.as_str(), rid.as_deref()),
        ("tenant.update", a.to_string().as_str(), Some("patch-1"))
    );
    assert_eq!((before["name"].as_str(), after["name"].as_str()), (Some("Tenant tenant-a"), Some("Acme Renamed")));
    assert_eq!(
        (before["identity_merge_policy"].as_str(), after["identity_merge_policy"].as_str()),
        (Some("manual"), Some("auto"))
    );
    let rows = audit_rows(&db, id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].0.as_str(), rows[0].2.as_deref()), ("tenant.create", Some("create-1")));
    assert!(rows[0].3.is_null());
    assert_eq!(rows[0].4["slug"], "new-co");
    assert!(audit_rows(&db, b).await.is_empty(), "refused calls are not audited");
    app.stop.send(()).ok();
    app.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_configuration_round_trips_and_refuses_bad_documents() {
    let db = TestDb::new().await;
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let b = db.tenant("tenant-b", MergePolicy::Manual).await.id;
    let app = start(&db).await;
    let addr = app.addr;
    let (_, admin_a) = create_key(&db.pool, Some(a), Role::Admin, "admin of A").await.unwrap();
    let (_, global) = create_key(&db.pool, None, Role::Admin, "installation admin").await.unwrap();
    let path = format!("/api/v1/tenants/{a}/agent-config");

    // Unset: the defaults.
    let (status, config) = get(addr, &path, &admin_a).await;
    assert_eq!(status, 200, "{config}");
    assert_eq!(config, serde_json::to_value(AgentConfig::default()).unwrap());

    // Replace: fields left out take their defaults; the agent reads it back.
    let document = json!({
        "assistant_name": "Ada",
        "approval_threshold": 0.7,
        "brains": ["primary", "local"],
        "primary_model": { "base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "TENANT_A_OPENAI_KEY" }
    });
    let (status, stored) = call(addr, Method::PUT, &path, &admin_a, Some(document), "config-1").await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["assistant_name"], "Ada");
    assert_eq!(stored["company"], AgentConfig::default().company);
    assert_eq!(stored["primary_model"]["timeout_ms"], 20_000);
    let (_, again) = get(addr, &path, &admin_a).await;
    assert_eq!(again, stored);
    let loaded = AgentConfig::load(&db.pool, a).await.unwrap();
    assert_eq!((loaded.assistant_name.as_str(), loaded.approval_threshold), ("Ada", 0.7));
    assert_eq!(loaded.primary_model.unwrap().api_key_env.as_deref(), Some("TENANT_A_OPENAI_KEY"));
    // The tenant's other settings survive.
    let (_, tenant) = get(addr, &format!("/api/v1/tenants/{a}"), &admin_a).await;
    assert_eq!(tenant["slug"], "tenant-a");

    // Refused: unknown fields, bad values, secrets, non-objects. Nothing changes.
    for (body, field) in [
        (json!({ "assistant": "Bob" }), "assistant"),
        (json!({ "approval_threshold": 1.5 }), "approval_threshold"),
        (json!({ "brains": ["secondary", "local"] }), "brains"),
        (
            json!({ "primary_model": { "base_url": "http://x/v1", "model": "m", "api_key": "sk-live-very-secret" } }),
            "api_key",
        ),
        (json!(["assistant_name"]), "agent_config"),
    ] {
        let (status, problem) = call(addr, Method::PUT, &path, &admin_a, Some(body.clone()), "r").await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (_, unchanged) = get(addr, &path, &admin_a).await;
    assert_eq!(unchanged, stored);
    let mut tx = fte::db::begin_tenant(&db.pool, a).await.unwrap();
    let settings: String = sqlx::query_scalar("SELECT settings::text FROM tenants WHERE id = $1")
        .bind(a)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(!settings.contains("sk-live"), "a secret was stored: {settings}");

    // Another tenant's configuration: 404 for A's key, untouched.
    let other = format!("/api/v1/tenants/{b}/agent-config");
    let (status, _) =
        call(addr, Method::PUT, &other, &admin_a, Some(json!({ "assistant_name": "Mallory" })), "r").await;
    assert_eq!(status, 404);
    assert_eq!(AgentConfig::load(&db.pool, b).await.unwrap(), AgentConfig::default());
    // A global admin may change it.
    let (status, _) =
        call(addr, Method::PUT, &other, &global, Some(json!({ "assistant_name": "Bea" })), "config-b").await;
    assert_eq!(status, 200);
    assert_eq!(AgentConfig::load(&db.pool, b).await.unwrap().assistant_name, "Bea");

    // Audited with the request id, before and after.
    let rows = audit_rows(&db, a).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (action, target, rid, before, after) = &rows[0];
    assert_eq!(
        (action.as_str(), target.as_str(), rid.as_deref()),
        ("tenant.agent_config.update", a.to_string().as_str(), Some("config-1"))
    );
    assert!(before.is_null(), "{before}");
    assert_eq!(after, &stored);
    let rows = audit_rows(&db, b).await;
    assert_eq!((rows.len(), rows[0].2.as_deref()), (1, Some("config-b")));
    app.stop.send(()).ok();
    app.task.await.unwrap().unwrap();
}
