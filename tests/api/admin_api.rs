//! The admin API's foundation: API keys (401 without or with a bad one),
//! roles, tenant scope (a key never sees another tenant's data, not even
//! by id; a global admin names the tenant), request ids on every response,
//! and the conversations list (filters, cursor pagination) and detail.

use crate::common::TestDb;
use fte::auth::{Role, create_key};
use fte::crm::MergePolicy;
use fte::domain::TenantId;
use serde_json::{Value, json};

const INJECT: &str = "admin-test-inject-token";

async fn inject(addr: std::net::SocketAddr, tenant: TenantId, from: &str, id: &str) {
    crate::common::inject(addr, INJECT, tenant, "email", from, id, "Hello there").await;
}

async fn start(db: &TestDb) -> crate::common::RunningApp {
    crate::common::start_injectable(db, INJECT, &[]).await
}

async fn get(addr: std::net::SocketAddr, path: &str, key: Option<&str>) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = reqwest::Client::new().get(format!("http://{addr}{path}")).header("x-request-id", "test-req-1");
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_roles_and_tenant_scope_guard_the_conversations_api() {
    let db = TestDb::new().await;
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let b = db.tenant("tenant-b", MergePolicy::Manual).await.id;
    let app = start(&db).await;
    let addr = app.addr;
    for i in 0..3 {
        inject(addr, a, &format!("a{i}@example.com"), &format!("a-{i}")).await;
    }
    inject(addr, b, "b0@example.com", "b-0").await;

    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, create_key(&db.pool, Some(a), role, &format!("{role} of A")).await.unwrap().1));
    }
    let (_, key_b) = create_key(&db.pool, Some(b), Role::Admin, "admin of B").await.unwrap();
    let (_, global) = create_key(&db.pool, None, Role::Admin, "installation admin").await.unwrap();
    assert!(create_key(&db.pool, None, Role::Viewer, "global viewer").await.is_err(), "only admins may be global");

    // No key, a malformed key, an unknown key: 401, problem+json, request id echoed.
    for key in [None, Some("nope"), Some("fte_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] {
        let (status, body, headers) = get(addr, "/api/v1/conversations", key).await;
        assert_eq!(status, 401, "{key:?}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(headers["x-request-id"], "test-req-1");
        assert_eq!(body["status"], 401);
    }

    // Every role may read (viewer is the least); each sees its tenant only.
    for (role, key) in &keys {
        let (status, body, _) = get(addr, "/api/v1/conversations", Some(key)).await;
        assert_eq!(status, 200, "{role}: {body}");
        assert_eq!(body["items"].as_array().unwrap().len(), 3, "{role}");
    }
    let viewer = &keys[0].1;
    // Pagination: 2 + 1, newest first, no overlap.
    let (_, first, _) = get(addr, "/api/v1/conversations?limit=2", Some(viewer)).await;
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (_, second, _) = get(addr, &format!("/api/v1/conversations?limit=2&cursor={cursor}"), Some(viewer)).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    let ids: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 3);
    // Filters.
    let (_, none, _) = get(addr, "/api/v1/conversations?channel=slack", Some(viewer)).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let (_, email, _) = get(addr, "/api/v1/conversations?channel=email&escalated=false", Some(viewer)).await;
    assert_eq!(email["items"].as_array().unwrap().len(), 3);
    for bad in ["?state=sleeping", "?channel=fax", "?cursor=xyz", "?limit=abc", "?admin=1"] {
        let (status, _, _) = get(addr, &format!("/api/v1/conversations{bad}"), Some(viewer)).await;
        assert_eq!(status, 400, "{bad}");
    }

    // Detail: transcript and events; another tenant's id is not found.
    let id = ids[0];
    let (status, detail, _) = get(addr, &format!("/api/v1/conversations/{id}"), Some(viewer)).await;
    assert_eq!(status, 200, "{detail}");
    assert!(detail["messages"].as_array().unwrap().len() >= 2);
    assert!(!detail["events"].as_array().unwrap().is_empty());
    let (status, _, _) = get(addr, &format!("/api/v1/conversations/{id}"), Some(&key_b)).await;
    assert_eq!(status, 404);
    let (status, _, _) = get(addr, &format!("/api/v1/conversations?tenant={a}"), Some(&key_b)).await;
    assert_eq!(status, 404, "a tenant key cannot name another tenant");
    let (_, only_b, _) = get(addr, "/api/v1/conversations", Some(&key_b)).await;
    assert_eq!(only_b["items"].as_array().unwrap().len(), 1);

    // A global admin names the tenant.
    let (status, _, _) = get(addr, "/api/v1/conversations", Some(&global)).await;
    assert_eq!(status, 400);
    let (status, all_a, _) = get(addr, &format!("/api/v1/conversations?tenant={a}"), Some(&global)).await;
    assert_eq!(status, 200);
    assert_eq!(all_a["items"].as_array().unwrap().len(), 3);
    let (status, _, _) = get(addr, &format!("/api/v1/conversations/{id}?tenant={a}"), Some(&global)).await;
    assert_eq!(status, 200);

    // Resident actors: the caller's tenant only; stats for supervisors.
    let (status, actors, _) = get(addr, "/api/v1/actors", Some(viewer)).await;
    assert_eq!(status, 200, "{actors}");
    let resident = actors["items"].as_array().unwrap();
    assert_eq!(resident.len(), 3);
    assert!(resident.iter().all(|a| a["conversation_state"] == "awaiting_customer"), "{actors}");
    let (_, actors_b, _) = get(addr, "/api/v1/actors", Some(&key_b)).await;
    assert_eq!(actors_b["items"].as_array().unwrap().len(), 1);
    assert_eq!(get(addr, "/api/v1/runtime/stats", Some(viewer)).await.0, 403);
    let supervisor = &keys[2].1;
    let (status, stats, _) = get(addr, "/api/v1/runtime/stats", Some(supervisor)).await;
    assert_eq!(status, 200);
    assert!(stats["spawned"].as_u64().unwrap() >= 4);

    // Passivate: supervisor and up, own tenant only, audited with the request id.
    let customer = resident[0]["customer_id"].as_str().unwrap().to_string();
    let post = |key: String, path: String| async move {
        let r = reqwest::Client::new()
            .post(format!("http://{addr}{path}"))
            .bearer_auth(key)
            .header("x-request-id", "passivate-req-7")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let path = format!("/api/v1/actors/{customer}/passivate");
    for (role, key) in &keys {
        if *role < Role::Supervisor {
            assert_eq!(post(key.clone(), path.clone()).await.0, 403, "{role}");
        }
    }
    assert_eq!(post(key_b.clone(), path.clone()).await.0, 404, "another tenant's customer");
    let (status, done) = post(supervisor.clone(), path.clone()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["passivated"], true);
    let (_, after, _) = get(addr, "/api/v1/actors", Some(viewer)).await;
    assert_eq!(after["items"].as_array().unwrap().len(), 2);
    let mut tx = fte::db::begin_tenant(&db.pool, a).await.unwrap();
    let (actor, action, target, request_id): (String, String, String, Option<String>) =
        sqlx::query_as("SELECT actor, action, target_id, request_id FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert!(actor.contains("supervisor of A"), "{actor}");
    assert_eq!(
        (action.as_str(), target.as_str(), request_id.as_deref()),
        ("actor.passivate", customer.as_str(), Some("passivate-req-7"))
    );

    // One actor: not resident after passivating, its stored state and events.
    let (status, detail, _) = get(addr, &format!("/api/v1/actors/{customer}"), Some(viewer)).await;
    assert_eq!(status, 200, "{detail}");
    assert!(detail["resident"].is_null(), "{detail}");
    assert_eq!(detail["state"], "awaiting_customer");
    assert_eq!(detail["state_version"], 2);
    let kinds: Vec<&str> =
        detail["recent_events"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["agent_replied", "customer_message"], "newest first");
    assert_eq!(get(addr, &format!("/api/v1/actors/{customer}"), Some(&key_b)).await.0, 404);
    // Restart: a successor rehydrates at once.
    let (status, restarted) = post(supervisor.clone(), format!("/api/v1/actors/{customer}/restart")).await;
    assert_eq!(status, 200, "{restarted}");
    assert_eq!(
        (restarted["state"].as_str(), restarted["state_version"].as_u64()),
        (Some("awaiting_customer"), Some(2))
    );
    let (_, detail, _) = get(addr, &format!("/api/v1/actors/{customer}"), Some(viewer)).await;
    assert_eq!(detail["resident"]["status"], "running", "{detail}");
    assert_eq!(detail["resident"]["queue_depth"], 0);
    assert!(detail["resident"]["partition"].as_u64().unwrap() < 12);
    let (_, stats, _) = get(addr, "/api/v1/runtime/stats", Some(supervisor)).await;
    assert_eq!(stats["restarted"], 1, "{stats}");

    // Per-channel statistics of the last 24 hours.
    let (status, report, _) = get(addr, "/api/v1/metrics/channels", Some(viewer)).await;
    assert_eq!(status, 200, "{report}");
    let email = report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "email").unwrap().clone();
    assert_eq!(
        (email["conversations"].as_i64(), email["messages_in"].as_i64(), email["messages_out"].as_i64()),
        (Some(3), Some(3), Some(3))
    );
    assert_eq!((email["agent_turns"].as_i64(), email["escalation_rate"].as_f64()), (Some(3), Some(0.0)));
    assert!(email["latency_p95_ms"].as_f64().is_some());
    assert_eq!(report["channels"].as_array().unwrap().len(), 4);

    // Tickets: list and detail for viewers, changes for agents (audited).
    let ticket = uuid::Uuid::now_v7();
    let mut tx = fte::db::begin_tenant(&db.pool, a).await.unwrap();
    sqlx::query(
        "INSERT INTO tickets (id, tenant_id, customer_id, conversation_id, source_channel, subject)
         SELECT $1, tenant_id, customer_id, id, 'email', 'Invoices' FROM conversations LIMIT 1",
    )
    .bind(ticket)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (status, list, _) = get(addr, "/api/v1/tickets?status=open", Some(viewer)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["items"][0]["reference"].as_str().unwrap().starts_with("TKT-"));
    assert_eq!(get(addr, "/api/v1/tickets?status=lost", Some(viewer)).await.0, 400);
    assert_eq!(get(addr, &format!("/api/v1/tickets/{ticket}"), Some(viewer)).await.0, 200);
    assert_eq!(get(addr, &format!("/api/v1/tickets/{ticket}"), Some(&key_b)).await.0, 404);
    let patch = |key: String, body: Value| async move {
        let r = reqwest::Client::new()
            .patch(format!("http://{addr}/api/v1/tickets/{ticket}"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    assert_eq!(patch(viewer.clone(), json!({"status": "resolved"})).await.0, 403);
    let agent = keys[1].1.clone();
    let (status, bad) = patch(agent.clone(), json!({"priority": "whenever"})).await;
    assert_eq!((status, bad["errors"][0]["field"].as_str()), (422, Some("priority")));
    assert_eq!(patch(agent.clone(), json!({"owner": "me"})).await.0, 422);
    assert_eq!(patch(key_b.clone(), json!({"status": "resolved"})).await.0, 404);
    let (status, done) = patch(agent, json!({"status": "resolved", "priority": "high"})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!((done["status"].as_str(), done["priority"].as_str()), (Some("resolved"), Some("high")));
    assert!(done["resolved_at"].is_string());
    let mut tx = fte::db::begin_tenant(&db.pool, a).await.unwrap();
    let (before, after): (Value, Value) =
        sqlx::query_as("SELECT before, after FROM audit_log WHERE action = 'ticket.update'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((before["status"].as_str(), after["status"].as_str()), (Some("open"), Some("resolved")));

    // Customers with their identifiers; merging is for supervisors.
    let (status, customers, _) = get(addr, "/api/v1/customers", Some(viewer)).await;
    assert_eq!(status, 200, "{customers}");
    let list = customers["items"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["identifiers"][0]["kind"], "email");
    let kept = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(get(addr, &format!("/api/v1/customers/{kept}"), Some(viewer)).await.0, 200);
    assert_eq!(get(addr, &format!("/api/v1/customers/{kept}"), Some(&key_b)).await.0, 404);
    assert_eq!(get(addr, "/api/v1/customers/merge-candidates", Some(viewer)).await.0, 200);
    let lone = uuid::Uuid::now_v7();
    let mut tx = fte::db::begin_tenant(&db.pool, a).await.unwrap();
    sqlx::query("INSERT INTO customers (id, tenant_id, display_name) VALUES ($1, $2, 'Jo (phone)')")
        .bind(lone)
        .bind(a.as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO customer_identifiers (id, tenant_id, customer_id, kind, value) VALUES ($1, $2, $3, 'phone', '+31612345678')")
        .bind(uuid::Uuid::now_v7())
        .bind(a.as_uuid())
        .bind(lone)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let merge = |key: String, kept: String, absorb: String| async move {
        let r = reqwest::Client::new()
            .post(format!("http://{addr}/api/v1/customers/{kept}/merge"))
            .bearer_auth(key)
            .json(&json!({ "absorb": absorb }))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    assert_eq!(merge(viewer.clone(), kept.clone(), lone.to_string()).await.0, 403);
    assert_eq!(merge(key_b.clone(), kept.clone(), lone.to_string()).await.0, 404);
    let other = list[1]["id"].as_str().unwrap().to_string();
    assert_eq!(merge(supervisor.clone(), kept.clone(), other).await.0, 409, "both have open conversations");
    let (status, merged) = merge(supervisor.clone(), kept.clone(), lone.to_string()).await;
    assert_eq!(status, 200, "{merged}");
    let kinds: Vec<&str> =
        merged["identifiers"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"phone") && kinds.contains(&"email"), "{merged}");

    // A request without an id gets one.
    let r = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert!(!r.headers()["x-request-id"].to_str().unwrap().is_empty());
    let _ = app.stop.send(());
    let _ = app.task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_claims_hands_back_and_resolves_escalations() {
    let db = TestDb::new().await;
    let a = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let app = start(&db).await;
    let addr = app.addr;
    let (_, viewer) = create_key(&db.pool, Some(a), Role::Viewer, "viewer").await.unwrap();
    let (_, agent) = create_key(&db.pool, Some(a), Role::Agent, "Ana").await.unwrap();
    let send = |text: &'static str, id: &'static str| async move {
        let body = json!({"tenant_id": a.to_string(), "channel": "email", "external_id": id, "from": "jo@example.com", "body": text});
        let r = reqwest::Client::new()
            .post(format!("http://{addr}/api/v1/inbound"))
            .bearer_auth(INJECT)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    let step = |key: String, conversation: String, what: &'static str| async move {
        let r = reqwest::Client::new()
            .post(format!("http://{addr}/api/v1/conversations/{conversation}/{what}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let conv_state = |id: String| {
        let viewer = viewer.clone();
        async move {
            get(addr, &format!("/api/v1/conversations/{id}"), Some(&viewer)).await.1["conversation"]["state"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };

    send("I want to talk to a human please", "w-1").await;
    let (status, queue, _) = get(addr, "/api/v1/escalations", Some(&viewer)).await;
    assert_eq!(status, 200, "{queue}");
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["status"], "open");
    let conversation = items[0]["conversation_id"].as_str().unwrap().to_string();

    assert_eq!(step(viewer.clone(), conversation.clone(), "claim").await.0, 403);
    let (status, body) = step(agent.clone(), conversation.clone(), "claim").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(conv_state(conversation.clone()).await, "human_active");
    let (_, queue, _) = get(addr, "/api/v1/escalations", Some(&viewer)).await;
    assert_eq!(queue["items"][0]["status"], "claimed");
    assert!(queue["items"][0]["claimed_by"].as_str().unwrap().contains("Ana"));

    let (status, _) = step(agent.clone(), conversation.clone(), "handback").await;
    assert_eq!(status, 200);
    assert_eq!(conv_state(conversation.clone()).await, "awaiting_customer");
    let (_, queue, _) = get(addr, "/api/v1/escalations", Some(&viewer)).await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 0, "handing back closes the escalation");
    let (status, problem) = step(agent.clone(), conversation.clone(), "handback").await;
    assert_eq!(status, 409, "{problem}");

    send("still broken, get me a human", "w-2").await;
    assert_eq!(conv_state(conversation.clone()).await, "escalated");
    let (status, _) = step(agent.clone(), conversation.clone(), "resolve").await;
    assert_eq!(status, 200);
    assert_eq!(conv_state(conversation.clone()).await, "resolved");
    assert_eq!(step(agent.clone(), uuid::Uuid::now_v7().to_string(), "claim").await.0, 404);

    let mut tx = fte::db::begin_tenant(&db.pool, a).await.unwrap();
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id").fetch_all(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(actions, ["conversation.claim", "conversation.handback", "conversation.resolve"]);
    let _ = app.stop.send(());
    let _ = app.task.await;
}
