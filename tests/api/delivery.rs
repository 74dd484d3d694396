//! Delivery order and one acceptance per reply, seen at the provider: a
//! local fake of Twilio's Messages API that keeps what it accepted and
//! lists it in Twilio's wire format (newest first), as the dispatcher's
//! reconciliation reads it.
//! - A customer's later reply handed to the dispatcher first still reaches
//!   the provider after the earlier ones.
//! - A reply whose earlier attempt was accepted by the provider but never
//!   recorded (the dispatcher died in between) is found at the provider
//!   and not sent again; one the provider does not have is sent once.
//! - A reply another dispatcher holds is not sent twice.

use crate::common::fake_provider::FakeProvider;
use crate::common::twilio::{Accepted, messages_api};
use crate::common::{TestDb, runtime_with};
use fte::brain::EchoBrain;
use fte::crm::{MergePolicy, upsert_account};
use fte::delivery::dispatch::{Dispatcher, Outcome};
use fte::domain::Provider;
use fte::domain::{Channel, Identifier, InboundMessage, OutboundMessage, PhoneNumber, TenantId};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "delivery-test-token";
const BUSINESS: &str = "+31208084417";
const CUSTOMER: &str = "+31612345670";

fn whatsapp(tenant: TenantId, external_id: &str, body: &str) -> InboundMessage {
    let phone = PhoneNumber::parse(CUSTOMER).unwrap();
    InboundMessage {
        tenant_id: tenant,
        channel: Channel::Whatsapp,
        external_id: external_id.to_string(),
        sender: Identifier::Whatsapp(phone),
        identifiers: vec![],
        display_name: None,
        subject: None,
        body: body.to_string(),
        received_at: chrono::Utc::now(),
        metadata: serde_json::Value::Null,
    }
}

/// The outbound record a turn queued for reply `id`.
async fn outbound(db: &TestDb, tenant: TenantId, id: Uuid) -> OutboundMessage {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let (payload,): (serde_json::Value,) =
        sqlx::query_as("SELECT payload FROM outbox WHERE message_id = $1").bind(id).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    serde_json::from_value(payload).unwrap()
}

async fn reply_row(db: &TestDb, tenant: TenantId, id: Uuid) -> (Option<String>, String, serde_json::Value) {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let row = sqlx::query_as("SELECT external_id, delivery_status, metadata FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    row
}

struct Setup {
    db: TestDb,
    tenant: TenantId,
    fake: FakeProvider,
    accepted: Accepted,
    runtime: Arc<fte::runtime::Runtime>,
    dispatcher: Arc<Dispatcher>,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn setup() -> Setup {
    // SAFETY: set before any thread reads the environment for this name.
    unsafe { std::env::set_var("FTE_DELIVERY_TEST_TWILIO_TOKEN", TOKEN) };
    let db = TestDb::new().await;
    let tenant = db.tenant("delivery", MergePolicy::Manual).await.id;
    let accepted: Accepted = Arc::default();
    let fake = FakeProvider::start(messages_api(SID, BUSINESS, accepted.clone())).await;
    upsert_account(
        &db.pool,
        tenant,
        Provider::Twilio,
        BUSINESS,
        &json!({ "account_sid": SID, "auth_token_env": "FTE_DELIVERY_TEST_TWILIO_TOKEN", "base_url": fake.base_url }),
    )
    .await
    .unwrap();
    // The runtime commits turns; nothing takes its in-process outbound
    // topics, so only the dispatcher below sends.
    let runtime = runtime_with(&db, Arc::new(EchoBrain), fte::runtime::RuntimeConfig::default()).await;
    let settings = crate::common::serve_settings(&[]);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let dispatcher = Dispatcher::new(db.pool.clone(), &settings.channels, None, stop_rx, Arc::default()).unwrap();
    Setup { db, tenant, fake, accepted, runtime, dispatcher, _stop: stop }
}

/// Commits a turn on `body` and returns its reply's id.
async fn turn(s: &Setup, external_id: &str, body: &str) -> Uuid {
    let receipt = s.runtime.submit(whatsapp(s.tenant, external_id, body)).await.unwrap();
    assert_eq!(receipt.replies.len(), 1, "the echo brain answers once");
    receipt.replies[0].as_uuid()
}

fn bodies(accepted: &Accepted) -> Vec<String> {
    accepted.lock().unwrap().iter().map(|(_, _, b)| b.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_reply_handed_over_first_still_reaches_the_provider_after_the_earlier_ones() {
    let s = setup().await;
    let first = turn(&s, "SMorder0", "first question").await;
    let second = turn(&s, "SMorder1", "second question").await;
    let third = turn(&s, "SMorder2", "third question").await;

    // The third reply's record arrives first (another relay's batch went
    // out sooner): the earlier two go out before it, in order.
    let out = outbound(&s.db, s.tenant, third).await;
    assert!(matches!(s.dispatcher.deliver(&out).await, Outcome::Sent { .. }));
    let sent = bodies(&s.accepted);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent[0].contains("first question"), "{sent:?}");
    assert!(sent[1].contains("second question"), "{sent:?}");
    assert!(sent[2].contains("third question"), "{sent:?}");

    // Their own records, arriving late, send nothing again.
    for id in [first, second] {
        let out = outbound(&s.db, s.tenant, id).await;
        assert_eq!(s.dispatcher.deliver(&out).await, Outcome::AlreadySent);
    }
    assert_eq!(bodies(&s.accepted).len(), 3);
    s.runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_in_doubt_is_looked_up_at_the_provider_before_any_resend() {
    let s = setup().await;
    let reply = turn(&s, "SMdoubt0", "are you there").await;
    let out = outbound(&s.db, s.tenant, reply).await;

    // A dispatcher got the provider's acceptance and died before storing
    // its id: the provider has the message, the row is in doubt.
    let client = reqwest::Client::new();
    let accepted: serde_json::Value = client
        .post(format!("{}/2010-04-01/Accounts/{SID}/Messages.json", s.fake.base_url))
        .basic_auth(SID, Some(TOKEN))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(fte::channels::twilio::form::encode(
            [
                ("To", format!("whatsapp:{CUSTOMER}")),
                ("From", format!("whatsapp:{BUSINESS}")),
                ("Body", out.body.clone()),
            ]
            .iter()
            .map(|(k, v)| (*k, v.as_str())),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = accepted["sid"].as_str().unwrap().to_string();
    let mut tx = fte::db::begin_tenant(&s.db.pool, s.tenant).await.unwrap();
    sqlx::query("UPDATE messages SET send_started_at = now() - interval '2 seconds' WHERE id = $1")
        .bind(reply)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(s.dispatcher.deliver(&out).await, Outcome::AlreadySent);
    assert_eq!(bodies(&s.accepted).len(), 1, "not sent a second time");
    let (external_id, status, meta) = reply_row(&s.db, s.tenant, reply).await;
    assert_eq!(external_id.as_deref(), Some(sid.as_str()), "the provider's id is recorded");
    assert_eq!(status, "sent", "the status Twilio lists");
    assert_eq!(meta["reconciled"], true, "{meta}");

    // In doubt, but the provider does not have it (the attempt died before
    // its request left): sent once.
    let other = turn(&s, "SMdoubt1", "and now").await;
    let mut tx = fte::db::begin_tenant(&s.db.pool, s.tenant).await.unwrap();
    sqlx::query("UPDATE messages SET send_started_at = now() - interval '2 seconds' WHERE id = $1")
        .bind(other)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let out = outbound(&s.db, s.tenant, other).await;
    assert!(matches!(s.dispatcher.deliver(&out).await, Outcome::Sent { .. }));
    let sent = bodies(&s.accepted);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].contains("and now"));
    let lookups = s.fake.requests().iter().filter(|r| r.method == "GET").count();
    assert_eq!(lookups, 2, "one lookup per reply in doubt");
    s.runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_given_the_same_replies_send_each_once() {
    let s = setup().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(turn(&s, &format!("SMtwo{i}"), &format!("message number {i}")).await);
    }
    let settings = crate::common::serve_settings(&[]);
    let (_stop2, stop_rx) = tokio::sync::watch::channel(false);
    let second = Dispatcher::new(s.db.pool.clone(), &settings.channels, None, stop_rx, Arc::default()).unwrap();
    // Both get every record, one in order and one in reverse.
    let mut forward = Vec::new();
    let mut backward = Vec::new();
    for id in &ids {
        forward.push(outbound(&s.db, s.tenant, *id).await);
    }
    for id in ids.iter().rev() {
        backward.push(outbound(&s.db, s.tenant, *id).await);
    }
    let a = s.dispatcher.clone();
    let one = tokio::spawn(async move {
        for out in forward {
            a.deliver(&out).await;
        }
    });
    let two = tokio::spawn(async move {
        for out in backward {
            second.deliver(&out).await;
        }
    });
    one.await.unwrap();
    two.await.unwrap();
    let sent = bodies(&s.accepted);
    assert_eq!(sent.len(), 6, "each reply accepted once: {sent:?}");
    for (i, body) in sent.iter().enumerate() {
        assert!(body.contains(&format!("message number {i}")), "in order: {sent:?}");
    }
    s.runtime.shutdown().await;
}
