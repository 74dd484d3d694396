//! The support form's JSON API against `fte serve`: a ticket in, its
//! status by the signed link; and every kind of bad input refused with a
//! 4xx problem and nothing stored: missing and invalid fields (all
//! reported at once), truncated JSON, a wrong content type, invalid UTF-8,
//! an oversized body, an unknown widget key, a filled honeypot (answered
//! like a success, dropped), a bad status token; and the rate limit.

mod common;

use common::{TestDb, spawn_serve};
use fte::channels::Provider;
use fte::crm::{MergePolicy, upsert_account};
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
