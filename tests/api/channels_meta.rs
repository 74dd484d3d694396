//! Meta WhatsApp Cloud API end to end, against `fte serve` and a local
//! fake Graph API: the subscription check, a signed message batch in, the
//! reply at the fake as Meta's exact request, a signed status webhook
//! updating `delivery_status`; the 24-hour window (outside it the account's
//! template goes instead); and refusals (unsigned, mis-signed, unknown
//! number, malformed) with nothing stored. Hostile text in a signed batch:
//! a lone surrogate or invalid UTF-8 is refused (400, nothing stored);
//! control characters are cleaned, stored and answered; 1 MB of emoji is
//! taken with its body cut.

use crate::common::fake_provider::{FakeProvider, Recorded};
use crate::common::{TestDb, latest_reply, spawn_serve, tenant_count, wait_reply_status};
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use serde_json::json;
use std::time::Duration;

const PHONE_ID: &str = "106540352242922";
const APP_SECRET: &str = "meta-app-secret-for-tests";
const VERIFY: &str = "meta-verify-token";
const ACCESS: &str = "EAAtestaccesstoken";
const CUSTOMER: &str = "16505551234";

fn accept(_: &Recorded) -> (u16, Vec<(String, String)>, String) {
    let id = format!("wamid.{}", uuid::Uuid::new_v4().simple());
    let body = json!({"messaging_product": "whatsapp", "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}], "messages": [{"id": id}]});
    (200, vec![], body.to_string())
}

fn sign(body: impl AsRef<[u8]>) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, APP_SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, body.as_ref());
    format!("sha256={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn message_batch(wamid: &str, phone_id: &str, text: &str) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_id},
                    "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER}],
                    "messages": [{"from": CUSTOMER, "id": wamid, "timestamp": "1749416383", "type": "text", "text": {"body": text}}]
                }
            }]
        }]
    })
    .to_string()
}

fn status_batch(wamid: &str, status: &str) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
                    "statuses": [{"id": wamid, "status": status, "timestamp": "1749416390", "recipient_id": CUSTOMER}]
                }
            }]
        }]
    })
    .to_string()
}

async fn post(url: &str, body: &str, signature: Option<&str>) -> reqwest::Response {
    post_bytes(url, body.as_bytes().to_vec(), signature).await
}

async fn post_bytes(url: &str, body: Vec<u8>, signature: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(url).header("content-type", "application/json").body(body);
    if let Some(sig) = signature {
        req = req.header("x-hub-signature-256", sig);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_whatsapp_end_to_end_with_the_service_window() {
    // SAFETY: nextest runs each test in a process of its own, and nothing
    // else in this one reads the environment yet. The in-process
    // dispatcher below reads the access token from it.
    unsafe { std::env::set_var("FTE_TEST_META_TOKEN", ACCESS) };
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(accept).await;
    let (mut child, addr) = spawn_serve(
        &db.url,
        &[("FTE_TEST_META_SECRET", APP_SECRET), ("FTE_TEST_META_VERIFY", VERIFY), ("FTE_TEST_META_TOKEN", ACCESS)],
    );
    upsert_account(
        &db.pool,
        tenant,
        Provider::Meta,
        PHONE_ID,
        &json!({
            "app_secret_env": "FTE_TEST_META_SECRET",
            "verify_token_env": "FTE_TEST_META_VERIFY",
            "access_token_env": "FTE_TEST_META_TOKEN",
            "base_url": fake.base_url,
            "api_version": "v21.0",
            "template": {"name": "support_follow_up", "language": "en"},
        }),
    )
    .await
    .unwrap();
    let hook = format!("http://{addr}/webhooks/meta/whatsapp");

    // The subscription check.
    let ok = reqwest::get(format!("{hook}?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1158201444"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let bad = reqwest::get(format!("{hook}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")).await.unwrap();
    assert_eq!(bad.status(), 403);

    // A signed message: answered as Meta's exact request.
    let body = message_batch("wamid.IN1", PHONE_ID, "How do I export invoices?");
    let r = post(&hook, &body, Some(&sign(&body))).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let sent = fake.wait_for(1, Duration::from_secs(20)).await;
    let req = &sent[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v21.0/106540352242922/messages"));
    assert_eq!(req.header("authorization"), Some(format!("Bearer {ACCESS}").as_str()));
    assert!(req.header("content-type").unwrap().starts_with("application/json"));
    let j = req.json();
    assert_eq!(j["messaging_product"], "whatsapp");
    assert_eq!(j["to"], CUSTOMER);
    assert_eq!(j["type"], "text");
    assert!(!j["text"]["body"].as_str().unwrap().is_empty());
    let (wamid, _, meta) = wait_reply_status(&db, tenant, "queued").await;
    let wamid = wamid.expect("wamid stored");
    assert_eq!(meta["sent_as"], "text");

    // Status webhooks move it forward.
    let st = status_batch(&wamid, "delivered");
    assert_eq!(post(&hook, &st, Some(&sign(&st))).await.status(), 200);
    wait_reply_status(&db, tenant, "delivered").await;
    let st = status_batch(&wamid, "read");
    assert_eq!(post(&hook, &st, Some(&sign(&st))).await.status(), 200);
    wait_reply_status(&db, tenant, "read").await;

    // Refusals: nothing stored.
    let body = message_batch("wamid.IN2", PHONE_ID, "hi");
    assert_eq!(post(&hook, &body, None).await.status(), 401);
    assert_eq!(post(&hook, &body, Some(&sign("other body"))).await.status(), 401);
    let r = post(&hook, &body, Some("sha256=zz")).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let unknown = message_batch("wamid.IN3", "999999999", "hi");
    assert_eq!(post(&hook, &unknown, Some(&sign(&unknown))).await.status(), 403);
    for bad in ["{\"object\":", "[]", "{\"object\":\"page\",\"entry\":[]}"] {
        let r = post(&hook, bad, Some(&sign(bad))).await;
        assert!(r.status().is_client_error(), "{bad} → {}", r.status());
    }
    assert_eq!(tenant_count(&db, tenant, "SELECT count(*) FROM messages WHERE direction = 'inbound'").await, 1);

    // Outside the 24-hour window the template goes instead of the text.
    {
        let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
        sqlx::query("UPDATE messages SET created_at = now() - interval '25 hours' WHERE direction = 'inbound'")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    // A follow-up a day later (as a human would send): the template.
    let follow_up = uuid::Uuid::now_v7();
    let (conversation, customer): (uuid::Uuid, uuid::Uuid) = {
        let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
        let row = sqlx::query_as(
            "INSERT INTO messages (id, tenant_id, conversation_id, customer_id, channel, direction, author, body, delivery_status)
             SELECT $1, tenant_id, conversation_id, customer_id, 'whatsapp', 'outbound', 'human', 'Following up on your question.', 'pending'
               FROM messages WHERE direction = 'inbound' LIMIT 1
             RETURNING conversation_id, customer_id",
        )
        .bind(follow_up)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        row
    };
    let settings = crate::common::serve_settings(&["--send-backoff-base-ms", "10"]);
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let metrics = std::sync::Arc::new(fte::metrics::Metrics::default());
    let dispatcher =
        fte::delivery::dispatch::Dispatcher::new(db.pool.clone(), &settings.channels, None, stop_rx, metrics).unwrap();
    let out = fte::domain::OutboundMessage {
        message_id: fte::domain::MessageId::from_uuid(follow_up),
        tenant_id: tenant,
        customer_id: fte::domain::CustomerId::from_uuid(customer),
        conversation_id: fte::domain::ConversationId::from_uuid(conversation),
        channel: fte::domain::Channel::Whatsapp,
        author: "human".into(),
        recipient: Some(fte::domain::Identifier::Whatsapp(fte::domain::PhoneNumber::parse("+16505551234").unwrap())),
        body: "Following up on your question.".into(),
        in_reply_to: None,
        created_at: chrono::Utc::now(),
    };
    assert!(matches!(dispatcher.deliver(&out).await, fte::delivery::dispatch::Outcome::Sent { .. }));
    let sent = fake.wait_for(2, Duration::from_secs(5)).await;
    let t = sent[1].json();
    assert_eq!(t["type"], "template", "{t}");
    assert_eq!(t["template"]["name"], "support_follow_up");
    assert_eq!(t["template"]["language"]["code"], "en");
    let (_, _, meta) = latest_reply(&db, tenant).await;
    assert_eq!(meta["sent_as"], "template");
    // Delivered once: a redelivery of the same reply is not sent again.
    assert_eq!(dispatcher.deliver(&out).await, fte::delivery::dispatch::Outcome::AlreadySent);
    assert_eq!(fake.requests().len(), 2);
    child.kill().ok();
    child.wait().ok();
}

/// Posts `body` signed over exactly its bytes; returns the status and the
/// response text.
async fn post_signed(url: &str, body: Vec<u8>) -> (u16, String) {
    let signature = sign(&body);
    let r = post_bytes(url, body, Some(&signature)).await;
    let status = r.status().as_u16();
    assert!(status < 500, "a hostile batch got {status}");
    (status, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_a_signed_batch_is_refused_with_nothing_stored_or_cleaned_stored_and_answered() {
    use crate::common::hostile::{
        HOSTILE, HOSTILE_CLEANED, LONE_SURROGATE, ONE_MB, Rows, assert_nothing_stored, emoji, inbound, wait_rows,
        wait_stored_reply,
    };
    use fte::domain::MAX_BODY_CHARS;
    let db = TestDb::new().await;
    let tenant = db.tenant("hostile", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(accept).await;
    let (mut child, addr) = spawn_serve(
        &db.url,
        &[("FTE_TEST_META_SECRET", APP_SECRET), ("FTE_TEST_META_VERIFY", VERIFY), ("FTE_TEST_META_TOKEN", ACCESS)],
    );
    upsert_account(
        &db.pool,
        tenant,
        Provider::Meta,
        PHONE_ID,
        &json!({
            "app_secret_env": "FTE_TEST_META_SECRET",
            "verify_token_env": "FTE_TEST_META_VERIFY",
            "access_token_env": "FTE_TEST_META_TOKEN",
            "base_url": fake.base_url,
            "api_version": "v21.0",
        }),
    )
    .await
    .unwrap();
    let hook = format!("http://{addr}/webhooks/meta/whatsapp");

    // A lone surrogate escape in the text, validly signed: not JSON (400).
    let raw = message_batch("wamid.LONE", PHONE_ID, "Hi SURROGATE there").replace("SURROGATE", LONE_SURROGATE);
    assert!(raw.contains(r"Hi \ud800 there"), "{raw}");
    let (status, problem) = post_signed(&hook, raw.into_bytes()).await;
    assert_eq!(status, 400, "lone surrogate: {problem}");
    // Invalid UTF-8 inside the text, validly signed: 400.
    let mut raw = message_batch("wamid.UTF8", PHONE_ID, "Hi BYTES there").into_bytes();
    let at = raw.windows(5).position(|w| w == b"BYTES").unwrap();
    raw.splice(at..at + 5, *b"\xff\xfe\xc3\x28\x80");
    let (status, problem) = post_signed(&hook, raw).await;
    assert_eq!(status, 400, "invalid UTF-8: {problem}");
    assert_nothing_stored(&db, tenant, "the refused batches").await;
    assert!(fake.requests().is_empty(), "nothing answered");

    // NUL, bell, ESC, a right-to-left override, a decomposed é and CR LF in
    // the text and in the sender's profile name: acknowledged, stored
    // cleaned, answered.
    let mut hostile: serde_json::Value =
        serde_json::from_str(&message_batch("wamid.HOSTILE", PHONE_ID, HOSTILE)).unwrap();
    hostile["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = json!(HOSTILE);
    let (status, body) = post_signed(&hook, hostile.to_string().into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let reply = wait_stored_reply(&db, tenant, "wamid.HOSTILE").await;
    assert!(reply.contains(&format!("\"{HOSTILE_CLEANED}\"")), "the reply quotes the cleaned text: {reply}");
    let (body, meta, name) = inbound(&db, tenant, "wamid.HOSTILE").await;
    assert_eq!(body, HOSTILE_CLEANED);
    assert_eq!(name.as_deref(), Some(HOSTILE_CLEANED));
    assert_eq!(meta["extra"]["message_type"], "text", "{meta}");
    // At the fake: the reply, as text, to the sender.
    let sent = fake.wait_for(1, Duration::from_secs(20)).await;
    let j = sent[0].json();
    assert_eq!((j["to"].as_str(), j["type"].as_str()), (Some(CUSTOMER), Some("text")));
    assert_eq!(j["text"]["body"], reply.as_str());

    // 1 MB of emoji: under the 1 MiB webhook limit, so taken in (200),
    // its body cut to MAX_BODY_CHARS with the cut recorded, and answered.
    let big = message_batch("wamid.EMOJI", PHONE_ID, &emoji(ONE_MB));
    assert!(big.len() < 1024 * 1024, "{}", big.len());
    let (status, problem) = post_signed(&hook, big.into_bytes()).await;
    assert_eq!(status, 200, "1 MB of emoji: {problem}");
    let reply = wait_stored_reply(&db, tenant, "wamid.EMOJI").await;
    assert!(reply.contains(&format!("\"{}…\"", emoji(120 * 4))), "{}", reply.chars().take(300).collect::<String>());
    let (body, meta, _) = inbound(&db, tenant, "wamid.EMOJI").await;
    assert_eq!(body, emoji(MAX_BODY_CHARS * 4));
    assert_eq!(meta["extra"]["body_truncated"], json!({"original_chars": ONE_MB / 4}), "{meta}");
    let sent = fake.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(sent[1].json()["text"]["body"], reply.as_str());

    // One customer, both messages, every turn settled; nothing escalated.
    wait_rows(&db, tenant, Rows { customers: 1, identifiers: 1, inbound: 2, intake: 0 }).await;
    assert_eq!(tenant_count(&db, tenant, "SELECT count(*) FROM escalations").await, 0);
    child.kill().ok();
    child.wait().ok();
}
