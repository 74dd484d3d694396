//! Embedded mode's intake, against `fte serve`: a webhook is acknowledged
//! only once its message is durable, under a burst every acknowledged
//! message is answered (anything refused got 503/429 with `Retry-After`
//! and left nothing stored), and messages acknowledged just before a
//! SIGKILL are answered after the restart.

use crate::common::fake_provider::{FakeProvider, Recorded};
use crate::common::{TestDb, spawn_serve, tenant_count, wait_tenant_count};
use fte::channels::twilio::signature::RequestValidator;
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-intake-token-4d2";
const BUSINESS: &str = "+31208084417";

/// Twilio's Messages API, with the lookup a restarted dispatcher makes.
fn twilio() -> impl Fn(&Recorded) -> crate::common::fake_provider::Reply + Send + Sync + 'static {
    crate::common::twilio::messages_api(SID, BUSINESS, Default::default())
}

/// What one webhook got: its message sid, status and `Retry-After`.
struct Outcome {
    sid: String,
    status: u16,
    retry_after: Option<String>,
}

/// Posts `n` signed WhatsApp webhooks at once (customer i writes message
/// sid `SM…i`) and returns what each got.
async fn burst(hook: &str, n: usize, tag: &str) -> Vec<Outcome> {
    let validator = RequestValidator::new(TOKEN).unwrap();
    let client = reqwest::Client::new();
    let posts = (0..n).map(|i| {
        let sid = format!("SM{tag}{i:030}");
        let params: Vec<(String, String)> = vec![
            ("MessageSid".into(), sid.clone()),
            ("AccountSid".into(), SID.into()),
            ("From".into(), format!("whatsapp:+3161{i:07}")),
            ("To".into(), format!("whatsapp:{BUSINESS}")),
            ("Body".into(), format!("burst message {i}")),
            ("NumMedia".into(), "0".into()),
        ];
        let signature = validator.compute_signature(hook, &params);
        let body = fte::channels::twilio::form::encode(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let request = client
            .post(hook)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(body);
        async move {
            let response = request.send().await.expect("the server answers");
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            Outcome { sid, status: response.status().as_u16(), retry_after }
        }
    });
    futures::future::join_all(posts).await
}

async fn stored_sids(db: &TestDb, tenant: fte::domain::TenantId) -> HashSet<String> {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT external_id FROM messages WHERE direction = 'inbound'")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows.into_iter().map(|(s,)| s).collect()
}

/// Waits until every sid in `want` has an inbound row and the fake got a
/// reply for it (its body is quoted by the echo brain).
async fn wait_answered(db: &TestDb, tenant: fte::domain::TenantId, fake: &FakeProvider, want: &HashSet<String>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let stored = stored_sids(db, tenant).await;
        let replies = fake.requests().iter().filter(|r| r.method == "POST").count();
        if want.is_subset(&stored) && replies >= want.len() {
            assert_eq!(replies, want.len(), "one reply per acknowledged message");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after 2 minutes: {} of {} acknowledged messages stored, {replies} replies",
            want.intersection(&stored).count(),
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn setup(db: &TestDb, fake: &FakeProvider) -> fte::domain::TenantId {
    let tenant = db.tenant("intake", MergePolicy::Manual).await.id;
    let config = json!({ "account_sid": SID, "auth_token_env": "FTE_TEST_TWILIO_TOKEN", "base_url": fake.base_url });
    upsert_account(&db.pool, tenant, Provider::Twilio, BUSINESS, &config).await.unwrap();
    tenant
}

const ENV: &[(&str, &str)] =
    &[("FTE_TEST_TWILIO_TOKEN", TOKEN), ("INBOUND_RATE_PER_SEC", "100000"), ("INBOUND_BURST", "100000")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_burst_every_acknowledged_message_is_answered_and_a_refused_one_left_nothing() {
    let db = TestDb::new().await;
    let fake = FakeProvider::start(twilio()).await;
    let tenant = setup(&db, &fake).await;
    let (mut child, addr) = spawn_serve(&db.url, ENV);
    let hook = format!("http://{addr}/webhooks/twilio/whatsapp");
    let outcomes = burst(&hook, 300, "a").await;
    let acked: HashSet<String> = outcomes.iter().filter(|o| o.status == 200).map(|o| o.sid.clone()).collect();
    for o in outcomes.iter().filter(|o| o.status != 200) {
        assert!(matches!(o.status, 429 | 503), "{} got {}", o.sid, o.status);
        assert!(o.retry_after.is_some(), "{} got {} without Retry-After", o.sid, o.status);
    }
    assert!(!acked.is_empty());
    wait_answered(&db, tenant, &fake, &acked).await;
    let stored = stored_sids(&db, tenant).await;
    let refused: HashSet<String> = outcomes.iter().filter(|o| o.status != 200).map(|o| o.sid.clone()).collect();
    assert!(stored.is_disjoint(&refused), "a refused message was stored");
    assert_eq!(stored.len(), acked.len());
    // A row is removed once its turn settled, just after the reply's commit.
    wait_tenant_count(&db, tenant, "SELECT count(*) FROM inbound_intake", 0, Duration::from_secs(30)).await;
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_acknowledged_before_a_sigkill_are_answered_after_the_restart() {
    let db = TestDb::new().await;
    let fake = FakeProvider::start(twilio()).await;
    let tenant = setup(&db, &fake).await;
    // One turn at a time, so the burst is acknowledged far ahead of its turns.
    let slow: Vec<(&str, &str)> = ENV.iter().copied().chain([("TURN_CONCURRENCY", "1")]).collect();
    let (mut child, addr) = spawn_serve(&db.url, &slow);
    let hook = format!("http://{addr}/webhooks/twilio/whatsapp");
    let outcomes = burst(&hook, 200, "b").await;
    child.kill().expect("SIGKILL");
    child.wait().ok();
    let acked: HashSet<String> = outcomes.iter().filter(|o| o.status == 200).map(|o| o.sid.clone()).collect();
    let left = tenant_count(&db, tenant, "SELECT count(*) FROM inbound_intake").await;
    assert!(left > 0, "the kill came after every turn: nothing was in flight, the test proves nothing");
    assert!(stored_sids(&db, tenant).await.len() < acked.len());

    let (mut child, _) = spawn_serve(&db.url, ENV);
    wait_answered(&db, tenant, &fake, &acked).await;
    assert_eq!(stored_sids(&db, tenant).await.len(), acked.len(), "each acknowledged message stored once");
    assert_eq!(tenant_count(&db, tenant, "SELECT count(*) FROM inbound_intake").await, 0);
    child.kill().ok();
    child.wait().ok();
}

/// What one web-form post got: its customer, status, receipt (ticket id)
/// and `Retry-After`.
struct Receipt {
    email: String,
    status: u16,
    ticket: Option<String>,
    retry_after: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_burst_of_web_form_tickets_every_receipt_is_answered_and_a_refused_ticket_left_nothing() {
    let db = TestDb::new().await;
    let tenant = db.tenant("form-burst", MergePolicy::Manual).await.id;
    upsert_account(&db.pool, tenant, Provider::Webform, "burst-form", &json!({"reply_by_email": false})).await.unwrap();
    let env: Vec<(&str, &str)> =
        ENV.iter().copied().chain([("FTE_WEBFORM_SECRET", "a-test-secret-of-at-least-thirty-two-bytes!")]).collect();
    let (mut child, addr) = spawn_serve(&db.url, &env);
    let api = format!("http://{addr}/support/api/tickets");
    let client = reqwest::Client::new();
    let posts = (0..300).map(|i| {
        let email = format!("burst{i}@example.com");
        let ticket = json!({
            "name": format!("Customer {i}"), "email": email, "phone": "", "subject": "Exporting invoices",
            "category": "billing", "message": format!("Form burst ticket {i}: how do I export invoices?"),
            "website": "", "widget_key": "burst-form"
        });
        let request = client.post(&api).json(&ticket);
        async move {
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let ticket = body["ticket_id"].as_str().map(str::to_string);
            Receipt { email, status, ticket, retry_after }
        }
    });
    let receipts = futures::future::join_all(posts).await;
    for r in receipts.iter().filter(|r| r.status != 201) {
        assert!(matches!(r.status, 429 | 503), "{} got {}", r.email, r.status);
        assert!(r.retry_after.is_some(), "{} got {} without Retry-After", r.email, r.status);
    }
    let tickets: HashSet<String> =
        receipts.iter().filter(|r| r.status == 201).map(|r| r.ticket.clone().unwrap()).collect();
    assert!(!tickets.is_empty());

    // Every receipt: its message stored and answered (a reply on the
    // status page, or a hand-over) within 2 minutes, and its intake row
    // removed (that follows the turn's commit).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let stored = stored_sids(&db, tenant).await;
        let outcomes = tenant_count(
            &db,
            tenant,
            "SELECT count(*) FROM messages i WHERE i.direction = 'inbound'
               AND (EXISTS (SELECT 1 FROM messages o WHERE o.in_reply_to = i.id)
                    OR EXISTS (SELECT 1 FROM escalations e WHERE e.conversation_id = i.conversation_id))",
        )
        .await;
        let pending = tenant_count(&db, tenant, "SELECT count(*) FROM inbound_intake").await;
        if tickets.is_subset(&stored) && outcomes >= tickets.len() as i64 && pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after 2 minutes: {} of {} receipted tickets stored, {outcomes} answered, {pending} intake rows left",
            tickets.intersection(&stored).count(),
            tickets.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A refused ticket left nothing: no message, no routing row, no customer.
    let stored = stored_sids(&db, tenant).await;
    assert_eq!(stored, tickets, "exactly the receipted tickets are stored");
    assert_eq!(tenant_count(&db, tenant, "SELECT count(*) FROM webform_submissions").await, tickets.len() as i64);
    assert_eq!(tenant_count(&db, tenant, "SELECT count(*) FROM customers").await, tickets.len() as i64);
    assert_eq!(tenant_count(&db, tenant, "SELECT count(*) FROM inbound_intake").await, 0, "every settled row removed");
    child.kill().ok();
    child.wait().ok();
}
