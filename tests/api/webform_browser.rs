//! The support widget in a real browser (Debian's headless Chromium, driven
//! over WebDriver from Rust): a test page on another origin embeds it with
//! one `<script>` tag, a customer fills the form and submits, sees the
//! ticket reference, and the agent's reply appears in the status view; the
//! status link shows the same on the hosted status page. A ticket handed
//! to the team shows its holding reply there, labelled as automatic.

use crate::common::webdriver::{Browser, Scope};
use crate::common::{TestDb, spawn_serve};
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_submits_the_embedded_form_and_sees_the_reply() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let (mut child, addr) =
        spawn_serve(&db.url, &[("FTE_WEBFORM_SECRET", "a-test-secret-of-at-least-thirty-two-bytes!")]);

    // The customer's site: a page on another origin with one script tag.
    let service = format!("http://{addr}");
    let page = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Acme help</title></head><body>\
         <h1>Contact support</h1><script src=\"{service}/support/widget.js\" data-widget-key=\"tallyloom-demo\"></script>\
         </body></html>"
    );
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_origin = format!("http://{}", site.local_addr().unwrap());
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(page) }));
    tokio::spawn(async move { axum::serve(site, app).await.unwrap() });
    upsert_account(
        &db.pool,
        tenant,
        Provider::Webform,
        "tallyloom-demo",
        &json!({"reply_by_email": false, "allowed_origins": [site_origin]}),
    )
    .await
    .unwrap();

    let browser = Browser::start().await;
    browser.goto(&format!("{site_origin}/")).await;
    let long = Duration::from_secs(20);
    let host = browser.find(&Scope::Document, "fte-support-form", long).await;
    let form = browser.shadow(&host).await;
    let field = |id: &'static str| {
        let (b, f) = (&browser, form.clone());
        async move { b.find(&f, &format!("[data-testid={id}]"), Duration::from_secs(5)).await }
    };
    browser.type_into(&field("name").await, "Jo Doe").await;
    browser.type_into(&field("email").await, "jo@example.com").await;
    browser.type_into(&field("subject").await, "Exporting invoices").await;
    browser.type_into(&field("message").await, "How do I export all my invoices to CSV for my accountant?").await;
    let category = field("category").await;
    browser.click(&category).await;
    let option = browser.find(&form, "[data-testid=category] option[value=billing]", Duration::from_secs(5)).await;
    browser.click(&option).await;
    browser.click(&field("submit").await).await;

    let reference = browser.find(&form, "[data-testid=ticket-reference]", long).await;
    let reference = browser.text_shown(&reference, long).await;
    assert!(reference.starts_with("WF-"), "{reference}");
    let reply = browser.find(&form, "[data-testid=reply]", Duration::from_secs(60)).await;
    assert_eq!(browser.attribute(&reply, "data-author").await.as_deref(), Some("ai"));
    let body = browser.find(&form, "[data-testid=reply] [data-testid=reply-body]", long).await;
    assert!(!browser.text_shown(&body, long).await.trim().is_empty());

    // The status link opens the hosted status page with the same reply.
    let link = browser.find(&form, "[data-testid=status-link]", long).await;
    let href = browser.attribute(&link, "href").await.expect("status link");
    assert!(href.starts_with(&format!("{service}/support/tickets/")), "{href}");
    browser.goto(&href).await;
    let host = browser.find(&Scope::Document, "fte-support-status", long).await;
    let status = browser.shadow(&host).await;
    let shown = browser.find(&status, "[data-testid=ticket-reference]", long).await;
    assert_eq!(browser.text_shown(&shown, long).await, reference);
    browser.find(&status, "[data-testid=reply]", long).await;

    // A request for a person: the holding reply is on the status page.
    let ticket = json!({
        "name": "Sam Roe", "email": "sam@example.com", "phone": "", "subject": "Invoices", "category": "billing",
        "message": "Please let me talk to a human about my invoices.", "website": "", "widget_key": "tallyloom-demo"
    });
    let receipt: serde_json::Value = reqwest::Client::new()
        .post(format!("{service}/support/api/tickets"))
        .json(&ticket)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    browser.goto(&format!("{service}{}", receipt["status_url"].as_str().unwrap())).await;
    let host = browser.find(&Scope::Document, "fte-support-status", long).await;
    let status = browser.shadow(&host).await;
    browser.find(&status, "[data-testid=reply][data-author=system]", Duration::from_secs(60)).await;
    let body = browser.find(&status, "[data-author=system] [data-testid=reply-body]", long).await;
    assert!(browser.text_shown(&body, long).await.contains("a member of our team"));
    let label = browser.find(&status, "[data-author=system] .meta strong", long).await;
    assert_eq!(browser.text_shown(&label, long).await, "Support (automatic message)");
    let note = browser.find(&status, "[data-testid=status-note]", long).await;
    assert!(browser.text_shown(&note, long).await.contains("Our team will reply"), "still waiting for the team");
    browser.quit().await;

    // Stored as a web-form ticket, the reply marked read once shown.
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let (channel, status): (String, String) = sqlx::query_as(
        "SELECT channel, delivery_status FROM messages WHERE direction = 'outbound' AND author = 'ai'
          ORDER BY created_at LIMIT 1",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((channel.as_str(), status.as_str()), ("webform", "read"));
    child.kill().ok();
    child.wait().ok();
}
