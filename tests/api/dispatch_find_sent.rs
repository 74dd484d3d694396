//! Reconciliation against local fakes of the providers: `find_sent` asks
//! Twilio (Messages list, paged), Slack (thread read with metadata) and
//! Gmail (`rfc822msgid:` search, after a token refresh; when it finds
//! nothing, the sent mail to the customer, paged, and each candidate's
//! `X-FTE-Reply-Id` read with `format=metadata`, within a bound) in their
//! wire formats, and reads their answers as Found / NotFound or as a
//! temporary or permanent failure; Meta cannot be asked, and a web-form
//! reply shown on the status page only counts as found. No database: none
//! of these lookups reads one (the pool is lazy and never connects).

use crate::common::fake_provider::{FakeProvider, Recorded, Reply};
use fte::channels::settings::AccountSettings;
use fte::crm::ChannelAccount;
use fte::delivery::dispatch::senders::{Lookup, SendContext, find_sent};
use fte::delivery::dispatch::store::{Origin, PendingReply};
use fte::domain::Provider;
use fte::domain::{Channel, EmailAddress, Identifier, PhoneNumber, TenantId};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const BUSINESS: &str = "+31208084417";
const CUSTOMER: &str = "+31612345678";
const REPLY: &str = "Hi Jo — invoices export from Reports > Export & land as CSV.";

fn lazy_pool() -> PgPool {
    PgPoolOptions::new().connect_lazy("postgres://fte@127.0.0.1:9/unused").expect("a lazy pool needs no server")
}

fn context(provider: Provider, address: &str, config: serde_json::Value, recipient: Option<Identifier>) -> SendContext {
    let settings = AccountSettings::parse(provider, &config).expect("valid account settings");
    let account = ChannelAccount {
        id: Uuid::new_v4(),
        tenant_id: TenantId::from_uuid(Uuid::new_v4()),
        provider,
        address: address.into(),
        config,
        enabled: true,
    };
    SendContext { account, settings, recipient }
}

fn reply(context: &SendContext, channel: Channel, body: &str, origin: serde_json::Value) -> PendingReply {
    PendingReply {
        message_id: Uuid::now_v7(),
        tenant_id: context.account.tenant_id,
        conversation_id: Uuid::new_v4(),
        customer_id: Uuid::new_v4(),
        channel,
        author: "agent".into(),
        body: body.into(),
        external_id: None,
        delivery_status: "pending".into(),
        subject: Some("Export invoices".into()),
        origin: Some(Origin { external_id: None, metadata: origin, subject: None }),
        send_started_at: Some(since()),
    }
}

fn since() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-12-07T01:16:30Z").unwrap().to_utc()
}

fn twilio_message(sid: &str, body: &str, created: &str) -> serde_json::Value {
    json!({
        "account_sid": SID, "api_version": "2010-04-01", "body": body,
        "date_created": created, "date_sent": created, "date_updated": created,
        "direction": "outbound-api", "error_code": null, "error_message": null,
        "from": format!("whatsapp:{BUSINESS}"), "messaging_service_sid": null,
        "num_media": "0", "num_segments": "1", "price": null, "price_unit": "USD",
        "sid": sid, "status": "delivered",
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}/Media.json")},
        "to": format!("whatsapp:{CUSTOMER}"), "uri": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json")
    })
}

/// Twilio's Messages list, two pages: the newer one entirely inside the
/// window, the older one reaching back before it.
fn twilio(rec: &Recorded) -> Reply {
    let path = format!("/2010-04-01/Accounts/{SID}/Messages.json");
    if rec.method != "GET" || rec.path != path {
        return (404, vec![], json!({"code": 20404, "message": "not found", "status": 404}).to_string());
    }
    let query = rec.query.clone().unwrap_or_default();
    let (messages, next) = if query.contains("PageToken=PASM2") {
        (
            vec![
                twilio_message("SM20000000000000000000000000000002", REPLY, "Mon, 07 Dec 2026 01:16:38 +0000"),
                twilio_message("SM10000000000000000000000000000001", REPLY, "Mon, 07 Dec 2026 01:02:00 +0000"),
            ],
            None,
        )
    } else {
        (
            vec![
                twilio_message(
                    "SM40000000000000000000000000000004",
                    "Anything else?",
                    "Mon, 07 Dec 2026 01:21:00 +0000",
                ),
                twilio_message("SM30000000000000000000000000000003", "Thanks!", "Mon, 07 Dec 2026 01:18:00 +0000"),
            ],
            Some(format!("{path}?{query}&Page=1&PageToken=PASM2")),
        )
    };
    let body = json!({
        "first_page_uri": format!("{path}?{query}&Page=0"), "messages": messages, "next_page_uri": next,
        "page": 0, "page_size": 50, "previous_page_uri": null, "start": 0, "end": 1, "uri": format!("{path}?{query}")
    });
    (200, vec![], body.to_string())
}

#[tokio::test]
async fn twilio_lookup_pages_through_the_messages_list() {
    // SAFETY: nextest runs each test in a process of its own, and nothing
    // else in this one reads the environment yet.
    unsafe { std::env::set_var("FTE_TEST_FIND_TWILIO_TOKEN", "twilio-test-token") };
    let fake = FakeProvider::start(twilio).await;
    let ctx = context(
        Provider::Twilio,
        BUSINESS,
        json!({"account_sid": SID, "auth_token_env": "FTE_TEST_FIND_TWILIO_TOKEN", "base_url": fake.base_url}),
        Some(Identifier::Whatsapp(PhoneNumber::parse(CUSTOMER).unwrap())),
    );
    let (http, gmail, pool) =
        (reqwest::Client::new(), fte::channels::gmail::GmailClient::new(reqwest::Client::new()), lazy_pool());
    let ours = reply(&ctx, Channel::Whatsapp, REPLY, json!({}));

    let Lookup::Found(found) = find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &[]).await.unwrap() else {
        panic!("the earlier attempt is on Twilio's second page")
    };
    assert_eq!(found.external_id, "SM20000000000000000000000000000002");
    assert_eq!(found.status.as_str(), "delivered");
    assert_eq!(found.metadata["provider"], "twilio");
    let asked = fake.requests();
    assert_eq!(asked.len(), 2);
    let basic = format!("Basic {}", base64_encode(&format!("{SID}:twilio-test-token")));
    assert!(asked.iter().all(|r| r.method == "GET" && r.header("authorization") == Some(basic.as_str())));
    assert_eq!(
        asked[0].query.as_deref(),
        Some("To=whatsapp%3A%2B31612345678&From=whatsapp%3A%2B31208084417&PageSize=50")
    );
    assert!(asked[1].query.as_deref().unwrap_or_default().ends_with("&Page=1&PageToken=PASM2"));

    // Stored for another reply with the same text: not this one's.
    let taken = ["SM20000000000000000000000000000002".to_string()];
    assert_eq!(find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &taken).await.unwrap(), Lookup::NotFound);
    // Another text: not there.
    let other = reply(&ctx, Channel::Whatsapp, "Your refund is on its way.", json!({}));
    assert_eq!(find_sent(&http, &gmail, &pool, &ctx, &other, since(), &[]).await.unwrap(), Lookup::NotFound);
    // Throttled: ask again later, never guess.
    fake.script([(
        429,
        vec![("Retry-After".into(), "3".into())],
        json!({"code": 20429, "message": "Too Many Requests", "status": 429}).to_string(),
    )]);
    let e = find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &[]).await.unwrap_err();
    assert!(e.retryable, "{e:?}");
    assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(3)));
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn slack_lookup_finds_the_reply_by_its_metadata() {
    // SAFETY: as above.
    unsafe { std::env::set_var("FTE_TEST_FIND_SLACK_BOT", "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy") };
    let reply_id = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let wanted = reply_id.clone();
    let fake = FakeProvider::start(move |rec: &Recorded| {
        let id = wanted.lock().unwrap().clone();
        let body = json!({
            "ok": true,
            "messages": [
                {"type": "message", "user": "U061F7AUR", "text": "How do I export invoices?", "ts": "1700000001.000100",
                 "thread_ts": "1700000001.000100", "reply_count": 1, "team": "T061EG9R6"},
                {"type": "message", "user": "U0BOT1234", "bot_id": "B061F7JD2", "app_id": "A0APP5678", "text": REPLY,
                 "ts": "1796606198.000200", "thread_ts": "1700000001.000100", "parent_user_id": "U061F7AUR",
                 "metadata": {"event_type": "fte_reply", "event_payload": {"reply_id": id}}}
            ],
            "has_more": false,
            "response_metadata": {"next_cursor": ""}
        });
        if rec.path == "/api/conversations.replies" {
            (200, vec![], body.to_string())
        } else {
            (404, vec![], String::new())
        }
    })
    .await;
    let ctx = context(
        Provider::Slack,
        "T061EG9R6",
        json!({"signing_secret_env": "FTE_TEST_FIND_SLACK_SECRET", "bot_token_env": "FTE_TEST_FIND_SLACK_BOT", "base_url": fake.base_url}),
        None,
    );
    let (http, gmail, pool) =
        (reqwest::Client::new(), fte::channels::gmail::GmailClient::new(reqwest::Client::new()), lazy_pool());
    let origin = json!({"channel": "C123ABC456", "ts": "1700000001.000100"});
    let ours = reply(&ctx, Channel::Slack, REPLY, origin.clone());
    *reply_id.lock().unwrap() = ours.message_id.to_string();

    let Lookup::Found(found) = find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &[]).await.unwrap() else {
        panic!("the reply's metadata is in the thread")
    };
    assert_eq!(found.external_id, "C123ABC456:1796606198.000200");
    assert_eq!(found.status.as_str(), "delivered");
    assert_eq!(found.metadata["thread_ts"], "1700000001.000100");
    let asked = &fake.requests()[0];
    assert_eq!(asked.method, "GET");
    assert_eq!(asked.header("authorization"), Some("Bearer xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"));
    assert_eq!(
        asked.query.as_deref(),
        Some("channel=C123ABC456&ts=1700000001.000100&include_all_metadata=true&oldest=1796606185.000000&limit=200")
    );

    // The same text for another reply: not this one.
    let other = reply(&ctx, Channel::Slack, REPLY, origin);
    assert_eq!(find_sent(&http, &gmail, &pool, &ctx, &other, since(), &[]).await.unwrap(), Lookup::NotFound);
    // Slack's refusals: throttling is temporary, a lost channel permanent.
    fake.script([
        (200, vec![], json!({"ok": false, "error": "ratelimited"}).to_string()),
        (200, vec![], json!({"ok": false, "error": "not_in_channel"}).to_string()),
    ]);
    assert!(find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &[]).await.unwrap_err().retryable);
    assert!(!find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &[]).await.unwrap_err().retryable);
}

const MAILBOX: &str = "support@tallyloom.com";

#[tokio::test]
async fn gmail_lookup_searches_the_message_id() {
    let fake = FakeProvider::start(|rec: &Recorded| {
        let ok = |body: serde_json::Value| (200, vec![], body.to_string());
        match (rec.method.as_str(), rec.path.as_str()) {
            ("POST", "/token") => ok(json!({"access_token": "ya29.test-access", "expires_in": 3599, "token_type": "Bearer"})),
            ("GET", "/gmail/v1/users/me/messages") => {
                let q = rec.query.clone().unwrap_or_default();
                if q.contains("rfc822msgid%3A0190a5d27c1e7b3a9f4e2d6c8b1a0e57%40tallyloom.com") {
                    ok(json!({"messages": [{"id": "18c9f2a4b7e3d001", "threadId": "18c9f0e1d2c3b4a5"}], "resultSizeEstimate": 1}))
                } else {
                    ok(json!({"resultSizeEstimate": 0}))
                }
            }
            _ => (404, vec![], json!({"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}).to_string()),
        }
    })
    .await;
    let ctx = gmail_context(&fake);
    let (http, gmail, pool) =
        (reqwest::Client::new(), fte::channels::gmail::GmailClient::new(reqwest::Client::new()), lazy_pool());
    let mut ours = reply(&ctx, Channel::Email, REPLY, json!({"thread_id": "18c9f0e1d2c3b4a5"}));
    ours.message_id = Uuid::parse_str("0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57").unwrap();

    let Lookup::Found(found) = find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &[]).await.unwrap() else {
        panic!("Gmail has a message with the reply's Message-ID")
    };
    assert_eq!(found.external_id, "18c9f2a4b7e3d001");
    assert_eq!(found.status.as_str(), "sent");
    assert_eq!(found.metadata["thread_id"], "18c9f0e1d2c3b4a5");
    assert_eq!(found.metadata["message_id_header"], "<0190a5d27c1e7b3a9f4e2d6c8b1a0e57@tallyloom.com>");
    assert_eq!(found.metadata["mailbox"], MAILBOX);
    let search = fake.requests().into_iter().find(|r| r.path.ends_with("/messages")).expect("searched");
    assert_eq!(search.header("authorization"), Some("Bearer ya29.test-access"));
    assert_eq!(
        search.query.as_deref(),
        Some("q=rfc822msgid%3A0190a5d27c1e7b3a9f4e2d6c8b1a0e57%40tallyloom.com&includeSpamTrash=true")
    );
    let taken = ["18c9f2a4b7e3d001".to_string()];
    assert_eq!(find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &taken).await.unwrap(), Lookup::NotFound);
    let mut other = ours.clone();
    other.message_id = Uuid::now_v7();
    assert_eq!(find_sent(&http, &gmail, &pool, &ctx, &other, since(), &[]).await.unwrap(), Lookup::NotFound);
    fake.script([(
        503,
        vec![],
        json!({"error": {"code": 503, "message": "Backend Error", "errors": [{"reason": "backendError"}]}}).to_string(),
    )]);
    assert!(find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &[]).await.unwrap_err().retryable);
}

fn gmail_context(fake: &FakeProvider) -> SendContext {
    // SAFETY: nextest runs each test in a process of its own, and nothing
    // else in this one reads the environment yet.
    unsafe {
        std::env::set_var("FTE_TEST_FIND_GMAIL_SECRET", "gsecret");
        std::env::set_var("FTE_TEST_FIND_GMAIL_REFRESH", "1//refresh");
    }
    context(
        Provider::Gmail,
        MAILBOX,
        json!({
            "client_id": "client-123.apps.googleusercontent.com",
            "client_secret_env": "FTE_TEST_FIND_GMAIL_SECRET",
            "refresh_token_env": "FTE_TEST_FIND_GMAIL_REFRESH",
            "push_audience": "https://fte.test/webhooks/gmail/push",
            "push_service_account": "gmail-push@tallyloom-prod.iam.gserviceaccount.com",
            "base_url": fake.base_url,
            "token_url": format!("{}/token", fake.base_url),
        }),
        Some(Identifier::Email(EmailAddress::parse("jo@example.com").unwrap())),
    )
}

const OUR_REPLY: &str = "0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57";
const ANOTHER_REPLY: &str = "0190a5d1-0b2c-7d4e-8f60-718293a4b5c6";
/// `in:sent to:jo@example.com after:<since - 60 s>`, as sent.
const SENT_QUERY: &str = "q=in%3Asent%20to%3Ajo%40example.com%20after%3A1796606130&includeSpamTrash=true&maxResults=50";
const METADATA_QUERY: &str = "format=metadata&metadataHeaders=X-FTE-Reply-Id&metadataHeaders=Message-ID";

/// Gmail's `messages.get?format=metadata` answer: only the asked headers,
/// names as the message wrote them.
fn gmail_metadata(id: &str, thread_id: &str, headers: serde_json::Value) -> serde_json::Value {
    json!({
        "id": id, "threadId": thread_id, "labelIds": ["SENT"],
        "snippet": "Hi Jo, invoices export from Reports &gt; Export &amp; land as CSV.",
        "payload": {"partId": "", "mimeType": "text/plain", "filename": "", "headers": headers, "body": {"size": 61}},
        "sizeEstimate": 912, "historyId": "982734", "internalDate": "1796606198000"
    })
}

/// A Gmail that replaced the reply's `Message-ID` on send: the
/// `rfc822msgid:` search finds nothing; the sent mail to Jo lists, newest
/// first, a message of another reply and one stored for another reply
/// (page 1), then the reply itself with a Gmail-made `Message-ID` and its
/// header name in lower case (page 2).
fn replaced_message_id(rec: &Recorded) -> Reply {
    let ok = |body: serde_json::Value| (200, vec![], body.to_string());
    let query = rec.query.clone().unwrap_or_default();
    match (rec.method.as_str(), rec.path.as_str()) {
        ("POST", "/token") => {
            ok(json!({"access_token": "ya29.test-access", "expires_in": 3599, "token_type": "Bearer"}))
        }
        ("GET", "/gmail/v1/users/me/messages") if query.starts_with("q=rfc822msgid") => {
            ok(json!({"resultSizeEstimate": 0}))
        }
        ("GET", "/gmail/v1/users/me/messages") if query == SENT_QUERY => ok(json!({
            "messages": [
                {"id": "18c9f4c6d9a5f003", "threadId": "18c9f4c6d9a5f003"},
                {"id": "18c9f3b5c8f4e002", "threadId": "18c9f0e1d2c3b4a5"}
            ],
            "nextPageToken": "09812312489719234871",
            "resultSizeEstimate": 3
        })),
        ("GET", "/gmail/v1/users/me/messages") if query == format!("{SENT_QUERY}&pageToken=09812312489719234871") => {
            ok(
                json!({"messages": [{"id": "18c9f2a4b7e3d001", "threadId": "18c9f0e1d2c3b4a5"}], "resultSizeEstimate": 3}),
            )
        }
        ("GET", "/gmail/v1/users/me/messages/18c9f4c6d9a5f003") if query == METADATA_QUERY => ok(gmail_metadata(
            "18c9f4c6d9a5f003",
            "18c9f4c6d9a5f003",
            json!([
                {"name": "Message-ID", "value": "<CAKx9f3Q2mWv+2c@mail.gmail.com>"},
                {"name": "X-FTE-Reply-Id", "value": ANOTHER_REPLY}
            ]),
        )),
        ("GET", "/gmail/v1/users/me/messages/18c9f2a4b7e3d001") if query == METADATA_QUERY => ok(gmail_metadata(
            "18c9f2a4b7e3d001",
            "18c9f0e1d2c3b4a5",
            json!([
                {"name": "Message-Id", "value": "<CAKx9f3Q2mWv+1b@mail.gmail.com>"},
                {"name": "x-fte-reply-id", "value": OUR_REPLY}
            ]),
        )),
        _ => (
            404,
            vec![],
            json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}})
                .to_string(),
        ),
    }
}

#[tokio::test]
async fn gmail_lookup_finds_a_replaced_message_id_by_the_reply_id_header() {
    let fake = FakeProvider::start(replaced_message_id).await;
    let ctx = gmail_context(&fake);
    let (http, gmail, pool) =
        (reqwest::Client::new(), fte::channels::gmail::GmailClient::new(reqwest::Client::new()), lazy_pool());
    let mut ours = reply(&ctx, Channel::Email, REPLY, json!({"thread_id": "18c9f0e1d2c3b4a5"}));
    ours.message_id = Uuid::parse_str(OUR_REPLY).unwrap();
    // Stored for another reply of the same customer: never read.
    let taken = ["18c9f3b5c8f4e002".to_string()];

    let Lookup::Found(found) = find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &taken).await.unwrap() else {
        panic!("the sent message carries the reply's X-FTE-Reply-Id")
    };
    assert_eq!(found.external_id, "18c9f2a4b7e3d001");
    assert_eq!(found.status.as_str(), "sent");
    assert_eq!(found.metadata["provider"], "gmail");
    assert_eq!(found.metadata["mailbox"], MAILBOX);
    assert_eq!(found.metadata["thread_id"], "18c9f0e1d2c3b4a5");
    // The Message-ID the message has, Gmail's.
    assert_eq!(found.metadata["message_id_header"], "<CAKx9f3Q2mWv+1b@mail.gmail.com>");

    let asked: Vec<(String, String, String)> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path != "/token")
        .map(|r| (r.method.clone(), r.path.clone(), r.query.clone().unwrap_or_default()))
        .collect();
    let get = |path: &str, query: &str| ("GET".to_string(), path.to_string(), query.to_string());
    assert_eq!(
        asked,
        [
            get(
                "/gmail/v1/users/me/messages",
                "q=rfc822msgid%3A0190a5d27c1e7b3a9f4e2d6c8b1a0e57%40tallyloom.com&includeSpamTrash=true"
            ),
            get("/gmail/v1/users/me/messages", SENT_QUERY),
            get("/gmail/v1/users/me/messages/18c9f4c6d9a5f003", METADATA_QUERY),
            get("/gmail/v1/users/me/messages", &format!("{SENT_QUERY}&pageToken=09812312489719234871")),
            get("/gmail/v1/users/me/messages/18c9f2a4b7e3d001", METADATA_QUERY),
        ]
    );
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.path != "/token")
            .all(|r| r.header("authorization") == Some("Bearer ya29.test-access"))
    );

    // Throttled while reading a candidate: ask again later, never guess.
    let before = fake.requests().len();
    fake.script([
        (200, vec![], json!({"resultSizeEstimate": 0}).to_string()),
        (200, vec![], json!({"messages": [{"id": "18c9f2a4b7e3d001", "threadId": "18c9f0e1d2c3b4a5"}]}).to_string()),
        (
            429,
            vec![("Retry-After".into(), "4".into())],
            json!({"error": {"code": 429, "message": "Too many concurrent requests for user", "status": "RESOURCE_EXHAUSTED",
                   "errors": [{"domain": "global", "reason": "rateLimitExceeded"}]}})
            .to_string(),
        ),
    ]);
    let e = find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &[]).await.unwrap_err();
    assert!(e.retryable, "{e:?}");
    assert_eq!(fake.requests().len(), before + 3);
}

#[tokio::test]
async fn gmail_lookup_does_not_take_another_replys_message() {
    let fake = FakeProvider::start(replaced_message_id).await;
    let ctx = gmail_context(&fake);
    let (http, gmail, pool) =
        (reqwest::Client::new(), fte::channels::gmail::GmailClient::new(reqwest::Client::new()), lazy_pool());
    // A third reply: every sent message to Jo carries another reply's id.
    let mut third = reply(&ctx, Channel::Email, REPLY, json!({"thread_id": "18c9f0e1d2c3b4a5"}));
    third.message_id = Uuid::parse_str("0190a5d3-1111-7222-8333-444455556666").unwrap();
    assert_eq!(find_sent(&http, &gmail, &pool, &ctx, &third, since(), &[]).await.unwrap(), Lookup::NotFound);
    let read: Vec<String> =
        fake.requests().into_iter().filter(|r| r.path.contains("/messages/18c9")).map(|r| r.path).collect();
    assert_eq!(
        read,
        [
            "/gmail/v1/users/me/messages/18c9f4c6d9a5f003",
            "/gmail/v1/users/me/messages/18c9f3b5c8f4e002",
            "/gmail/v1/users/me/messages/18c9f2a4b7e3d001"
        ],
        "every candidate read, newest first (the second, gone since it was listed, is passed over)"
    );

    // Our reply's message is the one stored for another reply: not ours to take.
    let mut ours = third.clone();
    ours.message_id = Uuid::parse_str(OUR_REPLY).unwrap();
    let taken = ["18c9f2a4b7e3d001".to_string()];
    assert_eq!(find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &taken).await.unwrap(), Lookup::NotFound);
}

#[tokio::test]
async fn gmail_lookup_past_its_bound_is_a_temporary_failure() {
    // Sixty sent messages to Jo since the claim, fifty a page, none ours.
    let fake = FakeProvider::start(|rec: &Recorded| {
        let ok = |body: serde_json::Value| (200, vec![], body.to_string());
        let query = rec.query.clone().unwrap_or_default();
        match (rec.method.as_str(), rec.path.as_str()) {
            ("POST", "/token") => {
                ok(json!({"access_token": "ya29.test-access", "expires_in": 3599, "token_type": "Bearer"}))
            }
            ("GET", "/gmail/v1/users/me/messages") if query.starts_with("q=rfc822msgid") => {
                ok(json!({"resultSizeEstimate": 0}))
            }
            ("GET", "/gmail/v1/users/me/messages") => {
                let (range, next) = if query.ends_with("&pageToken=p2") { (50..60, None) } else { (0..50, Some("p2")) };
                let messages: Vec<_> = range
                    .map(|i| json!({"id": format!("18ca{i:012x}"), "threadId": format!("18ca{i:012x}")}))
                    .collect();
                ok(json!({"messages": messages, "nextPageToken": next, "resultSizeEstimate": 60}))
            }
            ("GET", path) if path.starts_with("/gmail/v1/users/me/messages/18ca") => {
                let id = path.rsplit('/').next().unwrap();
                ok(gmail_metadata(id, id, json!([{"name": "X-FTE-Reply-Id", "value": ANOTHER_REPLY}])))
            }
            _ => (
                404,
                vec![],
                json!({"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}).to_string(),
            ),
        }
    })
    .await;
    let ctx = gmail_context(&fake);
    let (http, gmail, pool) =
        (reqwest::Client::new(), fte::channels::gmail::GmailClient::new(reqwest::Client::new()), lazy_pool());
    let mut ours = reply(&ctx, Channel::Email, REPLY, json!({}));
    ours.message_id = Uuid::parse_str(OUR_REPLY).unwrap();

    let e = find_sent(&http, &gmail, &pool, &ctx, &ours, since(), &[]).await.unwrap_err();
    assert!(e.retryable, "{e:?}");
    assert!(e.reason.contains("cannot tell whether the reply was sent"), "{}", e.reason);
    assert!(e.reason.contains("50 messages sent to jo@example.com"), "{}", e.reason);
    let asked = fake.requests();
    assert_eq!(asked.iter().filter(|r| r.path.starts_with("/gmail/v1/users/me/messages/")).count(), 50);
    assert_eq!(asked.iter().filter(|r| r.path == "/gmail/v1/users/me/messages").count(), 3, "rfc822msgid + 2 pages");
}

#[tokio::test]
async fn meta_cannot_be_asked_and_a_status_page_reply_is_found() {
    let (http, gmail, pool) =
        (reqwest::Client::new(), fte::channels::gmail::GmailClient::new(reqwest::Client::new()), lazy_pool());
    let meta = context(
        Provider::Meta,
        "106540352242922",
        json!({"app_secret_env": "FTE_TEST_FIND_META_SECRET", "verify_token_env": "FTE_TEST_FIND_META_VERIFY", "access_token_env": "FTE_TEST_FIND_META_TOKEN"}),
        Some(Identifier::Whatsapp(PhoneNumber::parse(CUSTOMER).unwrap())),
    );
    let r = reply(&meta, Channel::Whatsapp, REPLY, json!({}));
    assert_eq!(find_sent(&http, &gmail, &pool, &meta, &r, since(), &[]).await.unwrap(), Lookup::Unsupported);

    let page_only = context(Provider::Webform, "tallyloom", json!({"reply_by_email": false}), None);
    let r = reply(&page_only, Channel::Webform, REPLY, json!({}));
    let Lookup::Found(found) = find_sent(&http, &gmail, &pool, &page_only, &r, since(), &[]).await.unwrap() else {
        panic!("a status-page reply is delivered however often it is sent")
    };
    assert_eq!(found.external_id, format!("webform:{}", r.message_id));
    assert_eq!(found.metadata["delivered_on"], "status_page");
}
