//! Gmail end to end, against `fte serve` and a local fake of Google (OAuth
//! token endpoint, signing keys, Gmail API): the watch is set up at start,
//! a Pub/Sub push with an RS256 token (test keys) triggers the mailbox
//! sync, the new email is answered as a threaded reply through
//! `users.messages.send`; and refusals: no token, a token from another key
//! or for another audience, an unknown mailbox, a malformed push. Hostile
//! text in an email (name, subject, text) is cleaned, stored and answered;
//! an email no message can be made of is skipped without holding up the
//! next one; 1 MB of emoji is taken with its body cut.

use crate::common::fake_provider::{FakeProvider, Recorded};
use crate::common::{TestDb, spawn_serve};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fte::channels::gmail::testkit;
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use fte::domain::TenantId;
use serde_json::json;
use std::time::Duration;

const KEY_A: &[u8] = include_bytes!("../../src/channels/gmail/test_only_rsa_key_a.pk8");
const KEY_B: &[u8] = include_bytes!("../../src/channels/gmail/test_only_rsa_key_b.pk8");
const MAILBOX: &str = "support@tallyloom.com";
const AUDIENCE: &str = "https://fte.test/webhooks/gmail/push";
const PUSHER: &str = "gmail-push@tallyloom-prod.iam.gserviceaccount.com";

const CUSTOMER_EMAIL: &str = "From: Jo Doe <jo@example.com>\r\nTo: support@tallyloom.com\r\nSubject: Export invoices\r\n\
Message-ID: <orig-1@example.com>\r\nDate: Sun, 22 Nov 2026 05:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nHi, how do I export my invoices to CSV?\r\n\r\n-- \r\nJo Doe\r\nMobile: +31 6 12345678\r\n";

fn google(rec: &Recorded) -> (u16, Vec<(String, String)>, String) {
    let ok = |body: serde_json::Value| (200, vec![], body.to_string());
    match (rec.method.as_str(), rec.path.as_str()) {
        ("POST", "/token") => {
            ok(json!({"access_token": "ya29.test-access", "expires_in": 3599, "token_type": "Bearer"}))
        }
        ("GET", "/oauth2/v3/certs") => (200, vec![], testkit::jwks_json(KEY_A, "key-a").unwrap()),
        ("POST", "/gmail/v1/users/me/watch") => ok(json!({"historyId": "1000", "expiration": "4102444800000"})),
        ("GET", "/gmail/v1/users/me/history") => ok(json!({
            "history": [{"id": "1001", "messagesAdded": [{"message": {"id": "m1", "threadId": "t1", "labelIds": ["INBOX", "UNREAD"]}}]}],
            "historyId": "1001"
        })),
        ("GET", "/gmail/v1/users/me/messages/m1") => ok(json!({
            "id": "m1", "threadId": "t1", "labelIds": ["INBOX", "UNREAD"], "historyId": "1001",
            "internalDate": "1795237200000", "raw": URL_SAFE.encode(CUSTOMER_EMAIL)
        })),
        ("POST", "/gmail/v1/users/me/messages/send") => ok(json!({"id": "s1", "threadId": "t1", "labelIds": ["SENT"]})),
        _ => (404, vec![], json!({"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}).to_string()),
    }
}

fn token(key: &[u8], kid: &str, audience: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    testkit::sign_rs256_jwt(key, kid, &testkit::push_claims(audience, PUSHER, now - 5, now + 3600)).unwrap()
}

async fn push(url: &str, body: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(url).header("content-type", "application/json").body(body.to_string());
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.send().await.unwrap()
}

async fn one(db: &TestDb, tenant: TenantId, sql: &'static str) -> (Option<String>, String) {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let row = sqlx::query_as(sql).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gmail_push_is_synced_answered_and_threaded() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(google).await;
    upsert_account(
        &db.pool,
        tenant,
        Provider::Gmail,
        MAILBOX,
        &json!({
            "client_id": "client-123.apps.googleusercontent.com",
            "client_secret_env": "FTE_TEST_GMAIL_SECRET",
            "refresh_token_env": "FTE_TEST_GMAIL_REFRESH",
            "push_audience": AUDIENCE,
            "push_service_account": PUSHER,
            "topic_name": "projects/tallyloom-prod/topics/gmail",
            "base_url": fake.base_url,
            "token_url": format!("{}/token", fake.base_url),
            "certs_url": format!("{}/oauth2/v3/certs", fake.base_url),
            "from_name": "Robin at Tallyloom",
        }),
    )
    .await
    .unwrap();
    let (mut child, addr) =
        spawn_serve(&db.url, &[("FTE_TEST_GMAIL_SECRET", "gsecret"), ("FTE_TEST_GMAIL_REFRESH", "1//refresh")]);
    let hook = format!("http://{addr}/webhooks/gmail/push");

    // The watch is renewed at start, with a refreshed access token.
    let watched = fake.wait_for(2, Duration::from_secs(20)).await;
    let token_req = watched.iter().find(|r| r.path == "/token").expect("token refreshed");
    assert_eq!(token_req.form_value("grant_type").as_deref(), Some("refresh_token"));
    assert_eq!(token_req.form_value("refresh_token").as_deref(), Some("1//refresh"));
    assert_eq!(token_req.form_value("client_secret").as_deref(), Some("gsecret"));
    let watch = watched.iter().find(|r| r.path.ends_with("/watch")).expect("watch set up");
    assert_eq!(watch.header("authorization"), Some("Bearer ya29.test-access"));
    assert_eq!(watch.json()["topicName"], "projects/tallyloom-prod/topics/gmail");

    // Refusals first: nothing fetched, nothing stored.
    let body = testkit::push_body(MAILBOX, 1001, "push-1");
    assert_eq!(push(&hook, &body, None).await.status(), 401);
    assert_eq!(push(&hook, &body, Some(&token(KEY_B, "key-a", AUDIENCE))).await.status(), 401);
    assert_eq!(push(&hook, &body, Some(&token(KEY_A, "key-a", "https://elsewhere.test/"))).await.status(), 401);
    let r = push(&hook, &body, Some("not.a.jwt")).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let stranger = testkit::push_body("sales@tallyloom.com", 5, "push-x");
    assert_eq!(push(&hook, &stranger, Some(&token(KEY_A, "key-a", AUDIENCE))).await.status(), 403);
    for bad in ["{", "{\"message\":{}}", "[1]"] {
        let r = push(&hook, bad, Some(&token(KEY_A, "key-a", AUDIENCE))).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    assert!(fake.requests().iter().all(|r| !r.path.contains("/history")), "nothing synced before a valid push");

    // A valid push: sync from the watch's history id, fetch, answer.
    let r = push(&hook, &body, Some(&token(KEY_A, "key-a", AUDIENCE))).await;
    assert!(r.status().is_success(), "{}", r.status());
    let history = fake.requests().into_iter().find(|r| r.path.ends_with("/history")).expect("history listed");
    assert!(history.query.as_deref().unwrap().contains("startHistoryId=1000"), "{:?}", history.query);
    let mut sent = None;
    for _ in 0..200 {
        sent = fake.requests().into_iter().find(|r| r.path.ends_with("/messages/send"));
        if sent.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = sent.expect("the reply was sent");
    assert_eq!(sent.header("authorization"), Some("Bearer ya29.test-access"));
    let j = sent.json();
    assert_eq!(j["threadId"], "t1");
    let raw = decode_raw(&j);
    assert!(raw.contains("To: jo@example.com") || raw.contains("To: <jo@example.com>"), "{raw}");
    assert!(raw.contains("From: Robin at Tallyloom <support@tallyloom.com>"), "{raw}");
    assert!(raw.contains("Subject: Re: Export invoices"), "{raw}");
    assert!(raw.contains("In-Reply-To: <orig-1@example.com>"), "{raw}");
    assert!(raw.contains("References: <orig-1@example.com>"), "{raw}");
    // The reply's own id, by which a resend finds it even if Gmail replaced the Message-ID.
    let reply_id = raw.lines().find_map(|l| l.strip_prefix("X-FTE-Reply-Id: ")).expect("X-FTE-Reply-Id header");
    assert!(uuid::Uuid::parse_str(reply_id).is_ok(), "{raw}");
    assert!(raw.contains("\r\n\r\n"), "CRLF headers");
    for _ in 0..100 {
        if one(&db, tenant, "SELECT external_id, delivery_status FROM messages WHERE direction = 'outbound'").await.1
            == "sent"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (external_id, status) =
        one(&db, tenant, "SELECT external_id, delivery_status FROM messages WHERE direction = 'outbound'").await;
    assert_eq!((external_id.as_deref(), status.as_str()), (Some("s1"), "sent"));
    let (cursor, _) = one(&db, tenant, "SELECT cursor, 'x'::text FROM channel_cursors").await;
    assert_eq!(cursor.as_deref(), Some("1001"));
    let (body, _) = one(&db, tenant, "SELECT body, 'x'::text FROM messages WHERE direction = 'inbound'").await;
    assert_eq!(body.as_deref(), Some("Hi, how do I export my invoices to CSV?"), "signature stripped");
    // The signature's phone number is linked to the customer.
    let (phone, _) = one(&db, tenant, "SELECT value, kind FROM customer_identifiers WHERE kind = 'phone'").await;
    assert_eq!(phone.as_deref(), Some("+31612345678"));

    // A web-form ticket of the same tenant: its reply also goes by email,
    // from the tenant's Gmail mailbox, as a new message on the form's subject.
    upsert_account(&db.pool, tenant, Provider::Webform, "tallyloom-demo", &json!({"reply_by_email": true}))
        .await
        .unwrap();
    let form = json!({
        "name": "Sam Lee", "email": "sam@example.com", "phone": "", "subject": "Seats for a new hire",
        "category": "billing", "message": "Do I need to buy a seat before I invite someone?", "website": "",
        "widget_key": "tallyloom-demo"
    });
    let r = reqwest::Client::new().post(format!("http://{addr}/support/api/tickets")).json(&form).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let mut emailed = None;
    for _ in 0..200 {
        emailed = fake
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/messages/send"))
            .find(|r| decode_raw(&r.json()).contains("sam@example.com"));
        if emailed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let emailed = decode_raw(&emailed.expect("the web-form reply was emailed").json());
    assert!(emailed.contains("Subject: Re: Seats for a new hire"), "{emailed}");
    assert!(!emailed.contains("In-Reply-To"), "{emailed}");

    // Pub/Sub redelivers the push: acknowledged, nothing fetched again.
    let fetched = fake.requests().len();
    let r = push(&hook, &body_of(MAILBOX, "push-1"), Some(&token(KEY_A, "key-a", AUDIENCE))).await;
    assert!(r.status().is_success());
    assert_eq!(fake.requests().len(), fetched);
    child.kill().ok();
    child.wait().ok();
}

fn body_of(mailbox: &str, id: &str) -> String {
    testkit::push_body(mailbox, 1001, id)
}

fn decode_raw(j: &serde_json::Value) -> String {
    let raw = j["raw"].as_str().unwrap_or_default().trim_end_matches('=');
    String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).unwrap()).unwrap()
}

/// A mailbox with `BACKLOG` new emails, one history record each (ids
/// 1001…), listed 20 records a page from `startHistoryId` on.
const BACKLOG: u64 = 60;

fn backlog(rec: &Recorded) -> (u16, Vec<(String, String)>, String) {
    let ok = |body: serde_json::Value| (200, vec![], body.to_string());
    let q: std::collections::HashMap<String, String> = rec.query_pairs().into_iter().collect();
    match (rec.method.as_str(), rec.path.as_str()) {
        ("GET", "/gmail/v1/users/me/history") => {
            let start: u64 = q.get("startHistoryId").and_then(|s| s.parse().ok()).unwrap_or(0);
            let from: u64 = q.get("pageToken").and_then(|s| s.parse().ok()).unwrap_or(start + 1).max(1001);
            let to = (from + 19).min(1000 + BACKLOG);
            let records: Vec<_> = (from..=to)
                .map(|h| json!({"id": h.to_string(), "messagesAdded": [{"message": {"id": format!("m{h}"), "threadId": format!("t{h}"), "labelIds": ["INBOX"]}}]}))
                .collect();
            let mut page = json!({ "history": records, "historyId": (1000 + BACKLOG).to_string() });
            if to < 1000 + BACKLOG {
                page["nextPageToken"] = json!((to + 1).to_string());
            }
            ok(page)
        }
        ("GET", path) if path.starts_with("/gmail/v1/users/me/messages/m") => {
            let h: u64 = path.trim_start_matches("/gmail/v1/users/me/messages/m").parse().unwrap();
            let email = format!(
                "From: Customer {h} <c{h}@example.com>\r\nTo: {MAILBOX}\r\nSubject: Question {h}\r\n\
                 Message-ID: <q-{h}@example.com>\r\nDate: Sun, 22 Nov 2026 05:00:00 +0000\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\nQuestion number {h}\r\n"
            );
            ok(json!({"id": format!("m{h}"), "threadId": format!("t{h}"), "labelIds": ["INBOX"],
                      "historyId": h.to_string(), "internalDate": "1795237200000", "raw": URL_SAFE.encode(email)}))
        }
        ("POST", "/gmail/v1/users/me/messages/send") => {
            ok(json!({"id": format!("s{}", uuid::Uuid::new_v4().simple()), "threadId": "t", "labelIds": ["SENT"]}))
        }
        _ => google(rec),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_one_sync_step_is_taken_in_whole_across_redeliveries() {
    let db = TestDb::new().await;
    let tenant = db.tenant("backlog", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(backlog).await;
    let config = json!({
        "client_id": "client-123.apps.googleusercontent.com",
        "client_secret_env": "FTE_TEST_GMAIL_SECRET", "refresh_token_env": "FTE_TEST_GMAIL_REFRESH",
        "push_audience": AUDIENCE, "push_service_account": PUSHER,
        "topic_name": "projects/tallyloom-prod/topics/gmail", "base_url": fake.base_url,
        "token_url": format!("{}/token", fake.base_url), "certs_url": format!("{}/oauth2/v3/certs", fake.base_url),
    });
    upsert_account(&db.pool, tenant, Provider::Gmail, MAILBOX, &config).await.unwrap();
    let (mut child, addr) =
        spawn_serve(&db.url, &[("FTE_TEST_GMAIL_SECRET", "gsecret"), ("FTE_TEST_GMAIL_REFRESH", "1//refresh")]);
    let hook = format!("http://{addr}/webhooks/gmail/push");
    fake.wait_for(2, Duration::from_secs(20)).await;
    // Pub/Sub delivers the push until it is acknowledged.
    let body = testkit::push_body(MAILBOX, 1000 + BACKLOG, "push-backlog");
    let mut deliveries = 0;
    loop {
        deliveries += 1;
        let r = push(&hook, &body, Some(&token(KEY_A, "key-a", AUDIENCE))).await;
        if r.status().is_success() {
            break;
        }
        assert_eq!(r.status(), 503, "only a backlog left for the next delivery may refuse");
        assert!(deliveries < 20, "the sync does not move on");
    }
    // Acknowledged: every email is durable; each becomes one stored message.
    let count = || one(&db, tenant, "SELECT count(*)::text, 'x'::text FROM messages WHERE direction = 'inbound'");
    for _ in 0..600 {
        if count().await.0.as_deref() == Some(BACKLOG.to_string().as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count().await.0, Some(BACKLOG.to_string()), "every email of the backlog stored once");
    let (cursor, _) = one(&db, tenant, "SELECT cursor, 'x'::text FROM channel_cursors").await;
    assert_eq!(cursor.as_deref(), Some((1000 + BACKLOG).to_string().as_str()));
    let fetched = fake.requests().iter().filter(|r| r.path.contains("/messages/m")).count();
    assert_eq!(fetched as u64, BACKLOG, "each email fetched once");
    child.kill().ok();
    child.wait().ok();
}

/// `bytes` as base64 in lines of 76 characters (a MIME body).
fn base64_lines(bytes: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    b64.as_bytes().chunks(76).map(|l| format!("{}\r\n", std::str::from_utf8(l).unwrap())).collect()
}

/// An email from Jo to the mailbox, its text `body` in base64.
fn email_from_jo(from_name: &str, subject: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from_name} <jo@example.com>\r\nTo: {MAILBOX}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}@example.com>\r\n\
         Date: Sun, 22 Nov 2026 05:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}",
        base64_lines(body.as_bytes())
    )
    .into_bytes()
}

/// `text` as an RFC 2047 encoded word (UTF-8, base64).
fn encoded_word(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(text))
}

/// The hostile email: HOSTILE as the sender's display name, the subject
/// (encoded words, so NUL and CR LF get in) and the text (base64).
fn hostile_email() -> Vec<u8> {
    use crate::common::hostile::HOSTILE;
    email_from_jo(&encoded_word(HOSTILE), &encoded_word(HOSTILE), "hostile-1", HOSTILE)
}

/// The poison email: NUL and bytes that are not UTF-8 in its headers, no
/// address in its From, a base64 body that does not decode, in a charset
/// nobody knows. No message can be made of it.
const POISON: &[u8] = b"From: \0\xff\xfe <\0@\0>\r\nTo: support@tallyloom.com\r\nSubject: \0\x1b[31m\xc3\x28\r\n\
Message-ID: <poison-1@example.com>\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\
Content-Transfer-Encoding: base64\r\n\r\n\xff\xfe!!%%\0*\r\n";

/// A mailbox that receives, push after push (history ids 1001…1004): the
/// hostile email; the poison email, a message whose content Gmail's
/// answer does not carry readably, then a normal one; 1 MB of emoji.
fn hostile_mailbox(rec: &Recorded) -> (u16, Vec<(String, String)>, String) {
    let ok = |body: serde_json::Value| (200, vec![], body.to_string());
    let q: std::collections::HashMap<String, String> = rec.query_pairs().into_iter().collect();
    let added = |h: u64, id: &str| json!({"id": h.to_string(), "messagesAdded": [{"message": {"id": id, "threadId": format!("t{id}"), "labelIds": ["INBOX"]}}]});
    let message = |id: &str, h: u64, raw: &[u8]| {
        ok(json!({"id": id, "threadId": format!("t{id}"), "labelIds": ["INBOX"], "historyId": h.to_string(),
                  "internalDate": "1795237200000", "raw": URL_SAFE.encode(raw)}))
    };
    match (rec.method.as_str(), rec.path.as_str()) {
        ("GET", "/gmail/v1/users/me/history") => match q.get("startHistoryId").map(String::as_str) {
            Some("1000") => ok(json!({"history": [added(1001, "mhostile")], "historyId": "1001"})),
            Some("1001") => {
                let history = [added(1002, "mpoison"), added(1002, "mgarbled"), added(1003, "mnormal")];
                ok(json!({"history": history, "historyId": "1003"}))
            }
            Some("1003") => ok(json!({"history": [added(1004, "memoji")], "historyId": "1004"})),
            other => ok(json!({"historyId": other.unwrap_or("1004")})),
        },
        ("GET", "/gmail/v1/users/me/messages/mhostile") => message("mhostile", 1001, &hostile_email()),
        ("GET", "/gmail/v1/users/me/messages/mpoison") => message("mpoison", 1002, POISON),
        // Gmail's answer for the message, its `raw` not base64url.
        ("GET", "/gmail/v1/users/me/messages/mgarbled") => {
            ok(json!({"id": "mgarbled", "threadId": "tmgarbled", "historyId": "1002", "raw": "***"}))
        }
        ("GET", "/gmail/v1/users/me/messages/mnormal") => message(
            "mnormal",
            1003,
            &email_from_jo("Jo Doe", "Export invoices", "normal-1", "How do I export invoices?"),
        ),
        ("GET", "/gmail/v1/users/me/messages/memoji") => {
            let emoji = crate::common::hostile::emoji(crate::common::hostile::ONE_MB);
            message("memoji", 1004, &email_from_jo("Jo Doe", "Emoji", "emoji-1", &emoji))
        }
        ("POST", "/gmail/v1/users/me/messages/send") => {
            ok(json!({"id": format!("s{}", uuid::Uuid::new_v4().simple()), "threadId": "t", "labelIds": ["SENT"]}))
        }
        _ => google(rec),
    }
}

/// Decodes a quoted-printable body (soft line breaks, `=XX`).
fn decode_qp(qp: &str) -> String {
    let joined = qp.replace("=\r\n", "");
    let (bytes, mut out, mut i) = (joined.as_bytes(), Vec::new(), 0);
    while i < bytes.len() {
        match std::str::from_utf8(bytes.get(i + 1..i + 3).unwrap_or_default()).ok() {
            Some(hex) if bytes[i] == b'=' && u8::from_str_radix(hex, 16).is_ok() => {
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// Waits (20 s at most) for the reply sent at the fake in Gmail thread
/// `thread`; returns its headers and its text (quoted-printable decoded,
/// LF line ends).
async fn sent_reply(fake: &FakeProvider, thread: &str) -> (String, String) {
    for _ in 0..400 {
        let sent = fake
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/messages/send"))
            .find(|r| r.json()["threadId"] == thread);
        if let Some(sent) = sent {
            let raw = decode_raw(&sent.json());
            assert!(raw.contains("Content-Transfer-Encoding: quoted-printable\r\n"), "{raw}");
            let (head, body) = raw.split_once("\r\n\r\n").expect("headers, then the body");
            return (head.to_string(), decode_qp(body).replace("\r\n", "\n").trim_end().to_string());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reply sent in thread {thread} in 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_an_email_is_cleaned_stored_and_answered_and_a_poison_email_blocks_nothing() {
    use crate::common::hostile::{HOSTILE_CLEANED, ONE_MB, Rows, emoji, inbound, wait_rows, wait_stored_reply};
    use fte::domain::MAX_BODY_CHARS;
    let db = TestDb::new().await;
    let tenant = db.tenant("hostile", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(hostile_mailbox).await;
    let config = json!({
        "client_id": "client-123.apps.googleusercontent.com",
        "client_secret_env": "FTE_TEST_GMAIL_SECRET", "refresh_token_env": "FTE_TEST_GMAIL_REFRESH",
        "push_audience": AUDIENCE, "push_service_account": PUSHER,
        "topic_name": "projects/tallyloom-prod/topics/gmail", "base_url": fake.base_url,
        "token_url": format!("{}/token", fake.base_url), "certs_url": format!("{}/oauth2/v3/certs", fake.base_url),
    });
    upsert_account(&db.pool, tenant, Provider::Gmail, MAILBOX, &config).await.unwrap();
    let (mut child, addr) =
        spawn_serve(&db.url, &[("FTE_TEST_GMAIL_SECRET", "gsecret"), ("FTE_TEST_GMAIL_REFRESH", "1//refresh")]);
    let hook = format!("http://{addr}/webhooks/gmail/push");
    fake.wait_for(2, Duration::from_secs(20)).await;
    let cursor = || one(&db, tenant, "SELECT cursor, 'x'::text FROM channel_cursors");
    // Pub/Sub delivers a push until it is acknowledged: at most once more here.
    let deliver = |history_id: u64, push_id: &'static str| {
        let hook = hook.clone();
        async move {
            let body = testkit::push_body(MAILBOX, history_id, push_id);
            let first = push(&hook, &body, Some(&token(KEY_A, "key-a", AUDIENCE))).await.status().as_u16();
            if first == 503 {
                let again = push(&hook, &body, Some(&token(KEY_A, "key-a", AUDIENCE))).await.status().as_u16();
                assert_eq!(again, 204, "{push_id}: a 503, then {again}");
            } else {
                assert_eq!(first, 204, "{push_id}");
            }
        }
    };

    // The hostile email: stored cleaned, answered in its thread.
    deliver(1001, "push-hostile").await;
    let reply = wait_stored_reply(&db, tenant, "mhostile").await;
    let (body, meta, name) = inbound(&db, tenant, "mhostile").await;
    assert_eq!(body, HOSTILE_CLEANED, "the text part, cleaned");
    // A subject and a display name are one line each: the line break
    // their encoded words carried became a space (else no reply could
    // carry the subject).
    let one_line = HOSTILE_CLEANED.replace('\n', " ");
    assert_eq!(meta["subject"], one_line.as_str(), "{meta}");
    assert_eq!(name.as_deref(), Some(one_line.as_str()));
    assert!(reply.contains(&format!("\"{HOSTILE_CLEANED}\"")), "the reply quotes the cleaned text: {reply}");
    let (head, text) = sent_reply(&fake, "tmhostile").await;
    assert_eq!(text, reply, "{head}");
    assert!(head.contains("In-Reply-To: <hostile-1@example.com>"), "{head}");
    let subject = head.split("\r\n").find_map(|l| l.strip_prefix("Subject: ")).expect("a Subject header");
    let sent = fte::channels::gmail::mime::parse(format!("{head}\r\n\r\n").as_bytes()).expect("the reply parses");
    assert_eq!(sent.subject.as_deref(), Some(format!("Re: {one_line}").as_str()), "{subject}");
    assert_eq!(cursor().await.0.as_deref(), Some("1001"));

    // The poison email and an unreadable answer, then a normal one, in one
    // push: the two are skipped, the normal one stored and answered, the
    // history id past all three.
    deliver(1003, "push-poison").await;
    let reply = wait_stored_reply(&db, tenant, "mnormal").await;
    assert!(reply.contains("\"How do I export invoices?\""), "{reply}");
    assert_eq!(sent_reply(&fake, "tmnormal").await.1, reply);
    let (body, _, _) = inbound(&db, tenant, "mnormal").await;
    assert_eq!(body, "How do I export invoices?");
    assert_eq!(cursor().await.0.as_deref(), Some("1003"));
    let poisoned =
        one(&db, tenant, "SELECT count(*)::text, 'x'::text FROM messages WHERE external_id IN ('mpoison', 'mgarbled')")
            .await;
    assert_eq!(poisoned.0.as_deref(), Some("0"), "the poison email is not stored");
    let sends = fake.requests().into_iter().filter(|r| r.path.ends_with("/messages/send"));
    assert!(sends.map(|r| r.json()["threadId"].clone()).all(|t| t != "tmpoison" && t != "tmgarbled"), "nor answered");

    // 1 MB of emoji as the text: taken in with its body cut to
    // MAX_BODY_CHARS, the cut recorded; answered.
    deliver(1004, "push-emoji").await;
    let reply = wait_stored_reply(&db, tenant, "memoji").await;
    assert!(reply.contains(&format!("\"{}…\"", emoji(120 * 4))), "{}", reply.chars().take(300).collect::<String>());
    let (body, meta, _) = inbound(&db, tenant, "memoji").await;
    assert_eq!(body, emoji(MAX_BODY_CHARS * 4));
    assert_eq!(meta["extra"]["body_truncated"], json!({"original_chars": ONE_MB / 4}), "{meta}");
    assert_eq!(sent_reply(&fake, "tmemoji").await.1, reply);
    assert_eq!(cursor().await.0.as_deref(), Some("1004"));

    // One customer, three messages, every turn settled; nothing escalated.
    wait_rows(&db, tenant, Rows { customers: 1, identifiers: 1, inbound: 3, intake: 0 }).await;
    assert_eq!(crate::common::tenant_count(&db, tenant, "SELECT count(*) FROM escalations").await, 0);
    child.kill().ok();
    child.wait().ok();
}
