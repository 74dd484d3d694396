//! The OpenAI-compatible brain against a local fake server that speaks the
//! chat-completions tool-calling wire format (scripted tool calls with
//! `usage`): a full turn; a timeout falls back to the local brain; malformed
//! tool arguments are fed back and the model recovers; an exhausted budget
//! skips the model (fallback + alert); a model that tries to quote a price
//! is blocked by the output filter and the turn escalates instead; a
//! hundred turns share one model client.

use crate::common::{TestDb, context_dir, email, runtime_with};
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use fte::agent::AgentBrain;
use fte::agent::config::{AgentConfig, BrainName, ModelEndpoint};
use fte::crm::MergePolicy;
use fte::db::begin_tenant;
use fte::domain::TenantId;
use fte::kb::{self, HashingEmbedder, KbSearch};
use fte::runtime::RuntimeConfig;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A scripted chat-completions server: each request pops the next reply.
#[derive(Clone, Default)]
struct Fake {
    script: Arc<Mutex<VecDeque<Scripted>>>,
    requests: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone)]
enum Scripted {
    ToolCall { name: &'static str, arguments: String },
    Stall(Duration),
}

async fn completions(State(fake): State<Fake>, Json(body): Json<Value>) -> Json<Value> {
    fake.requests.lock().unwrap().push(body);
    let next = fake.script.lock().unwrap().pop_front();
    let n = fake.requests.lock().unwrap().len();
    let call = match next {
        Some(Scripted::ToolCall { name, arguments }) => (name, arguments),
        Some(Scripted::Stall(d)) => {
            tokio::time::sleep(d).await;
            ("send_response", json!({ "message": "too late" }).to_string())
        }
        None => ("send_response", json!({ "message": "script exhausted" }).to_string()),
    };
    Json(json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": 1_700_000_000u32,
        "model": "fake-model",
        "choices": [{
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": format!("call_{n}"),
                    "type": "function",
                    "function": { "name": call.0, "arguments": call.1 }
                }]
            }
        }],
        "usage": { "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120 }
    }))
}

async fn start_fake(script: Vec<Scripted>) -> (Fake, String) {
    let fake = Fake { script: Arc::new(Mutex::new(script.into())), ..Default::default() };
    let app = axum::Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, format!("http://{addr}/v1"))
}

fn call(name: &'static str, arguments: Value) -> Scripted {
    Scripted::ToolCall { name, arguments: arguments.to_string() }
}

struct Setup {
    db: TestDb,
    tenant: TenantId,
}

async fn setup(base_url: &str, timeout_ms: u64, budget: Option<f64>) -> (Setup, Arc<fte::runtime::Runtime>) {
    let db = TestDb::new().await;
    let tenant = db.tenant("acme", MergePolicy::Manual).await.id;
    let embedder = Arc::new(HashingEmbedder::default());
    let articles = kb::read_articles(&context_dir().join("product-docs")).unwrap();
    kb::ingest(&db.pool, tenant, embedder.as_ref(), &articles).await.unwrap();
    let config = AgentConfig {
        brains: vec![BrainName::Primary, BrainName::Local],
        primary_model: Some(ModelEndpoint {
            base_url: base_url.to_string(),
            model: "fake-model".into(),
            api_key_env: None,
            timeout_ms,
            max_tool_rounds: 6,
            prompt_usd_per_mtok: 1000.0,
            completion_usd_per_mtok: 2000.0,
        }),
        monthly_budget_usd: budget,
        approval_threshold: 0.0,
        ..AgentConfig::default()
    };
    config.store(&db.pool, tenant).await.unwrap();
    let brain = Arc::new(AgentBrain::new(db.pool.clone(), embedder, Arc::new(KbSearch::new())));
    let runtime = runtime_with(&db, brain, RuntimeConfig::default()).await;
    (Setup { db, tenant }, runtime)
}

/// (brain, decision, reason, tool names, fallbacks, prompt tokens, cost, reply)
type Turn = (String, String, Option<String>, Vec<String>, Value, i32, f64, Option<String>);

async fn last_turn(s: &Setup) -> Turn {
    let mut tx = begin_tenant(&s.db.pool, s.tenant).await.unwrap();
    let row: (String, String, Option<String>, Value, Value, i32, f64, uuid::Uuid) = sqlx::query_as(
        "SELECT brain, decision, reason, tool_calls, fallbacks, prompt_tokens, cost_usd, inbound_message
           FROM agent_turns ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let reply: Option<String> =
        sqlx::query_scalar("SELECT body FROM messages WHERE in_reply_to = $1 AND direction = 'outbound'")
            .bind(row.7)
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    let tools = row.3.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    (row.0, row.1, row.2, tools, row.4, row.5, row.6, reply)
}

#[tokio::test]
async fn a_full_model_turn_runs_the_tools_in_order_and_records_usage() {
    let (fake, url) = start_fake(vec![
        call("create_ticket", json!({ "subject": "Reset link", "category": "account", "priority": "medium" })),
        call("search_knowledge_base", json!({ "query": "reset link expired", "max_results": 3 })),
        call("send_response", json!({ "message": "Reset links are valid for 60 minutes and can only be used once." })),
    ])
    .await;
    let (s, runtime) = setup(&url, 5_000, None).await;
    let receipt = runtime
        .submit(email(s.tenant, "ana@example.com", "m1", "My password reset link says it expired. What now?"))
        .await
        .unwrap();
    assert_eq!(receipt.replies.len(), 1);
    let (brain, decision, _, tools, fallbacks, prompt_tokens, cost, reply) = last_turn(&s).await;
    assert_eq!(brain, "primary");
    assert_eq!(decision, "reply");
    // The runtime's own pre-steps come first, then the model's calls; the
    // model's send_response is the last word.
    assert_eq!(tools.first().map(String::as_str), Some("create_ticket"));
    assert_eq!(tools.last().map(String::as_str), Some("send_response"));
    assert!(tools.contains(&"search_knowledge_base".to_string()));
    assert_eq!(fallbacks, json!([]));
    assert_eq!(prompt_tokens, 300, "three rounds of 100 prompt tokens");
    assert!((cost - (300.0 * 1000.0 + 60.0 * 2000.0) / 1e6).abs() < 1e-9, "cost {cost}");
    let reply = reply.unwrap();
    assert!(reply.starts_with("Hello,") && reply.contains("valid for 60 minutes") && reply.contains("TKT-"), "{reply}");
    // The model saw the strict tool schemas.
    let first = fake.requests.lock().unwrap()[0].clone();
    let names: Vec<&str> =
        first["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["create_ticket", "get_customer_history", "search_knowledge_base", "escalate_to_human", "send_response"]
    );
    assert!(first["tools"].as_array().unwrap().iter().all(|t| t["function"]["strict"] == json!(true)));
    // The roll-up per tenant, brain and conversation.
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let report = fte::agent::usage::tenant_usage(&s.db.pool, s.tenant, since, chrono::Utc::now(), 10).await.unwrap();
    assert_eq!((report.total.turns, report.total.prompt_tokens, report.total.completion_tokens), (1, 300, 60));
    assert!((report.total.cost_usd - cost).abs() < 1e-9);
    assert_eq!(report.by_brain[0].0, "primary");
    assert_eq!(report.by_conversation[0].conversation_id, receipt.conversation_id.as_uuid());
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_timeout_falls_back_to_the_local_brain() {
    let (_fake, url) = start_fake(vec![Scripted::Stall(Duration::from_secs(3))]).await;
    let (s, runtime) = setup(&url, 300, None).await;
    runtime
        .submit(email(s.tenant, "ana@example.com", "m1", "How long is a password reset link valid for?"))
        .await
        .unwrap();
    let (brain, decision, _, _, fallbacks, _, _, reply) = last_turn(&s).await;
    assert_eq!(brain, "local");
    assert_eq!(decision, "reply");
    assert_eq!(fallbacks[0]["brain"], "primary");
    assert!(fallbacks[0]["error"].as_str().unwrap().contains("timed out"), "{fallbacks}");
    assert!(reply.unwrap().contains("60 minutes"));
    runtime.shutdown().await;
}

#[tokio::test]
async fn malformed_tool_arguments_are_reported_back_and_the_model_recovers() {
    let (fake, url) = start_fake(vec![
        Scripted::ToolCall { name: "search_knowledge_base", arguments: "{\"query\": ".into() },
        call("search_knowledge_base", json!({ "query": "export pdf", "max_results": 9, "extra": 1 })),
        call("search_knowledge_base", json!({ "query": "export pdf", "max_results": 2 })),
        call("send_response", json!({ "message": "Open the report and choose **Export > PDF**." })),
    ])
    .await;
    let (s, runtime) = setup(&url, 5_000, None).await;
    runtime.submit(email(s.tenant, "ana@example.com", "m1", "How do I export a report as PDF?")).await.unwrap();
    let (brain, decision, _, tools, _, _, _, reply) = last_turn(&s).await;
    assert_eq!((brain.as_str(), decision.as_str()), ("primary", "reply"));
    assert!(reply.unwrap().contains("Export > PDF"));
    assert_eq!(tools.iter().filter(|t| *t == "search_knowledge_base").count(), 3, "{tools:?}");
    // Each bad call got an error result the model could read.
    let requests = fake.requests.lock().unwrap().clone();
    let tool_results: Vec<String> = requests.last().unwrap()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    assert!(tool_results[0].contains("not JSON"), "{tool_results:?}");
    assert!(tool_results[1].contains("unknown field"), "{tool_results:?}");
    runtime.shutdown().await;
}

#[tokio::test]
async fn an_exhausted_budget_skips_the_model_and_raises_an_alert() {
    let (fake, url) = start_fake(vec![]).await;
    let (s, runtime) = setup(&url, 5_000, Some(0.0)).await;
    runtime
        .submit(email(s.tenant, "ana@example.com", "m1", "How long is a password reset link valid for?"))
        .await
        .unwrap();
    let (brain, _, _, _, fallbacks, _, _, _) = last_turn(&s).await;
    assert_eq!(brain, "local");
    assert_eq!(fallbacks, json!([{ "brain": "primary", "error": "monthly budget exhausted" }]));
    assert!(fake.requests.lock().unwrap().is_empty(), "the model was not called");
    let mut tx = begin_tenant(&s.db.pool, s.tenant).await.unwrap();
    let alerts: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE payload->>'alert' = 'budget_exhausted'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(alerts, 1);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_model_quoting_a_price_is_blocked_and_the_turn_escalates() {
    let (_fake, url) = start_fake(vec![
        call("create_ticket", json!({ "subject": null, "category": null, "priority": "low" })),
        call("send_response", json!({ "message": "Our Pro plan is $12 per seat per month, billed annually." })),
    ])
    .await;
    let (s, runtime) = setup(&url, 5_000, None).await;
    runtime.submit(email(s.tenant, "ana@example.com", "m1", "Which features does the Pro plan add?")).await.unwrap();
    let (brain, decision, reason, _, _, _, _, reply) = last_turn(&s).await;
    assert_eq!(brain, "primary");
    assert_eq!(decision, "escalate");
    assert_eq!(reason.as_deref(), Some("pricing_inquiry"));
    let reply = reply.unwrap();
    assert!(!reply.contains('$') && !reply.contains("12"), "{reply}");
    assert!(reply.contains("sales team"), "{reply}");
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_hundred_turns_build_the_model_client_once() {
    let (fake, url) = start_fake(vec![]).await;
    let (s, runtime) = setup(&url, 5_000, None).await;
    // Counts every HTTP client built in the process: nextest runs each test
    // in its own.
    let http_before = fte::http_clients::http_clients_built();
    let tenant = s.tenant;
    let turns: Vec<_> = futures::stream::iter(0..100)
        .map(|i| {
            let runtime = runtime.clone();
            async move {
                let message = email(
                    tenant,
                    &format!("customer{i}@example.com"),
                    &format!("m{i}"),
                    "How long is a password reset link valid for?",
                );
                runtime.submit(message).await.unwrap()
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(turns.len(), 100);
    assert_eq!(fake.requests.lock().unwrap().len(), 100, "one model request per turn");
    let mut tx = begin_tenant(&s.db.pool, s.tenant).await.unwrap();
    let primary: i64 = sqlx::query_scalar("SELECT count(*) FROM agent_turns WHERE brain = 'primary'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(primary, 100, "every turn answered by the model");
    assert_eq!(fte::http_clients::openai_clients_built(&url), 1, "one model client for the endpoint");
    let http_built = fte::http_clients::http_clients_built() - http_before;
    assert!(http_built <= 1, "at most the shared HTTP client was built, not one per turn: {http_built}");
    runtime.shutdown().await;
}
