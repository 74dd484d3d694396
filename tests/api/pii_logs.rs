//! No personal data in the logs. `fte serve`, logging JSON at info level
//! for every target (the production default is info for our crate, less
//! for sqlx), takes one message on every channel — Twilio, Meta, Slack, a
//! Gmail push, the web form — each carrying marked personal data (body,
//! subject, email address, phone number, display name), and answers each
//! at the provider's fake. On the way it goes through refusals and
//! failures that log: a Twilio number and a Gmail mailbox that are no
//! account here, a Meta item whose sender is not a number, an email whose
//! From holds no address, a web-form ticket with a bad address, a Twilio
//! 429 whose message quotes the recipient. Then every line the process
//! logged is searched for the markers (case-insensitive; phone numbers by
//! their digits, so with or without `+`; Meta message ids, which encode
//! the sender's number, as they are).

use crate::common::fake_provider::{FakeProvider, Recorded, Reply, signed_webhook};
use crate::common::{TestDb, spawn_serve_logged, tenant_count};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use fte::channels::gmail::testkit;
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use serde_json::json;
use std::time::Duration;

/// In every body, subject, name and address below.
const MARK: &str = "piimark";
/// In every phone number below (`+1 555 0199 1xx`).
const PHONE_MARK: &str = "5550199";

const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "twilio-test-token-7c1";
const TWILIO_BUSINESS: &str = "+31208084417";
const TWILIO_CUSTOMER: &str = "+15550199101";
const TWILIO_STRANGER_BUSINESS: &str = "+15550199199";

const META_PHONE_ID: &str = "106540352242922";
const META_SECRET: &str = "meta-app-secret-for-tests";
const META_CUSTOMER: &str = "15550199102";

const SLACK_TEAM: &str = "T0TESTTEAM";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

const GMAIL_KEY: &[u8] = include_bytes!("../../src/channels/gmail/test_only_rsa_key_a.pk8");
const MAILBOX: &str = "support@tallyloom.com";
const AUDIENCE: &str = "https://fte.test/webhooks/gmail/push";
const PUSHER: &str = "gmail-push@tallyloom-prod.iam.gserviceaccount.com";

const WEBFORM_EMAIL: &str = "piimark.form@example.com";

/// The customer's email, from a named sender, with a subject and a
/// signature holding their number.
const GMAIL_GOOD: &str = "From: Piimark Person <piimark.gmail@example.com>\r\nTo: support@tallyloom.com\r\n\
Subject: PIIMARK-subject-gmail invoices\r\nMessage-ID: <piimark-1@example.com>\r\n\
Date: Sun, 22 Nov 2026 05:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
PIIMARK-body-gmail: how do I export my invoices to CSV?\r\n\r\n-- \r\nPiimark Person\r\nMobile: +1 555 0199 104\r\n";

/// An email no message can be made of: its From holds no address.
const GMAIL_BAD_FROM: &str = "From: Piimark Badfrom <piimark.badfrom@>\r\nTo: support@tallyloom.com\r\n\
Subject: PIIMARK-subject-badfrom\r\nMessage-ID: <piimark-2@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nPIIMARK-body-badfrom\r\n";

/// A Meta message id as Meta makes them: base64 of a record that holds the
/// sender's number.
fn wamid(number: &str) -> String {
    let mut record = vec![0x1c, 0x18, number.len() as u8];
    record.extend_from_slice(number.as_bytes());
    record.extend_from_slice(&[0x15, 0x02, 0x00, 0x12, 0x18, 0x14]);
    record.extend_from_slice(uuid::Uuid::new_v4().simple().to_string().to_uppercase().as_bytes());
    format!("wamid.{}", STANDARD.encode(record))
}

fn twilio_accept(_: &Recorded) -> Reply {
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    (201, vec![], json!({ "sid": sid, "status": "queued", "account_sid": TWILIO_SID }).to_string())
}

fn slack_posted(rec: &Recorded) -> Reply {
    let channel = rec.json()["channel"].as_str().unwrap_or("D0").to_string();
    let ts = format!("1700000000.{:06}", uuid::Uuid::new_v4().as_u128() % 1_000_000);
    (200, vec![], json!({"ok": true, "channel": channel, "ts": ts, "message": {"text": "x"}}).to_string())
}

fn google(rec: &Recorded) -> Reply {
    let ok = |body: serde_json::Value| (200, vec![], body.to_string());
    let message = |id: &str, raw: &str| {
        ok(json!({
            "id": id, "threadId": format!("t-{id}"), "labelIds": ["INBOX", "UNREAD"], "historyId": "1001",
            "internalDate": "1795237200000", "raw": URL_SAFE.encode(raw)
        }))
    };
    match (rec.method.as_str(), rec.path.as_str()) {
        ("POST", "/token") => {
            ok(json!({"access_token": "ya29.test-access", "expires_in": 3599, "token_type": "Bearer"}))
        }
        ("GET", "/oauth2/v3/certs") => (200, vec![], testkit::jwks_json(GMAIL_KEY, "key-a").unwrap()),
        ("POST", "/gmail/v1/users/me/watch") => ok(json!({"historyId": "1000", "expiration": "4102444800000"})),
        ("GET", "/gmail/v1/users/me/history") => ok(json!({
            "history": [{"id": "1001", "messagesAdded": [
                {"message": {"id": "m2", "threadId": "t-m2", "labelIds": ["INBOX", "UNREAD"]}},
                {"message": {"id": "m1", "threadId": "t-m1", "labelIds": ["INBOX", "UNREAD"]}}
            ]}],
            "historyId": "1001"
        })),
        ("GET", "/gmail/v1/users/me/messages/m1") => message("m1", GMAIL_GOOD),
        ("GET", "/gmail/v1/users/me/messages/m2") => message("m2", GMAIL_BAD_FROM),
        ("POST", "/gmail/v1/users/me/messages/send") => {
            ok(json!({"id": format!("s{}", uuid::Uuid::new_v4().simple()), "threadId": "t-m1", "labelIds": ["SENT"]}))
        }
        _ => (404, vec![], json!({"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}).to_string()),
    }
}

fn twilio_form(to: &str, body: &str) -> Vec<String> {
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    vec![
        format!("MessageSid={sid}"),
        format!("SmsMessageSid={sid}"),
        format!("AccountSid={TWILIO_SID}"),
        format!("From=whatsapp:{TWILIO_CUSTOMER}"),
        format!("To=whatsapp:{to}"),
        format!("Body={body}"),
        "ProfileName=Piimark Person".into(),
        format!("WaId={}", TWILIO_CUSTOMER.trim_start_matches('+')),
        "NumMedia=0".into(),
    ]
}

fn twilio_post(url: &str, fields: &[String]) -> u16 {
    let mut args = vec!["twilio", url, TWILIO_TOKEN];
    args.extend(fields.iter().map(String::as_str));
    signed_webhook(&args).0
}

fn meta_sign(body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, META_SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, body.as_bytes());
    format!("sha256={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A batch with the customer's message and an item whose sender is not a
/// number (skipped, the rest of the batch kept).
fn meta_batch(id: &str) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": META_PHONE_ID},
                    "contacts": [{"profile": {"name": "Piimark Person"}, "wa_id": META_CUSTOMER}],
                    "messages": [
                        {"from": META_CUSTOMER, "id": id, "timestamp": "1749416383", "type": "text",
                         "text": {"body": "PIIMARK-body-meta: where is my invoice?"}},
                        {"from": "PIIMARK-sender-15550199105", "id": "wamid.skipped1", "timestamp": "1749416384",
                         "type": "text", "text": {"body": "PIIMARK-body-skipped"}}
                    ]
                }
            }]
        }]
    })
    .to_string()
}

fn slack_event() -> String {
    let ts = "1700000001.000100";
    json!({
        "token": "legacy", "team_id": SLACK_TEAM, "api_app_id": "A0APP", "type": "event_callback",
        "event_id": "Ev0PII1", "event_time": 1700000000,
        "event": {
            "type": "message", "channel_type": "im", "channel": "D0CUSTOMER", "user": "U0CUSTOMER",
            "text": "PIIMARK-body-slack: my email is piimark.slack@example.com, phone +15550199106",
            "ts": ts, "event_ts": ts, "client_msg_id": uuid::Uuid::new_v4().to_string(),
        },
        "authorizations": [{"team_id": SLACK_TEAM, "user_id": "U0BOT", "is_bot": true}]
    })
    .to_string()
}

fn push_token() -> String {
    let now = chrono::Utc::now().timestamp();
    testkit::sign_rs256_jwt(GMAIL_KEY, "key-a", &testkit::push_claims(AUDIENCE, PUSHER, now - 5, now + 3600)).unwrap()
}

async fn post_json(url: &str, body: String, headers: &[(&str, &str)]) -> u16 {
    let mut req = reqwest::Client::new().post(url).header("content-type", "application/json").body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

fn decode_raw(rec: &Recorded) -> String {
    let raw = rec.json()["raw"].as_str().unwrap_or_default().trim_end_matches('=').to_string();
    String::from_utf8(URL_SAFE_NO_PAD.decode(raw).unwrap_or_default()).unwrap_or_default()
}

/// Waits until the requests `fake` got are `enough`.
async fn wait_for_requests(fake: &FakeProvider, what: &str, enough: impl Fn(&[Recorded]) -> bool) {
    for _ in 0..400 {
        if enough(&fake.requests()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not at the provider's fake within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_reaches_the_logs_on_any_channel() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let (twilio, meta, slack, gmail) = (
        FakeProvider::start(twilio_accept).await,
        FakeProvider::start(|_: &Recorded| {
            let body = json!({"messaging_product": "whatsapp", "contacts": [{"input": META_CUSTOMER, "wa_id": META_CUSTOMER}],
                              "messages": [{"id": wamid(META_CUSTOMER)}]});
            (200, vec![], body.to_string())
        })
        .await,
        FakeProvider::start(slack_posted).await,
        FakeProvider::start(google).await,
    );
    // Twilio's first answer throttles, quoting the recipient (as its errors
    // do); the reply goes on the retry.
    twilio.script([(
        429,
        vec![],
        json!({"code": 20429, "status": 429, "message": format!("Too Many Requests to whatsapp:{TWILIO_CUSTOMER}"),
               "more_info": "https://www.twilio.com/docs/errors/20429"})
        .to_string(),
    )]);
    let accounts = [
        (
            Provider::Twilio,
            TWILIO_BUSINESS,
            json!({"account_sid": TWILIO_SID, "auth_token_env": "FTE_TEST_TWILIO_TOKEN", "base_url": twilio.base_url}),
        ),
        (
            Provider::Meta,
            META_PHONE_ID,
            json!({"app_secret_env": "FTE_TEST_META_SECRET", "verify_token_env": "FTE_TEST_META_VERIFY",
            "access_token_env": "FTE_TEST_META_TOKEN", "base_url": meta.base_url, "api_version": "v21.0"}),
        ),
        (
            Provider::Slack,
            SLACK_TEAM,
            json!({"signing_secret_env": "FTE_TEST_SLACK_SECRET", "bot_token_env": "FTE_TEST_SLACK_TOKEN",
            "base_url": slack.base_url, "bot_user_id": "U0BOT"}),
        ),
        (
            Provider::Gmail,
            MAILBOX,
            json!({"client_id": "client-123.apps.googleusercontent.com", "client_secret_env": "FTE_TEST_GMAIL_SECRET",
            "refresh_token_env": "FTE_TEST_GMAIL_REFRESH", "push_audience": AUDIENCE, "push_service_account": PUSHER,
            "topic_name": "projects/tallyloom-prod/topics/gmail", "base_url": gmail.base_url,
            "token_url": format!("{}/token", gmail.base_url), "certs_url": format!("{}/oauth2/v3/certs", gmail.base_url),
            "from_name": "Robin at Tallyloom"}),
        ),
        (Provider::Webform, "tallyloom-demo", json!({"reply_by_email": true})),
    ];
    for (provider, address, config) in &accounts {
        upsert_account(&db.pool, tenant, *provider, address, config).await.unwrap();
    }
    let (mut child, addr, logs) = spawn_serve_logged(
        &db.url,
        &[
            ("FTE_TEST_TWILIO_TOKEN", TWILIO_TOKEN),
            ("FTE_TEST_META_SECRET", META_SECRET),
            ("FTE_TEST_META_VERIFY", "meta-verify-token"),
            ("FTE_TEST_META_TOKEN", "EAAtestaccesstoken"),
            ("FTE_TEST_SLACK_SECRET", SLACK_SECRET),
            ("FTE_TEST_SLACK_TOKEN", "xoxb-1234-5678-testtoken"),
            ("FTE_TEST_GMAIL_SECRET", "gsecret"),
            ("FTE_TEST_GMAIL_REFRESH", "1//refresh"),
            ("FTE_WEBFORM_SECRET", "a-test-secret-of-at-least-thirty-two-bytes!"),
            ("SEND_BACKOFF_BASE_MS", "50"),
        ],
    );
    let base = format!("http://{addr}");

    // Twilio: the customer's message, and one to a number that is no account.
    let hook = format!("{base}/webhooks/twilio/whatsapp");
    assert_eq!(twilio_post(&hook, &twilio_form(TWILIO_BUSINESS, "PIIMARK-body-twilio: how do I pay?")), 200);
    assert_eq!(twilio_post(&hook, &twilio_form(TWILIO_STRANGER_BUSINESS, "PIIMARK-body-stranger")), 403);

    // Meta: a batch with the customer's message and a skipped item.
    let meta_id = wamid(META_CUSTOMER);
    let batch = meta_batch(&meta_id);
    let signature = meta_sign(&batch);
    let meta_hook = format!("{base}/webhooks/meta/whatsapp");
    assert_eq!(post_json(&meta_hook, batch, &[("x-hub-signature-256", &signature)]).await, 200);

    // Slack: a DM.
    let (status, body) =
        signed_webhook(&["slack", &format!("{base}/webhooks/slack/events"), SLACK_SECRET, &slack_event()]);
    assert_eq!(status, 200, "{body}");

    // Gmail: a push for a mailbox that is no account, then the real one
    // (its sync finds an unreadable email and the customer's).
    let bearer = format!("Bearer {}", push_token());
    let push = format!("{base}/webhooks/gmail/push");
    let stranger = testkit::push_body("piimark.stranger@example.com", 5, "push-x");
    assert_eq!(post_json(&push, stranger, &[("authorization", &bearer)]).await, 403);
    wait_for_requests(&gmail, "the Gmail watch", |rs| rs.iter().any(|r| r.path.ends_with("/watch"))).await;
    let status = post_json(&push, testkit::push_body(MAILBOX, 1001, "push-1"), &[("authorization", &bearer)]).await;
    assert!((200..300).contains(&status), "Gmail push answered {status}");

    // The web form: a ticket refused for its address, then the customer's.
    let tickets = format!("{base}/support/api/tickets");
    let ticket = |email: &str| {
        json!({
            "name": "Piimark Person", "email": email, "phone": "+15550199103", "subject": "PIIMARK-subject-form",
            "category": "billing", "message": "PIIMARK-body-form: do I need a seat for a new hire?", "website": "",
            "widget_key": "tallyloom-demo"
        })
        .to_string()
    };
    assert_eq!(post_json(&tickets, ticket("piimark.bad@@example.com"), &[]).await, 422);
    assert_eq!(post_json(&tickets, ticket(WEBFORM_EMAIL), &[]).await, 201);

    // Every message answered at its provider.
    let sends = |rs: &[Recorded]| rs.iter().filter(|r| r.method == "POST").count();
    wait_for_requests(&twilio, "the Twilio reply (after a 429)", |rs| sends(rs) >= 2).await;
    wait_for_requests(&meta, "the Meta reply", |rs| rs.iter().any(|r| r.path.ends_with("/messages"))).await;
    wait_for_requests(&slack, "the Slack reply", |rs| rs.iter().any(|r| r.path == "/api/chat.postMessage")).await;
    for (what, to) in [("the Gmail reply", "piimark.gmail@example.com"), ("the web-form reply", WEBFORM_EMAIL)] {
        let sent_to = |r: &Recorded| r.path.ends_with("/messages/send") && decode_raw(r).contains(to);
        wait_for_requests(&gmail, what, |rs| rs.iter().any(&sent_to)).await;
    }
    for _ in 0..200 {
        let sql = "SELECT count(*) FROM messages WHERE direction = 'outbound' AND external_id IS NOT NULL";
        if tenant_count(&db, tenant, sql).await >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let lines = logs.all(Duration::from_secs(10));

    // The paths this test is about did log (else it proves nothing).
    let count = |message: &str| lines.iter().filter(|l| l.contains(&format!("\"message\":\"{message}\""))).count();
    for (message, at_least) in [
        ("inbound message taken in", 5),
        ("reply sent", 5),
        ("webhook for an unknown channel account rejected", 2),
        ("Meta webhook item skipped", 1),
        ("unreadable email skipped", 1),
        ("send failed; will retry", 1),
    ] {
        assert!(count(message) >= at_least, "fewer than {at_least} \"{message}\" lines in:\n{}", lines.join("\n"));
    }

    // Any Meta id logged as it is, not only this one, names a number.
    let markers = [MARK.to_string(), PHONE_MARK.to_string(), meta_id.to_lowercase(), "wamid.".to_string()];
    let offending: Vec<&String> = lines
        .iter()
        .filter(|line| {
            let lower = line.to_lowercase();
            markers.iter().any(|m| lower.contains(m.as_str()))
        })
        .collect();
    assert!(
        offending.is_empty(),
        "{} of {} log lines carry personal data:\n{}",
        offending.len(),
        lines.len(),
        offending.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
    );
    eprintln!("pii_logs: {} log lines, 5 channels answered, 6 refusal paths logged, no personal data", lines.len());
}
