//! The support form's JSON API against `fte serve`: a ticket in, its
//! status by the signed link; and every kind of bad input refused with a
//! 4xx problem and nothing stored: missing and invalid fields (all
//! reported at once), truncated JSON, a wrong content type, invalid UTF-8,
//! an oversized body, an unknown widget key, a filled honeypot (answered
//! like a success, dropped), a bad status token; and the rate limit.

use crate::common::{TestDb, spawn_serve};
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use fte::domain::TenantId;
use serde_json::{Value, json};
use std::time::Duration;

fn ticket(extra: Value) -> Value {
    let mut t = json!({
        "name": "Jo Doe", "email": "jo@example.com", "phone": "", "subject": "Exporting invoices",
        "category": "billing", "message": "How do I export all my invoices to CSV?", "website": "",
        "widget_key": "tallyloom-demo"
    });
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    t
}

async fn post(url: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new().post(url).header("content-type", content_type).body(body).send().await.unwrap()
}

async fn stored(db: &TestDb, tenant: TenantId) -> (i64, i64) {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let row = sqlx::query_as(
        "SELECT (SELECT count(*) FROM webform_submissions), (SELECT count(*) FROM messages WHERE direction = 'inbound')",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_api_takes_tickets_and_refuses_bad_input() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    upsert_account(&db.pool, tenant, Provider::Webform, "tallyloom-demo", &json!({"reply_by_email": false}))
        .await
        .unwrap();
    let (mut child, addr) = spawn_serve(
        &db.url,
        &[
            ("FTE_WEBFORM_SECRET", "a-test-secret-of-at-least-thirty-two-bytes!"),
            ("INBOUND_BURST", "3"),
            ("INBOUND_RATE_PER_SEC", "0.01"),
        ],
    );
    let api = format!("http://{addr}/support/api/tickets");

    // The hosted page and the widget are served.
    let page = reqwest::get(format!("http://{addr}/support")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("tallyloom-demo"));
    let js = reqwest::get(format!("http://{addr}/support/widget.js")).await.unwrap();
    assert!(js.headers()["content-type"].to_str().unwrap().starts_with("application/javascript"));

    // A ticket, then its status through the signed link.
    let r = post(&api, "application/json", ticket(json!({})).to_string().into_bytes()).await;
    assert_eq!(r.status(), 201);
    let receipt: Value = r.json().await.unwrap();
    let (id, token) = (receipt["ticket_id"].as_str().unwrap(), receipt["token"].as_str().unwrap());
    let status_url = format!("{api}/{id}?token={token}");
    let mut view = Value::Null;
    for _ in 0..100 {
        let r = reqwest::get(&status_url).await.unwrap();
        if r.status() == 200 {
            view = r.json().await.unwrap();
            if view["messages"].as_array().unwrap().len() >= 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(view["reference"], receipt["reference"]);
    assert_eq!(view["subject"], "Exporting invoices");
    let messages = view["messages"].as_array().unwrap();
    assert_eq!(messages[0]["author"], "customer");
    assert_eq!(messages[1]["author"], "ai", "{view}");
    assert_eq!(reqwest::get(format!("{api}/{id}?token=AAAA")).await.unwrap().status(), 403);
    assert_eq!(reqwest::get(format!("{api}/{id}")).await.unwrap().status(), 403);
    let other = uuid::Uuid::now_v7();
    assert_eq!(reqwest::get(format!("{api}/{other}?token={token}")).await.unwrap().status(), 403);
    assert_eq!(stored(&db, tenant).await, (1, 1));

    // Bad input: 4xx, nothing stored.
    let r = post(
        &api,
        "application/json",
        json!({"name": "", "email": "nope", "widget_key": "tallyloom-demo"}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: Value = r.json().await.unwrap();
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["name", "email", "subject", "category", "message"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let full = ticket(json!({})).to_string();
    assert_eq!(post(&api, "application/json", full.as_bytes()[..full.len() / 2].to_vec()).await.status(), 400);
    assert_eq!(post(&api, "text/plain", full.clone().into_bytes()).await.status(), 415);
    assert_eq!(post(&api, "application/json", b"{\"name\": \"\xff\xfe\"}".to_vec()).await.status(), 400);
    assert_eq!(post(&api, "application/json", vec![b' '; 2 * 1024 * 1024]).await.status(), 413);
    let r =
        post(&api, "application/json", ticket(json!({"widget_key": "someone-else"})).to_string().into_bytes()).await;
    assert_eq!(r.status(), 422);
    let unknown_field = ticket(json!({"admin": true})).to_string();
    assert_eq!(post(&api, "application/json", unknown_field.into_bytes()).await.status(), 422);
    // The honeypot: looks accepted, is dropped.
    let r = post(&api, "application/json", ticket(json!({"website": "http://spam.example"})).to_string().into_bytes())
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(stored(&db, tenant).await, (1, 1));

    // The rate limit (burst of 3 per tenant and channel): 429 + Retry-After.
    let mut statuses = Vec::new();
    for i in 0..3 {
        let t = ticket(json!({"email": format!("c{i}@example.com")}));
        let r = post(&api, "application/json", t.to_string().into_bytes()).await;
        statuses.push((r.status().as_u16(), r.headers().get("retry-after").is_some()));
    }
    assert!(statuses.contains(&(429, true)), "{statuses:?}");
    child.kill().ok();
    child.wait().ok();
}

/// Posts `body` as the form's JSON; returns the status and the JSON answer.
async fn submit(api: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
    let r = post(api, "application/json", body.into()).await;
    let status = r.status().as_u16();
    assert!(status < 500, "a hostile ticket got {status}");
    (status, r.json().await.unwrap_or(Value::Null))
}

fn field_errors(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().into_iter().flatten().map(|e| e["field"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_a_ticket_is_refused_with_nothing_stored_or_cleaned_stored_and_answered() {
    use crate::common::hostile::{LONE_SURROGATE, ONE_MB, assert_nothing_stored, emoji, inbound, wait_stored_reply};
    let db = TestDb::new().await;
    let tenant = db.tenant("hostile", MergePolicy::Manual).await.id;
    upsert_account(&db.pool, tenant, Provider::Webform, "tallyloom-demo", &json!({"reply_by_email": false}))
        .await
        .unwrap();
    let (mut child, addr) =
        spawn_serve(&db.url, &[("FTE_WEBFORM_SECRET", "a-test-secret-of-at-least-thirty-two-bytes!")]);
    let api = format!("http://{addr}/support/api/tickets");

    // A lone surrogate escape: not JSON (400).
    let raw = ticket(json!({"email": "lone@example.com", "message": "Hi LONE there, how do I export invoices?"}))
        .to_string()
        .replace("LONE", LONE_SURROGATE);
    assert!(raw.contains(r"Hi \ud800 there"), "{raw}");
    let (status, problem) = submit(&api, raw).await;
    assert_eq!(status, 400, "lone surrogate: {problem}");
    // Invalid UTF-8 inside a string: 400.
    let mut raw = ticket(json!({"email": "bytes@example.com", "message": "Hi BYTES there, how do I export?"}))
        .to_string()
        .into_bytes();
    let at = raw.windows(5).position(|w| w == b"BYTES").unwrap();
    raw.splice(at..at + 5, *b"\xff\xfe\xc3\x28\x80");
    let (status, problem) = submit(&api, raw).await;
    assert_eq!(status, 400, "invalid UTF-8: {problem}");
    // NUL, bell and ESC (as JSON escapes): the form takes no control
    // characters other than line breaks and tabs, and says which field
    // holds them (422), rather than storing text the customer did not see.
    for (what, escape) in [("NUL", r"\u0000"), ("bell", r"\u0007"), ("ESC", r"\u001b[31m")] {
        let raw = ticket(json!({"email": "ctl@example.com", "message": "Hi CTL there, how do I export invoices?"}))
            .to_string()
            .replace("CTL", escape);
        let (status, problem) = submit(&api, raw).await;
        assert_eq!((status, field_errors(&problem)), (422, vec!["message".to_string()]), "{what} in the message");
        let raw = ticket(json!({"email": "ctl@example.com", "name": "Jo CTL Doe"})).to_string().replace("CTL", escape);
        let (status, problem) = submit(&api, raw).await;
        assert_eq!((status, field_errors(&problem)), (422, vec!["name".to_string()]), "{what} in the name");
    }
    // 1 MB of emoji: over the form's 128 KiB, refused before parsing (413).
    let (status, problem) =
        submit(&api, ticket(json!({"email": "emoji@example.com", "message": emoji(ONE_MB)})).to_string()).await;
    assert_eq!(status, 413, "1 MB of emoji: {problem}");
    assert_eq!(stored(&db, tenant).await, (0, 0), "no submission, no message");
    assert_nothing_stored(&db, tenant, "the refused tickets").await;

    // Not control characters (accepted, cleaned): right-to-left overrides
    // and isolates, decomposed letters, emoji; raw CR LF in the message.
    let hostile = ticket(json!({
        "name": "Jo\u{202e} Doe", "email": "jo@example.com", "subject": "Re\u{301}sume\u{301} \u{2066}export\u{2069}",
        "message": "Pay \u{202e}fdp.exe now? cafe\u{301} \u{1F44B}\u{1F3FD}\r\nHow do I export invoices?",
    }));
    let (status, receipt) = submit(&api, hostile.to_string()).await;
    assert_eq!(status, 201, "{receipt}");
    let (id, token) = (receipt["ticket_id"].as_str().unwrap(), receipt["token"].as_str().unwrap());
    let cleaned = "Pay fdp.exe now? caf\u{e9} \u{1F44B}\u{1F3FD}\nHow do I export invoices?";
    let reply = wait_stored_reply(&db, tenant, id).await;
    assert!(reply.contains(cleaned), "the reply quotes the cleaned message: {reply}");
    let (body, meta, name) = inbound(&db, tenant, id).await;
    assert_eq!(body, cleaned);
    assert_eq!(name.as_deref(), Some("Jo Doe"));
    assert_eq!(meta["extra"]["source"], "webform", "{meta}");
    // And the customer sees it so on the status page, answered.
    let mut view = Value::Null;
    for _ in 0..100 {
        let r = reqwest::get(format!("{api}/{id}?token={token}")).await.unwrap();
        if r.status() == 200 {
            view = r.json().await.unwrap();
            if view["messages"].as_array().unwrap().len() >= 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(view["subject"], "R\u{e9}sum\u{e9} export", "{view}");
    assert_eq!(view["messages"][0]["body"], cleaned, "{view}");
    assert_eq!(view["messages"][1]["author"], "ai", "{view}");
    assert_eq!(stored(&db, tenant).await, (1, 1));
    let customers = crate::common::tenant_count(&db, tenant, "SELECT count(*) FROM customers").await;
    assert_eq!(customers, 1, "only the accepted ticket's customer");
    assert_eq!(crate::common::tenant_count(&db, tenant, "SELECT count(*) FROM escalations").await, 0);
    child.kill().ok();
    child.wait().ok();
}

/// An escalated ticket: the status page shows the holding reply (stored
/// with author `system`) under its own author, and marks it read like any
/// other reply; the widget keeps waiting for the team's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_ticket_shows_its_holding_reply_on_the_status_page() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    upsert_account(&db.pool, tenant, Provider::Webform, "tallyloom-demo", &json!({"reply_by_email": false}))
        .await
        .unwrap();
    let (mut child, addr) =
        spawn_serve(&db.url, &[("FTE_WEBFORM_SECRET", "a-test-secret-of-at-least-thirty-two-bytes!")]);
    let api = format!("http://{addr}/support/api/tickets");
    let message = "Please let me talk to a human about my invoices.";
    let r = post(&api, "application/json", ticket(json!({"message": message})).to_string().into_bytes()).await;
    assert_eq!(r.status(), 201);
    let receipt: Value = r.json().await.unwrap();
    let (id, token) = (receipt["ticket_id"].as_str().unwrap(), receipt["token"].as_str().unwrap());
    let mut view = Value::Null;
    for _ in 0..100 {
        let r = reqwest::get(format!("{api}/{id}?token={token}")).await.unwrap();
        if r.status() == 200 {
            view = r.json().await.unwrap();
            if view["messages"].as_array().unwrap().len() >= 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages = view["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{view}");
    assert_eq!(messages[0]["author"], "customer");
    assert_eq!(messages[0]["body"], message);
    assert_eq!(messages[1]["author"], "system", "{view}");
    assert!(messages[1]["body"].as_str().unwrap().contains("a member of our team will pick this up"), "{view}");
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let (author, status): (String, String) =
        sqlx::query_as("SELECT author, delivery_status FROM messages WHERE direction = 'outbound'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((author.as_str(), status.as_str()), ("system", "read"), "shown, so read");
    child.kill().ok();
    child.wait().ok();
}
