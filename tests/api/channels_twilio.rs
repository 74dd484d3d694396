//! Twilio WhatsApp end to end, against `fte serve` and a local fake of
//! Twilio's Messages API: a webhook signed by the official `twilio` SDK
//! comes in, the agent's reply reaches the fake as Twilio's exact request,
//! the status callback updates `delivery_status`. And the refusals:
//! unsigned, mis-signed, unknown account, malformed — 4xx, nothing stored.

use crate::common::fake_provider::{FakeProvider, Recorded, signed_webhook};
use crate::common::{TestDb, spawn_serve, tenant_count, wait_reply_status};
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use serde_json::json;
use std::time::Duration;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-test-token-7c1";
const BUSINESS: &str = "+31208084417";
const CUSTOMER: &str = "+31612345678";

fn accept_with_sid(rec: &Recorded) -> (u16, Vec<(String, String)>, String) {
    let n = rec.body.len();
    let sid = format!("SM{:032x}", n as u128 * 7919 + rand_suffix());
    (201, vec![], json!({ "sid": sid, "status": "queued", "account_sid": SID }).to_string())
}

fn rand_suffix() -> u128 {
    uuid::Uuid::new_v4().as_u128() >> 64
}

fn inbound_form(sid: &str, to: &str, body: &str) -> Vec<String> {
    vec![
        format!("MessageSid={sid}"),
        format!("SmsMessageSid={sid}"),
        format!("AccountSid={SID}"),
        format!("From=whatsapp:{CUSTOMER}"),
        format!("To=whatsapp:{to}"),
        format!("Body={body}"),
        "ProfileName=Jo Doe".into(),
        format!("WaId={}", CUSTOMER.trim_start_matches('+')),
        "NumMedia=0".into(),
    ]
}

fn post_signed(url: &str, token: &str, fields: &[String]) -> (u16, String) {
    let mut args = vec!["twilio", url, token];
    args.extend(fields.iter().map(String::as_str));
    signed_webhook(&args)
}

/// `fte serve` with `tenant`'s Twilio number, whose replies go to a fake
/// Twilio that accepts them; and the WhatsApp webhook's URL.
async fn serve_twilio(db: &TestDb, tenant: fte::domain::TenantId) -> (FakeProvider, std::process::Child, String) {
    let fake = FakeProvider::start(accept_with_sid).await;
    let (child, addr) = spawn_serve(&db.url, &[("FTE_TEST_TWILIO_TOKEN", TOKEN)]);
    let config = json!({ "account_sid": SID, "auth_token_env": "FTE_TEST_TWILIO_TOKEN", "base_url": fake.base_url });
    upsert_account(&db.pool, tenant, Provider::Twilio, BUSINESS, &config).await.unwrap();
    (fake, child, format!("http://{addr}/webhooks/twilio/whatsapp"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_whatsapp_message_is_answered_through_twilio_and_its_status_tracked() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(accept_with_sid).await;
    let (mut child, addr) = spawn_serve(&db.url, &[("FTE_TEST_TWILIO_TOKEN", TOKEN)]);
    let base = format!("http://{addr}");
    upsert_account(
        &db.pool,
        tenant,
        Provider::Twilio,
        BUSINESS,
        &json!({
            "account_sid": SID,
            "auth_token_env": "FTE_TEST_TWILIO_TOKEN",
            "base_url": fake.base_url,
            "status_callback_url": format!("{base}/webhooks/twilio/status"),
        }),
    )
    .await
    .unwrap();
    let hook = format!("{base}/webhooks/twilio/whatsapp");

    // In: signed by twilio's RequestValidator.
    let sid = "SM11111111111111111111111111111111";
    let (status, body) = post_signed(&hook, TOKEN, &inbound_form(sid, BUSINESS, "Hello, how do I export invoices?"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Response/>"), "{body}");

    // Out: Twilio's exact request.
    let sent = fake.wait_for(1, Duration::from_secs(20)).await;
    let req = &sent[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    let basic = base64_basic(SID, TOKEN);
    assert_eq!(req.header("authorization"), Some(basic.as_str()));
    assert_eq!(req.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(req.form_value("To").as_deref(), Some(format!("whatsapp:{CUSTOMER}").as_str()));
    assert_eq!(req.form_value("From").as_deref(), Some(format!("whatsapp:{BUSINESS}").as_str()));
    assert!(!req.form_value("Body").unwrap_or_default().trim().is_empty());
    assert_eq!(req.form_value("StatusCallback"), Some(format!("{base}/webhooks/twilio/status")));
    let (external_id, _, meta) = wait_reply_status(&db, tenant, "queued").await;
    let message_sid = external_id.expect("the provider's id is stored");
    assert!(message_sid.starts_with("SM"));
    assert_eq!(meta["provider"], "twilio");

    // The status callback moves it forward; a late, older status does not
    // move it back.
    let callback = |st: &str| {
        vec![
            format!("MessageSid={message_sid}"),
            format!("MessageStatus={st}"),
            format!("AccountSid={SID}"),
            format!("From=whatsapp:{BUSINESS}"),
            format!("To=whatsapp:{CUSTOMER}"),
        ]
    };
    let status_hook = format!("{base}/webhooks/twilio/status");
    assert_eq!(post_signed(&status_hook, TOKEN, &callback("delivered")).0, 200);
    wait_reply_status(&db, tenant, "delivered").await;
    assert_eq!(post_signed(&status_hook, TOKEN, &callback("sent")).0, 200);
    assert_eq!(post_signed(&status_hook, TOKEN, &callback("read")).0, 200);
    wait_reply_status(&db, tenant, "read").await;

    // Twilio retries the same webhook: one message, one reply, one send.
    let (status, _) = post_signed(&hook, TOKEN, &inbound_form(sid, BUSINESS, "Hello, how do I export invoices?"));
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(tenant_count(&db, tenant, "SELECT count(*) FROM messages WHERE direction = 'inbound'").await, 1);
    assert_eq!(fake.requests().len(), 1);

    // Refusals: nothing stored, nothing sent.
    let unsigned = reqwest::Client::new()
        .post(&hook)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encoded(&inbound_form("SM22222222222222222222222222222222", BUSINESS, "hi")))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert_eq!(unsigned.headers()["content-type"], "application/problem+json");
    let (status, body) =
        post_signed(&hook, "not-the-token", &inbound_form("SM33333333333333333333333333333333", BUSINESS, "hi"));
    assert_eq!(status, 401, "{body}");
    let (status, body) =
        post_signed(&hook, TOKEN, &inbound_form("SM44444444444444444444444444444444", "+4915112345678", "hi"));
    assert_eq!(status, 403, "{body}");
    for bad in [&b"MessageSid=SM5&To=whatsapp%3A%2B3120808%"[..], b"\xff\xfe=\xff", b""] {
        let r = reqwest::Client::new()
            .post(&hook)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", "AAAA")
            .body(bad.to_vec())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{:?} → {}", bad, r.status());
    }
    let big = vec![b'a'; 2 * 1024 * 1024];
    let r = reqwest::Client::new().post(&hook).body(big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(tenant_count(&db, tenant, "SELECT count(*) FROM messages WHERE direction = 'inbound'").await, 1);
    assert_eq!(fake.requests().len(), 1);

    child.kill().ok();
    child.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_failures_are_retried_or_flagged() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(accept_with_sid).await;
    // Throttled, then a server error, then accepted.
    fake.script([
        (
            429,
            vec![("Retry-After".into(), "1".into())],
            json!({"code": 20429, "message": "Too Many Requests", "status": 429}).to_string(),
        ),
        (503, vec![], "{}".into()),
    ]);
    let (mut child, addr) = spawn_serve(
        &db.url,
        &[("FTE_TEST_TWILIO_TOKEN", TOKEN), ("SEND_BACKOFF_BASE_MS", "50"), ("SEND_MAX_ATTEMPTS", "4")],
    );
    let base = format!("http://{addr}");
    upsert_account(
        &db.pool,
        tenant,
        Provider::Twilio,
        BUSINESS,
        &json!({ "account_sid": SID, "auth_token_env": "FTE_TEST_TWILIO_TOKEN", "base_url": fake.base_url }),
    )
    .await
    .unwrap();
    let hook = format!("{base}/webhooks/twilio/whatsapp");
    let (status, body) =
        post_signed(&hook, TOKEN, &inbound_form("SM61111111111111111111111111111111", BUSINESS, "hello"));
    assert_eq!(status, 200, "{body}");
    let (external_id, _, meta) = wait_reply_status(&db, tenant, "queued").await;
    assert!(external_id.is_some());
    assert_eq!(meta["attempts"], 3, "{meta}");
    assert_eq!(fake.requests().len(), 3);

    // Outside the 24-hour window (63016): not retried; failed and flagged.
    fake.script([(
        400,
        vec![],
        json!({"code": 63016, "message": "Failed to send freeform message because you are outside the allowed window.", "status": 400}).to_string(),
    )]);
    let (status, _) = post_signed(&hook, TOKEN, &inbound_form("SM62222222222222222222222222222222", BUSINESS, "again"));
    assert_eq!(status, 200);
    let (external_id, _, meta) = wait_reply_status(&db, tenant, "failed").await;
    assert!(external_id.is_none());
    assert!(meta["delivery_error"].as_str().unwrap().contains("24-hour"), "{meta}");
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(
        tenant_count(&db, tenant, "SELECT count(*) FROM conversations WHERE delivery_failed_at IS NOT NULL").await,
        1
    );
    child.kill().ok();
    child.wait().ok();
}

fn base64_basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

fn encoded(fields: &[String]) -> String {
    fte::channels::twilio::form::encode(fields.iter().map(|f| f.split_once('=').unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_a_signed_message_is_cleaned_stored_and_answered() {
    let db = TestDb::new().await;
    let tenant = db.tenant("hostile", MergePolicy::Manual).await.id;
    let (fake, mut child, hook) = serve_twilio(&db, tenant).await;
    // A NUL (which PostgreSQL refuses), a bell, an escape sequence, a
    // right-to-left override and a decomposed é, signed as Twilio signs.
    let mut fields = inbound_form("SM55555555555555555555555555555555", BUSINESS, "");
    fields.retain(|f| !f.starts_with("Body=") && !f.starts_with("ProfileName="));
    fields.push("Body:=Hi\\x00 there\\x07\\x1b[31m \\u202eexe.pdf cafe\\u0301\\r\\nbye".into());
    fields.push("ProfileName:=Jo\\x00 Doe".into());
    let (status, body) = post_signed(&hook, TOKEN, &fields);
    assert_eq!(status, 200, "{body}");
    fake.wait_for(1, Duration::from_secs(20)).await;
    let stored: (String, Option<String>) = {
        let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
        sqlx::query_as(
            "SELECT m.body, c.display_name FROM messages m JOIN customers c ON c.id = m.customer_id
              WHERE m.direction = 'inbound'",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap()
    };
    assert_eq!(stored.0, "Hi there[31m exe.pdf caf\u{e9}\nbye");
    assert_eq!(stored.1.as_deref(), Some("Jo Doe"));
    assert_eq!(tenant_count(&db, tenant, "SELECT count(*) FROM escalations").await, 0);
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_message_of_a_megabyte_of_emoji_is_refused_with_nothing_stored() {
    use crate::common::hostile::{ONE_MB, assert_nothing_stored, emoji};
    use fte::channels::twilio::signature::RequestValidator;
    let db = TestDb::new().await;
    let tenant = db.tenant("emoji", MergePolicy::Manual).await.id;
    let (fake, mut child, hook) = serve_twilio(&db, tenant).await;
    // Signed as Twilio signs (over the decoded fields), in Rust: the
    // official SDK's client takes its fields on a command line.
    let fields: Vec<(String, String)> = vec![
        ("MessageSid".into(), "SM66666666666666666666666666666666".into()),
        ("AccountSid".into(), SID.into()),
        ("From".into(), format!("whatsapp:{CUSTOMER}")),
        ("To".into(), format!("whatsapp:{BUSINESS}")),
        ("Body".into(), emoji(ONE_MB)),
        ("NumMedia".into(), "0".into()),
    ];
    let signature = RequestValidator::new(TOKEN).unwrap().compute_signature(&hook, &fields);
    let body = fte::channels::twilio::form::encode(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert!(body.len() > 1024 * 1024, "percent-encoded, a megabyte of emoji is over the webhook limit");
    let response = reqwest::Client::new()
        .post(&hook)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_nothing_stored(&db, tenant, "a refused megabyte").await;
    assert!(fake.requests().is_empty(), "nothing sent");
    child.kill().ok();
    child.wait().ok();
}
