//! Slack end to end, against `fte serve` and a local fake of Slack's Web
//! API: `url_verification` and events signed by the official `slack_sdk`
//! (`SignatureVerifier`), the reply posted in the customer's thread with
//! `chat.postMessage`, a 429 with `Retry-After` honoured; and refusals:
//! unsigned, stale, mis-signed, unknown workspace, bot messages, retried
//! deliveries — nothing stored twice, nothing answered that should not be.
//! Hostile text in a signed event: a lone surrogate or invalid UTF-8 is
//! refused (400, nothing stored); control characters are cleaned, stored
//! and answered; 1 MB of emoji is taken with its body cut.

use crate::common::fake_provider::{FakeProvider, Recorded, signed_webhook};
use crate::common::{TestDb, spawn_serve};
use fte::channels::Provider;
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::TenantId;
use serde_json::json;
use std::time::Duration;

const TEAM: &str = "T0TESTTEAM";
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const BOT_TOKEN: &str = "xoxb-1234-5678-testtoken";

fn posted(rec: &Recorded) -> (u16, Vec<(String, String)>, String) {
    let channel = rec.json()["channel"].as_str().unwrap_or("D0").to_string();
    let ts = format!("1700000000.{:06}", uuid::Uuid::new_v4().as_u128() % 1_000_000);
    (200, vec![], json!({"ok": true, "channel": channel, "ts": ts, "message": {"text": "x"}}).to_string())
}

fn event(event_id: &str, ts: &str, text: &str, extra: serde_json::Value) -> String {
    let mut ev = json!({
        "type": "message", "channel_type": "im", "channel": "D0CUSTOMER", "user": "U0CUSTOMER",
        "text": text, "ts": ts, "event_ts": ts, "client_msg_id": uuid::Uuid::new_v4().to_string(),
    });
    for (k, v) in extra.as_object().unwrap() {
        ev[k] = v.clone();
    }
    json!({
        "token": "legacy", "team_id": TEAM, "api_app_id": "A0APP", "type": "event_callback",
        "event_id": event_id, "event_time": 1700000000, "event": ev,
        "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": true}]
    })
    .to_string()
}

async fn counts(db: &TestDb, tenant: TenantId) -> (i64, i64) {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let row = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE direction = 'inbound'), count(*) FILTER (WHERE direction = 'outbound') FROM messages",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row
}

async fn latest_reply(db: &TestDb, tenant: TenantId) -> (Option<String>, String) {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let row = sqlx::query_as(
        "SELECT external_id, delivery_status FROM messages WHERE direction = 'outbound' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_events_are_answered_in_thread() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(posted).await;
    fake.script([(
        429,
        vec![("Retry-After".into(), "1".into())],
        json!({"ok": false, "error": "ratelimited"}).to_string(),
    )]);
    let (mut child, addr) = spawn_serve(
        &db.url,
        &[("FTE_TEST_SLACK_SECRET", SECRET), ("FTE_TEST_SLACK_TOKEN", BOT_TOKEN), ("SEND_BACKOFF_BASE_MS", "50")],
    );
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

    // URL verification, signed by slack_sdk.
    let challenge = json!({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
    let (status, body) = signed_webhook(&["slack", &hook, SECRET, &challenge]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    // A DM: answered in its thread, after one 429.
    let dm = event("Ev0001", "1700000001.000100", "How do I export invoices?", json!({}));
    let (status, body) = signed_webhook(&["slack", &hook, SECRET, &dm]);
    assert_eq!(status, 200, "{body}");
    let sent = fake.wait_for(2, Duration::from_secs(20)).await;
    let req = &sent[1];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/api/chat.postMessage"));
    assert_eq!(req.header("authorization"), Some(format!("Bearer {BOT_TOKEN}").as_str()));
    let j = req.json();
    assert_eq!(j["channel"], "D0CUSTOMER");
    assert_eq!(j["thread_ts"], "1700000001.000100");
    assert!(!j["text"].as_str().unwrap().is_empty());
    for _ in 0..100 {
        if latest_reply(&db, tenant).await.1 == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (external_id, status) = latest_reply(&db, tenant).await;
    assert_eq!(status, "delivered");
    assert!(external_id.unwrap().starts_with("D0CUSTOMER:1700000000."));

    // Slack retries the delivery: acknowledged, not taken in again.
    let (status, _) = signed_webhook(&["slack", &hook, SECRET, &dm]);
    assert_eq!(status, 200);
    // Our own bot's message and an edit: acknowledged and dropped.
    let bot = event("Ev0002", "1700000002.000100", "I am the bot", json!({"bot_id": "B0BOT"}));
    assert_eq!(signed_webhook(&["slack", &hook, SECRET, &bot]).0, 200);
    let edit = event("Ev0003", "1700000003.000100", "edited", json!({"subtype": "message_changed"}));
    assert_eq!(signed_webhook(&["slack", &hook, SECRET, &edit]).0, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counts(&db, tenant).await, (1, 1));
    assert_eq!(fake.requests().len(), 2);

    // Refusals.
    let fresh = event("Ev0004", "1700000004.000100", "hello", json!({}));
    let stale = (chrono::Utc::now().timestamp() - 400).to_string();
    assert_eq!(signed_webhook(&["slack", &hook, SECRET, &fresh, &stale]).0, 401);
    assert_eq!(signed_webhook(&["slack", &hook, "wrong-secret", &fresh]).0, 401);
    let r = reqwest::Client::new()
        .post(&hook)
        .header("content-type", "application/json")
        .body(fresh.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let other_team = fresh.replace(TEAM, "T0UNKNOWN");
    assert_eq!(signed_webhook(&["slack", &hook, SECRET, &other_team]).0, 403);
    let truncated = &fresh[..fresh.len() / 2];
    assert_eq!(signed_webhook(&["slack", &hook, SECRET, truncated]).0, 400, "signed, but truncated JSON");
    assert_eq!(counts(&db, tenant).await, (1, 1));
    child.kill().ok();
    child.wait().ok();
}

/// Posts `body` signed as Slack signs (`v0=` HMAC-SHA256 of
/// `v0:{timestamp}:{body}` with the signing secret), over exactly the
/// bytes sent: for bodies the SDK client cannot carry (not UTF-8, over a
/// command line's length). Returns the status and the response text.
async fn post_signed_bytes(url: &str, body: Vec<u8>) -> (u16, String) {
    let ts = chrono::Utc::now().timestamp().to_string();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let base = [format!("v0:{ts}:").as_bytes(), &body].concat();
    let tag = ring::hmac::sign(&key, &base);
    let signature = format!("v0={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>());
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!(status < 500, "a hostile event got {status}");
    (status, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_a_signed_event_is_refused_with_nothing_stored_or_cleaned_stored_and_answered() {
    use crate::common::hostile::{
        HOSTILE, HOSTILE_CLEANED, LONE_SURROGATE, ONE_MB, Rows, assert_nothing_stored, emoji, inbound, wait_rows,
        wait_stored_reply,
    };
    use fte::domain::MAX_BODY_CHARS;
    let db = TestDb::new().await;
    let tenant = db.tenant("hostile", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(posted).await;
    let (mut child, addr) =
        spawn_serve(&db.url, &[("FTE_TEST_SLACK_SECRET", SECRET), ("FTE_TEST_SLACK_TOKEN", BOT_TOKEN)]);
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

    // A lone surrogate escape in the text, validly signed: not JSON (400).
    let raw = event("Ev0101", "1700000101.000100", "Hi LONE there", json!({})).replace("LONE", LONE_SURROGATE);
    assert!(raw.contains(r"Hi \ud800 there"), "{raw}");
    let (status, problem) = post_signed_bytes(&hook, raw.into_bytes()).await;
    assert_eq!(status, 400, "lone surrogate: {problem}");
    // Invalid UTF-8 inside the text, validly signed: 400.
    let mut raw = event("Ev0102", "1700000102.000100", "Hi BYTES there", json!({})).into_bytes();
    let at = raw.windows(5).position(|w| w == b"BYTES").unwrap();
    raw.splice(at..at + 5, *b"\xff\xfe\xc3\x28\x80");
    let (status, problem) = post_signed_bytes(&hook, raw).await;
    assert_eq!(status, 400, "invalid UTF-8: {problem}");
    assert_nothing_stored(&db, tenant, "the refused events").await;
    assert!(fake.requests().is_empty(), "nothing answered");

    // NUL, bell, ESC, a right-to-left override, a decomposed é and CR LF,
    // signed by slack_sdk: acknowledged, stored cleaned, answered.
    let hostile = event("Ev0103", "1700000103.000100", HOSTILE, json!({}));
    let (status, body) = signed_webhook(&["slack", &hook, SECRET, &hostile]);
    assert_eq!(status, 200, "{body}");
    let id = "D0CUSTOMER:1700000103.000100";
    let reply = wait_stored_reply(&db, tenant, id).await;
    assert!(reply.contains(&format!("\"{HOSTILE_CLEANED}\"")), "the reply quotes the cleaned text: {reply}");
    let (body, meta, name) = inbound(&db, tenant, id).await;
    assert_eq!(body, HOSTILE_CLEANED);
    assert_eq!(name, None, "Slack events carry no display name");
    assert_eq!(meta["extra"]["event_id"], "Ev0103", "{meta}");
    // At the fake: the reply, in the customer's thread.
    let sent = fake.wait_for(1, Duration::from_secs(20)).await;
    let j = sent[0].json();
    assert_eq!((j["channel"].as_str(), j["thread_ts"].as_str()), (Some("D0CUSTOMER"), Some("1700000103.000100")));
    assert_eq!(j["text"], reply.as_str());

    // 1 MB of emoji: under the 1 MiB webhook limit, so taken in (200),
    // its body cut to MAX_BODY_CHARS with the cut recorded, and answered.
    let big = event("Ev0104", "1700000104.000100", &emoji(ONE_MB), json!({}));
    assert!(big.len() < 1024 * 1024, "{}", big.len());
    let (status, problem) = post_signed_bytes(&hook, big.into_bytes()).await;
    assert_eq!(status, 200, "1 MB of emoji: {problem}");
    let id = "D0CUSTOMER:1700000104.000100";
    let reply = wait_stored_reply(&db, tenant, id).await;
    assert!(reply.contains(&format!("\"{}…\"", emoji(120 * 4))), "{}", reply.chars().take(300).collect::<String>());
    let (body, meta, _) = inbound(&db, tenant, id).await;
    assert_eq!(body, emoji(MAX_BODY_CHARS * 4));
    assert_eq!(meta["extra"]["body_truncated"], json!({"original_chars": ONE_MB / 4}), "{meta}");
    let sent = fake.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(sent[1].json()["text"], reply.as_str());

    // One customer, both messages, every turn settled; nothing escalated.
    wait_rows(&db, tenant, Rows { customers: 1, identifiers: 1, inbound: 2, intake: 0 }).await;
    assert_eq!(crate::common::tenant_count(&db, tenant, "SELECT count(*) FROM escalations").await, 0);
    assert_eq!(counts(&db, tenant).await, (2, 2));
    child.kill().ok();
    child.wait().ok();
}
