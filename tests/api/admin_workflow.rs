//! The human workflow end to end, against `fte serve` and a local fake of
//! Slack's Web API: a support agent's reply goes out on the customer's
//! channel (in its markup, in the customer's thread) and claims the
//! escalation; replies over the channel's limit are refused, not cut;
//! drafts below the approval threshold wait in the approval queue and are
//! approved, edited-and-sent or rejected (→ escalated); every decision is
//! audited and a decided draft cannot be decided twice.

use crate::common::fake_provider::{FakeProvider, Recorded, signed_webhook};
use crate::common::{TestDb, spawn_serve};
use fte::auth::{Role, create_key};
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use fte::domain::TenantId;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const TEAM: &str = "T0WORKFLOW";
const SECRET: &str = "5f742231b10e8888abcd99yyyzzz85a5";
const BOT_TOKEN: &str = "xoxb-1234-5678-workflow";
const POST: &str = "/api/chat.postMessage";

/// `chat.postMessage` posts; `users.info` (the sender's profile, read
/// before their first message is resolved) answers a profile without
/// email or name.
fn posted(rec: &Recorded) -> (u16, Vec<(String, String)>, String) {
    if rec.path == "/api/users.info" {
        let user = json!({"id": "U0CUSTOMER", "name": "", "profile": {"real_name": "", "display_name": ""}});
        return (200, vec![], json!({"ok": true, "user": user}).to_string());
    }
    let channel = rec.json()["channel"].as_str().unwrap_or("D0").to_string();
    let ts = format!("1700000000.{:06}", uuid::Uuid::new_v4().as_u128() % 1_000_000);
    (200, vec![], json!({"ok": true, "channel": channel, "ts": ts, "message": {"text": "x"}}).to_string())
}

fn dm(event_id: &str, ts: &str, text: &str) -> String {
    json!({
        "token": "legacy", "team_id": TEAM, "api_app_id": "A0APP", "type": "event_callback",
        "event_id": event_id, "event_time": 1700000000,
        "event": {"type": "message", "channel_type": "im", "channel": "D0CUSTOMER", "user": "U0CUSTOMER",
                  "text": text, "ts": ts, "event_ts": ts},
        "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": true}]
    })
    .to_string()
}

struct Env {
    db: TestDb,
    tenant: TenantId,
    fake: FakeProvider,
    child: std::process::Child,
    addr: SocketAddr,
    hook: String,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn env() -> Env {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(posted).await;
    let (child, addr) = spawn_serve(&db.url, &[("FTE_TEST_SLACK_SECRET", SECRET), ("FTE_TEST_SLACK_TOKEN", BOT_TOKEN)]);
    upsert_account(
        &db.pool,
        tenant,
        Provider::Slack,
        TEAM,
        &json!({"signing_secret_env": "FTE_TEST_SLACK_SECRET", "bot_token_env": "FTE_TEST_SLACK_TOKEN",
                "base_url": fake.base_url, "bot_user_id": "U0BOT"}),
    )
    .await
    .unwrap();
    let hook = format!("http://{addr}/webhooks/slack/events");
    Env { db, tenant, fake, child, addr, hook }
}

impl Env {
    fn customer_writes(&self, event_id: &str, ts: &str, text: &str) {
        let (status, body) = signed_webhook(&["slack", &self.hook, SECRET, &dm(event_id, ts, text)]);
        assert_eq!(status, 200, "{body}");
    }

    async fn key(&self, role: Role, name: &str) -> String {
        create_key(&self.db.pool, Some(self.tenant), role, name).await.unwrap().1
    }

    async fn get(&self, path: &str, key: &str) -> Value {
        let r =
            reqwest::Client::new().get(format!("http://{}{path}", self.addr)).bearer_auth(key).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new().post(format!("http://{}{path}", self.addr)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn wait_items(&self, path: &str, key: &str, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let items = self.get(path, key).await["items"].as_array().unwrap().clone();
            if items.len() >= n {
                return items;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never had {n} items");
    }

    async fn state(&self, conversation: &str, key: &str) -> String {
        self.get(&format!("/api/v1/conversations/{conversation}"), key).await["conversation"]["state"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn audit(&self) -> Vec<(String, Value)> {
        let mut tx = fte::db::begin_tenant(&self.db.pool, self.tenant).await.unwrap();
        let rows = sqlx::query_as("SELECT action, after FROM audit_log ORDER BY id").fetch_all(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        rows
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_reply_goes_out_on_the_customers_channel_and_claims_the_escalation() {
    let env = env().await;
    let viewer = env.key(Role::Viewer, "Vic").await;
    let agent = env.key(Role::Agent, "Ana").await;

    env.customer_writes("Ev1", "1700000001.000100", "The export is broken, I want a human");
    let queue = env.wait_items("/api/v1/escalations", &viewer, 1).await;
    let conversation = queue[0]["conversation_id"].as_str().unwrap().to_string();
    assert_eq!(queue[0]["status"], "open");
    assert!(queue[0]["age_seconds"].as_i64().unwrap() >= 0);
    // The holding reply.
    env.fake.wait_for_path(POST, 1, Duration::from_secs(20)).await;

    let reply = format!("/api/v1/conversations/{conversation}/reply");
    let (status, problem) = env.post(&reply, &viewer, Some(json!({"body": "hi"}))).await;
    assert_eq!(status, 403, "{problem}");
    let (status, problem) = env.post(&reply, &agent, Some(json!({"body": "x".repeat(4001)}))).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "body");
    let (status, problem) = env.post(&reply, &agent, Some(json!({"text": "wrong field"}))).await;
    assert_eq!(status, 422, "{problem}");
    let (status, _) = env
        .post(&format!("/api/v1/conversations/{}/reply", uuid::Uuid::now_v7()), &agent, Some(json!({"body": "hi"})))
        .await;
    assert_eq!(status, 404);

    let (status, body) = env
        .post(
            &reply,
            &agent,
            Some(json!({"body": "**Fixed**: the export works again. See [status](https://status.example.com)."})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let message_id = body["message_id"].as_str().unwrap().to_string();
    let sent = env.fake.wait_for_path(POST, 2, Duration::from_secs(20)).await;
    let j = sent[1].json();
    assert_eq!(j["channel"], "D0CUSTOMER");
    assert_eq!(j["thread_ts"], "1700000001.000100", "the reply goes in the customer's thread");
    assert_eq!(j["text"], "*Fixed*: the export works again. See <https://status.example.com|status>.");

    assert_eq!(env.state(&conversation, &viewer).await, "human_active");
    let queue = env.get("/api/v1/escalations", &viewer).await;
    assert_eq!(queue["items"][0]["status"], "claimed");
    assert!(queue["items"][0]["claimed_by"].as_str().unwrap().contains("Ana"));
    let detail = env.get(&format!("/api/v1/conversations/{conversation}"), &viewer).await;
    let mine = detail["messages"].as_array().unwrap().iter().find(|m| m["id"] == message_id.as_str()).unwrap().clone();
    assert_eq!(mine["author"], "human");
    let events: Vec<&str> =
        detail["events"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert!(events.contains(&"human_replied"), "{events:?}");

    let audit = env.audit().await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].0, "conversation.reply");
    assert_eq!(audit[0].1["message_id"], message_id.as_str());
    assert_eq!(audit[0].1["state"], "human_active");

    // Resolved: no more human replies.
    let (status, _) = env.post(&format!("/api/v1/conversations/{conversation}/resolve"), &agent, None).await;
    assert_eq!(status, 200);
    let (status, problem) = env.post(&reply, &agent, Some(json!({"body": "one more thing"}))).await;
    assert_eq!(status, 409, "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_wait_for_approval_and_are_approved_edited_or_rejected() {
    let env = env().await;
    let agent = env.key(Role::Agent, "Ana").await;
    let viewer = env.key(Role::Viewer, "Vic").await;

    // 1. Approve: the draft goes out as it is.
    env.customer_writes("Ev1", "1700000001.000100", "Can you draft me a summary of my invoices?");
    let drafts = env.wait_items("/api/v1/approvals", &viewer, 1).await;
    let conversation = drafts[0]["conversation_id"].as_str().unwrap().to_string();
    assert_eq!(drafts[0]["channel"], "slack");
    assert_eq!(drafts[0]["customer_message"], "Can you draft me a summary of my invoices?");
    assert!((drafts[0]["confidence"].as_f64().unwrap() - 0.5).abs() < 1e-6);
    let draft_text = drafts[0]["draft"].as_str().unwrap().to_string();
    assert_eq!(env.state(&conversation, &viewer).await, "awaiting_approval");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(env.fake.requests_to(POST).is_empty(), "nothing is sent before a human decides");

    let id = drafts[0]["id"].as_str().unwrap().to_string();
    assert_eq!(env.post(&format!("/api/v1/approvals/{id}/approve"), &viewer, None).await.0, 403);
    let (status, body) = env.post(&format!("/api/v1/approvals/{id}/approve"), &agent, None).await;
    assert_eq!(status, 200, "{body}");
    let sent = env.fake.wait_for_path(POST, 1, Duration::from_secs(20)).await;
    assert_eq!(sent[0].json()["text"], draft_text.as_str());
    assert_eq!(sent[0].json()["thread_ts"], "1700000001.000100");
    assert_eq!(env.state(&conversation, &viewer).await, "awaiting_customer");
    let (status, problem) = env.post(&format!("/api/v1/approvals/{id}/approve"), &agent, None).await;
    assert_eq!(status, 404, "a decided draft cannot be decided again: {problem}");

    // 2. Edit and send: the human's text, in the channel's markup.
    env.customer_writes("Ev2", "1700000002.000100", "And a draft for the credit notes?");
    let drafts = env.wait_items("/api/v1/approvals", &viewer, 1).await;
    let id = drafts[0]["id"].as_str().unwrap().to_string();
    let edit = format!("/api/v1/approvals/{id}/edit");
    assert_eq!(env.post(&edit, &agent, Some(json!({"body": "  "}))).await.0, 422);
    let (status, body) = env.post(&edit, &agent, Some(json!({"body": "Credit notes are under **Billing**."}))).await;
    assert_eq!(status, 200, "{body}");
    let sent = env.fake.wait_for_path(POST, 2, Duration::from_secs(20)).await;
    assert_eq!(sent[1].json()["text"], "Credit notes are under *Billing*.");
    assert_eq!(sent[1].json()["thread_ts"], "1700000002.000100");

    // 3. Reject: nothing is sent, the conversation goes to the humans' queue.
    env.customer_writes("Ev3", "1700000003.000100", "One more draft: the tax report");
    let drafts = env.wait_items("/api/v1/approvals", &viewer, 1).await;
    let id = drafts[0]["id"].as_str().unwrap().to_string();
    let (status, body) = env
        .post(&format!("/api/v1/approvals/{id}/reject"), &agent, Some(json!({"note": "tax questions go to finance"})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("message_id").is_none(), "{body}");
    assert_eq!(env.state(&conversation, &viewer).await, "escalated");
    let queue = env.get("/api/v1/escalations", &viewer).await;
    let summary = queue["items"][0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Draft rejected by key:") && summary.ends_with(":Ana: tax questions go to finance"),
        "{summary}"
    );
    assert!(env.get("/api/v1/approvals", &viewer).await["items"].as_array().unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.fake.requests_to(POST).len(), 2, "a rejected draft is never sent");

    let mut tx = fte::db::begin_tenant(&env.db.pool, env.tenant).await.unwrap();
    let decided: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, final_text FROM approvals ORDER BY created_at")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(decided[0], ("approved".to_string(), Some(draft_text)));
    assert_eq!(decided[1], ("edited".to_string(), Some("Credit notes are under *Billing*.".to_string())));
    assert_eq!(decided[2], ("rejected".to_string(), None));
    let actions: Vec<String> = env.audit().await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(actions, ["approval.approve", "approval.edit", "approval.reject"]);
}

/// A process without actors (the `api` role) applies human actions on the
/// stored state; the actor that still holds the older state elsewhere
/// notices at its next commit (version check), re-reads, and carries on
/// from the human's state: nothing is overwritten, nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_taken_without_the_actor_is_seen_by_the_actor_holding_older_state() {
    use fte::actors::{HumanAction, HumanRefusal, carry_out_stored};
    use fte::domain::{ConversationId, CustomerId};
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let runtime =
        crate::common::runtime_with(&db, std::sync::Arc::new(fte::brain::EchoBrain), Default::default()).await;
    let first = runtime.submit(crate::common::email(tenant, "ana@example.com", "h-1", "I want a human")).await.unwrap();
    let conversation = first.conversation_id;
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let customer: uuid::Uuid = sqlx::query_scalar("SELECT customer_id FROM conversations WHERE id = $1")
        .bind(conversation)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let customer = CustomerId::from_uuid(customer);

    // The actor is resident and holds `escalated`; a human replies elsewhere.
    let by = "key:test:Ana".to_string();
    let done = carry_out_stored(
        &db.pool,
        tenant,
        customer,
        conversation,
        HumanAction::Reply { by: by.clone(), body: "On it.".into() },
        100,
    )
    .await
    .unwrap();
    assert!(done.reply_id.is_some());
    // An action on a conversation that is not the customer's current one is refused.
    let other = ConversationId::new();
    let refused = carry_out_stored(&db.pool, tenant, customer, other, HumanAction::Claim { by: by.clone() }, 100).await;
    assert!(matches!(refused, Err(HumanRefusal::NotCurrent)), "{refused:?}");

    // The customer writes again: the stale actor re-reads and the message
    // lands on the human-active conversation (forwarded, no AI answer).
    let second = runtime.submit(crate::common::email(tenant, "ana@example.com", "h-2", "Thanks!")).await.unwrap();
    assert_eq!(second.conversation_id, conversation);
    let (_, state) = runtime.inspect(tenant, customer).await.unwrap();
    assert_eq!(state.status.as_str(), "human_active");
    assert_eq!(state.version, done.state_version + 1);
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let authors: Vec<String> =
        sqlx::query_scalar("SELECT author FROM messages WHERE conversation_id = $1 ORDER BY created_at")
            .bind(conversation)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        authors,
        ["customer", "system", "human", "customer"],
        "the human's reply is kept, no AI answer after it"
    );
    runtime.shutdown().await;
}
