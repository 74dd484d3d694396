//! Slack end to end, against `fte serve` and a local fake of Slack's Web
//! API: `url_verification` and events signed by the official `slack_sdk`
//! (`SignatureVerifier`), the reply posted in the customer's thread with
//! `chat.postMessage`, a 429 with `Retry-After` honoured; and refusals:
//! unsigned, stale, mis-signed, unknown workspace, bot messages, retried
//! deliveries — nothing stored twice, nothing answered that should not be.
//! Hostile text in a signed event: a lone surrogate or invalid UTF-8 is
//! refused (400, nothing stored); control characters are cleaned, stored
//! and answered; 1 MB of emoji is taken with its body cut.
//!
//! The sender's profile (`users.info`, in Slack's wire format): a Slack
//! user whose profile email is an existing email customer's becomes that
//! customer (one customer, two identifiers), read once for many messages;
//! `missing_scope`, a 429 and a timeout leave the message answered and
//! its customer with the Slack id alone, the webhook acknowledged at once;
//! the profile's email and name are never logged; and in a Kafka
//! deployment the worker reads the profile.

use crate::common::fake_provider::{FakeProvider, Recorded, Reply, signed_webhook};
use crate::common::{TestDb, kafka_brokers, spawn_role, spawn_serve, spawn_serve_logged};
use fte::crm::{MergePolicy, resolve_customer, upsert_account};
use fte::domain::Provider;
use fte::domain::{EmailAddress, Identifier, TenantId};
use serde_json::json;
use std::time::{Duration, Instant};

const TEAM: &str = "T0TESTTEAM";
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const BOT_TOKEN: &str = "xoxb-1234-5678-testtoken";
const POST: &str = "/api/chat.postMessage";
const USERS_INFO: &str = "/api/users.info";

/// In every profile email and name below.
const MARK: &str = "piimark";

/// A user object as `users.info` returns it (docs.slack.dev), with the
/// email only when the token may read it.
fn user_object(id: &str, email: Option<&str>, real_name: &str, display_name: &str) -> serde_json::Value {
    let mut profile = json!({
        "avatar_hash": "ge3b51ca72de", "status_text": "", "status_emoji": "",
        "real_name": real_name, "display_name": display_name,
        "real_name_normalized": real_name, "display_name_normalized": display_name,
        "image_24": "https://a.slack-edge.com/avatar/24.png", "team": TEAM,
    });
    if let Some(email) = email {
        profile["email"] = email.into();
    }
    json!({
        "id": id, "team_id": TEAM, "name": display_name, "deleted": false, "color": "9f69e7",
        "real_name": real_name, "tz": "Europe/Amsterdam", "tz_label": "Central European Time", "tz_offset": 3600,
        "profile": profile, "is_admin": false, "is_owner": false, "is_primary_owner": false, "is_restricted": false,
        "is_ultra_restricted": false, "is_bot": false, "updated": 1502138686, "is_app_user": false, "has_2fa": false,
    })
}

/// Slack's Web API: `chat.postMessage` posts; `users.info` answers by user:
/// full profiles for `U0LENA` and `U0NEWBIE`, `missing_scope` for
/// `U0SCOPE`, a 429 for `U0LIMIT`, a blank profile without email (a token
/// without `users:read.email`, a user who filled nothing in) for anyone
/// else.
fn slack_api(rec: &Recorded) -> Reply {
    if rec.path == USERS_INFO {
        let user = rec.query_pairs().into_iter().find(|(k, _)| k == "user").map(|(_, v)| v).unwrap_or_default();
        let profile = |email, real, display| json!({"ok": true, "user": user_object(&user, email, real, display)});
        let body = match user.as_str() {
            "U0LENA" => profile(Some("Lena.Piimark@Strandwerk.example"), "Lena Piimark", "lena.piimark"),
            "U0NEWBIE" => profile(Some("newbie.piimark@example.com"), "Nora Piimark", "nora"),
            "U0SLOW" => profile(Some("slow.piimark@example.com"), "Slow Piimark", "slow"),
            "U0SCOPE" => {
                json!({"ok": false, "error": "missing_scope", "needed": "users:read", "provided": "chat:write"})
            }
            "U0LIMIT" => {
                let body = json!({"ok": false, "error": "ratelimited"}).to_string();
                return (429, vec![("Retry-After".into(), "30".into())], body);
            }
            _ => profile(None, "", ""),
        };
        return (200, vec![], body.to_string());
    }
    posted(rec)
}

fn posted(rec: &Recorded) -> Reply {
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
    let fake = FakeProvider::start(slack_api).await;
    fake.script_path(
        POST,
        [(429, vec![("Retry-After".into(), "1".into())], json!({"ok": false, "error": "ratelimited"}).to_string())],
    );
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
    let sent = fake.wait_for_path(POST, 2, Duration::from_secs(20)).await;
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
    assert_eq!(fake.requests_to(POST).len(), 2);
    assert_eq!(fake.requests_to(USERS_INFO).len(), 1, "the sender's profile, read once");

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
    let fake = FakeProvider::start(slack_api).await;
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
    assert_eq!(name, None, "Slack events carry no display name, and this user's profile has none");
    assert_eq!(meta["extra"]["event_id"], "Ev0103", "{meta}");
    // At the fake: the reply, in the customer's thread.
    let sent = fake.wait_for_path(POST, 1, Duration::from_secs(20)).await;
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
    let sent = fake.wait_for_path(POST, 2, Duration::from_secs(20)).await;
    assert_eq!(sent[1].json()["text"], reply.as_str());

    // One customer, both messages, every turn settled; nothing escalated.
    wait_rows(&db, tenant, Rows { customers: 1, identifiers: 1, inbound: 2, intake: 0 }).await;
    assert_eq!(crate::common::tenant_count(&db, tenant, "SELECT count(*) FROM escalations").await, 0);
    assert_eq!(counts(&db, tenant).await, (2, 2));
    child.kill().ok();
    child.wait().ok();
}

async fn slack_account(db: &TestDb, tenant: TenantId, team: &str, base_url: &str) {
    upsert_account(
        &db.pool,
        tenant,
        Provider::Slack,
        team,
        &json!({"signing_secret_env": "FTE_TEST_SLACK_SECRET", "bot_token_env": "FTE_TEST_SLACK_TOKEN",
                "base_url": base_url, "bot_user_id": "U0BOT"}),
    )
    .await
    .unwrap();
}

/// A DM from `user` in `team`, in the DM channel `D{user}`.
fn dm_from(user: &str, team: &str, event_id: &str, ts: &str) -> String {
    event(event_id, ts, "How do I export my invoices?", json!({"user": user, "channel": format!("D{user}")}))
        .replace(TEAM, team)
}

/// Every customer of the tenant as (display name, identifiers as
/// `kind:value`, sorted), sorted.
async fn customers(db: &TestDb, tenant: TenantId) -> Vec<(Option<String>, Vec<String>)> {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let mut rows: Vec<(Option<String>, Vec<String>)> = sqlx::query_as(
        "SELECT c.display_name, array_agg(ci.kind || ':' || ci.value ORDER BY ci.kind, ci.value)
           FROM customers c JOIN customer_identifiers ci ON ci.customer_id = c.id
          WHERE c.merged_into IS NULL GROUP BY c.id",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rows.sort();
    rows
}

async fn customer_of(db: &TestDb, tenant: TenantId, external_id: &str) -> uuid::Uuid {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let customer =
        sqlx::query_scalar("SELECT customer_id FROM messages WHERE external_id = $1 AND direction = 'inbound'")
            .bind(external_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    customer
}

fn ids(customer: &[&str]) -> Vec<String> {
    customer.iter().map(|s| s.to_string()).collect()
}

/// The log lines (JSON) whose message is `message`; panics when a line
/// holds a profile's email or name.
fn logged(lines: &[String], message: &str) -> Vec<serde_json::Value> {
    let leaks: Vec<&String> = lines.iter().filter(|l| l.to_lowercase().contains(MARK)).collect();
    assert!(
        leaks.is_empty(),
        "personal data in the logs:\n{}",
        leaks.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
    );
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == message)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_users_profile_email_makes_them_the_customer_who_emailed_before() {
    let db = TestDb::new().await;
    let tenant = db.tenant("profiles", MergePolicy::Manual).await.id;
    let lena = Identifier::Email(EmailAddress::parse("lena.piimark@strandwerk.example").unwrap());
    let emailed =
        resolve_customer(&db.pool, tenant, &[lena], Some("Lena Piimark (web form)")).await.unwrap().customer_id;
    let fake = FakeProvider::start(slack_api).await;
    let (mut child, addr, logs) =
        spawn_serve_logged(&db.url, &[("FTE_TEST_SLACK_SECRET", SECRET), ("FTE_TEST_SLACK_TOKEN", BOT_TOKEN)]);
    slack_account(&db, tenant, TEAM, &fake.base_url).await;
    let hook = format!("http://{addr}/webhooks/slack/events");

    // Lena's first Slack message: her profile is read once, with the bot
    // token, and its email (upper case at Slack) is the one she wrote from.
    let (status, body) =
        signed_webhook(&["slack", &hook, SECRET, &dm_from("U0LENA", TEAM, "Ev0301", "1700000301.000100")]);
    assert_eq!(status, 200, "{body}");
    fake.wait_for_path(POST, 1, Duration::from_secs(30)).await;
    let reads = fake.requests_to(USERS_INFO);
    assert_eq!(reads.len(), 1);
    assert_eq!((reads[0].method.as_str(), reads[0].body.as_str()), ("GET", ""));
    assert_eq!(reads[0].query_pairs(), [("user".to_string(), "U0LENA".to_string())]);
    assert_eq!(reads[0].header("authorization"), Some(format!("Bearer {BOT_TOKEN}").as_str()));
    let lena_customer =
        (Some("Lena Piimark (web form)".to_string()), ids(&["email:lena.piimark@strandwerk.example", "slack:U0LENA"]));
    assert_eq!(customers(&db, tenant).await, std::slice::from_ref(&lena_customer), "one customer, two identifiers");
    assert_eq!(customer_of(&db, tenant, "DU0LENA:1700000301.000100").await, emailed.as_uuid());

    // Her second message: answered, nothing read again.
    let (status, _) =
        signed_webhook(&["slack", &hook, SECRET, &dm_from("U0LENA", TEAM, "Ev0302", "1700000302.000100")]);
    assert_eq!(status, 200);
    fake.wait_for_path(POST, 2, Duration::from_secs(30)).await;
    assert_eq!(fake.requests_to(USERS_INFO).len(), 1, "the profile is cached");
    assert_eq!(customer_of(&db, tenant, "DU0LENA:1700000302.000100").await, emailed.as_uuid());

    // Someone new: a new customer with both identifiers, named from the
    // profile (`real_name`).
    let (status, _) =
        signed_webhook(&["slack", &hook, SECRET, &dm_from("U0NEWBIE", TEAM, "Ev0303", "1700000303.000100")]);
    assert_eq!(status, 200);
    fake.wait_for_path(POST, 3, Duration::from_secs(30)).await;
    assert_eq!(fake.requests_to(USERS_INFO).len(), 2);
    let newbie = (Some("Nora Piimark".to_string()), ids(&["email:newbie.piimark@example.com", "slack:U0NEWBIE"]));
    let mut want = vec![lena_customer, newbie];
    want.sort();
    assert_eq!(customers(&db, tenant).await, want);

    child.kill().ok();
    child.wait().ok();
    let lines = logs.all(Duration::from_secs(10));
    let reads = logged(&lines, "Slack profile read");
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert_eq!(reads[0]["fields"]["slack_user_id"], "U0LENA");
    assert_eq!(reads[0]["fields"]["team_id"], TEAM);
    assert_eq!(reads[0]["fields"]["email_found"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_profile_failures_leave_the_message_answered_with_the_slack_id_alone() {
    let db = TestDb::new().await;
    let tenant = db.tenant("failures", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(slack_api).await;
    let slow = FakeProvider::start(slack_api).await;
    slow.delay_path(USERS_INFO, Duration::from_secs(3));
    let (mut child, addr, logs) =
        spawn_serve_logged(&db.url, &[("FTE_TEST_SLACK_SECRET", SECRET), ("FTE_TEST_SLACK_TOKEN", BOT_TOKEN)]);
    for (team, api) in [("T0SCOPE", &fake), ("T0LIMIT", &fake), ("T0SLOW", &slow)] {
        slack_account(&db, tenant, team, &api.base_url).await;
    }
    let hook = format!("http://{addr}/webhooks/slack/events");
    let send = |user: &str, team: &str, event_id: &str, ts: &str| {
        let (status, body) = signed_webhook(&["slack", &hook, SECRET, &dm_from(user, team, event_id, ts)]);
        assert_eq!(status, 200, "{body}");
    };

    // A token without users:read: `missing_scope`.
    send("U0SCOPE", "T0SCOPE", "Ev0401", "1700000401.000100");
    fake.wait_for_path(POST, 1, Duration::from_secs(30)).await;
    // Throttled: HTTP 429, `Retry-After: 30`.
    send("U0LIMIT", "T0LIMIT", "Ev0402", "1700000402.000100");
    fake.wait_for_path(POST, 2, Duration::from_secs(30)).await;
    // Within the 30 s, another new user of that workspace is not read; nor
    // is anyone of the workspace whose token lacks the scope.
    send("U0LIMIT2", "T0LIMIT", "Ev0403", "1700000403.000100");
    fake.wait_for_path(POST, 3, Duration::from_secs(30)).await;
    send("U0SCOPE", "T0SCOPE", "Ev0404", "1700000404.000100");
    let posts = fake.wait_for_path(POST, 4, Duration::from_secs(30)).await;
    let mut answered: Vec<String> = posts.iter().map(|p| p.json()["channel"].as_str().unwrap().to_string()).collect();
    answered.sort();
    assert_eq!(answered, ["DU0LIMIT", "DU0LIMIT2", "DU0SCOPE", "DU0SCOPE"]);
    let read: Vec<String> = fake.requests_to(USERS_INFO).iter().map(|r| r.query.clone().unwrap_or_default()).collect();
    assert_eq!(read, ["user=U0SCOPE", "user=U0LIMIT"]);

    // No answer within 2 s: the webhook was acknowledged at once all the
    // same (the read runs after the acknowledgement), and the message is
    // answered once the read gives up.
    let started = Instant::now();
    let (status, body) =
        post_signed_bytes(&hook, dm_from("U0SLOW", "T0SLOW", "Ev0405", "1700000405.000100").into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(2), "acknowledged after {:?}", started.elapsed());
    slow.wait_for_path(POST, 1, Duration::from_secs(30)).await;
    assert_eq!(slow.requests_to(USERS_INFO).len(), 1);

    let slack_only = |id: &str| (None, ids(&[&format!("slack:{id}")]));
    let want = vec![slack_only("U0LIMIT"), slack_only("U0LIMIT2"), slack_only("U0SCOPE"), slack_only("U0SLOW")];
    assert_eq!(customers(&db, tenant).await, want);
    assert_eq!(counts(&db, tenant).await, (5, 5));

    child.kill().ok();
    child.wait().ok();
    let lines = logs.all(Duration::from_secs(10));
    let scope = logged(
        &lines,
        "the Slack token cannot read profiles (users.info needs users:read, emails users:read.email); going on with the Slack id only",
    );
    assert_eq!(scope.len(), 1, "{scope:?}");
    assert_eq!(
        (scope[0]["fields"]["slack_error"].as_str(), scope[0]["fields"]["slack_user_id"].as_str()),
        (Some("missing_scope"), Some("U0SCOPE"))
    );
    let limited = logged(&lines, "Slack rate-limited users.info; going on with the Slack id only");
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert_eq!(limited[0]["fields"]["retry_after_s"], 30);
    let failed = logged(&lines, "Slack profile read failed; going on with the Slack id only");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["fields"]["slack_user_id"], "U0SLOW");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_kafka_deployment_the_worker_reads_the_profile() {
    let db = TestDb::new().await;
    let tenant = db.tenant("kafka-profiles", MergePolicy::Manual).await.id;
    let lena = Identifier::Email(EmailAddress::parse("lena.piimark@strandwerk.example").unwrap());
    let emailed = resolve_customer(&db.pool, tenant, &[lena], None).await.unwrap().customer_id;
    let fake = FakeProvider::start(slack_api).await;
    slack_account(&db, tenant, TEAM, &fake.base_url).await;
    let brokers = kafka_brokers();
    let prefix = format!("s{}.", uuid::Uuid::new_v4().simple());
    let env = [
        ("KAFKA_BROKERS", brokers.as_str()),
        ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_SESSION_TIMEOUT_MS", "6000"),
        ("FTE_TEST_SLACK_SECRET", SECRET),
        ("FTE_TEST_SLACK_TOKEN", BOT_TOKEN),
    ];
    let (mut worker, _) = spawn_role("worker", &db.url, &env);
    let (mut dispatcher, _) = spawn_role("dispatcher", &db.url, &env);
    let (mut api, api_addr) = spawn_role("api", &db.url, &env);
    let hook = format!("http://{api_addr}/webhooks/slack/events");

    let (status, body) =
        signed_webhook(&["slack", &hook, SECRET, &dm_from("U0LENA", TEAM, "Ev0501", "1700000501.000100")]);
    assert_eq!(status, 200, "{body}");
    fake.wait_for_path(POST, 1, Duration::from_secs(90)).await;
    assert_eq!(fake.requests_to(USERS_INFO).len(), 1);
    let lena_customer =
        (Some("Lena Piimark".to_string()), ids(&["email:lena.piimark@strandwerk.example", "slack:U0LENA"]));
    assert_eq!(customers(&db, tenant).await, [lena_customer]);
    assert_eq!(customer_of(&db, tenant, "DU0LENA:1700000501.000100").await, emailed.as_uuid());

    for child in [&mut api, &mut worker, &mut dispatcher] {
        child.kill().ok();
        child.wait().ok();
    }
}
