//! The channels in a Kafka deployment: `fte api` takes a signed Twilio
//! webhook and publishes it, `fte worker` answers, `fte dispatcher` sends
//! the reply to the fake Twilio and, when Twilio refuses a reply for good,
//! marks it failed, flags the conversation and puts a dead letter on
//! `fte.dlq`.

use crate::common::fake_provider::{FakeProvider, Recorded, signed_webhook};
use crate::common::{TestDb, kafka_brokers};
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde_json::{Value, json};
use std::time::Duration;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-kafka-test-token";
const BUSINESS: &str = "+31208084417";

fn accept(_: &Recorded) -> (u16, Vec<(String, String)>, String) {
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    (201, vec![], json!({ "sid": sid, "status": "queued" }).to_string())
}

fn inbound(sid: &str, from: &str, body: &str) -> Vec<String> {
    vec![
        format!("MessageSid={sid}"),
        format!("AccountSid={SID}"),
        format!("From=whatsapp:{from}"),
        format!("To=whatsapp:{BUSINESS}"),
        format!("Body={body}"),
        "NumMedia=0".into(),
    ]
}

async fn statuses(db: &TestDb, tenant: fte::domain::TenantId) -> Vec<String> {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT delivery_status FROM messages WHERE direction = 'outbound' ORDER BY created_at")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    rows
}

async fn wait_statuses(db: &TestDb, tenant: fte::domain::TenantId, want: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = statuses(db, tenant).await;
        if got == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "statuses {got:?}, expected {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_leave_through_the_dispatcher_role_and_failures_reach_the_dlq() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let fake = FakeProvider::start(accept).await;
    upsert_account(
        &db.pool,
        tenant,
        Provider::Twilio,
        BUSINESS,
        &json!({ "account_sid": SID, "auth_token_env": "FTE_TEST_TWILIO_TOKEN", "base_url": fake.base_url }),
    )
    .await
    .unwrap();
    let brokers = kafka_brokers();
    let prefix = format!("c{}.", uuid::Uuid::new_v4().simple());
    let env = [
        ("KAFKA_BROKERS", brokers.as_str()),
        ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_SESSION_TIMEOUT_MS", "6000"),
        ("FTE_TEST_TWILIO_TOKEN", TOKEN),
    ];
    let (mut worker, _) = crate::common::spawn_role("worker", &db.url, &env);
    let (mut dispatcher, _) = crate::common::spawn_role("dispatcher", &db.url, &env);
    let (mut api, api_addr) = crate::common::spawn_role("api", &db.url, &env);
    let hook = format!("http://{api_addr}/webhooks/twilio/whatsapp");

    let mut args = vec!["twilio".to_string(), hook.clone(), TOKEN.to_string()];
    args.extend(inbound("SM00000000000000000000000000000001", "+31612345678", "hello"));
    let (status, body) = signed_webhook(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(status, 200, "{body}");
    wait_statuses(&db, tenant, &["queued"]).await;
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].form_value("To").as_deref(), Some("whatsapp:+31612345678"));

    // Twilio refuses the next reply for good (21211: invalid number).
    fake.script([(
        400,
        vec![],
        json!({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}).to_string(),
    )]);
    let mut args = vec!["twilio".to_string(), hook, TOKEN.to_string()];
    args.extend(inbound("SM00000000000000000000000000000002", "+31699999999", "hi there"));
    let (status, body) = signed_webhook(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(status, 200, "{body}");
    wait_statuses(&db, tenant, &["queued", "failed"]).await;

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("dlq-reader-{}", uuid::Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&format!("{prefix}fte.dlq")]).unwrap();
    let record = tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await.expect("a dead letter").unwrap();
    let letter: Value = serde_json::from_slice(record.payload().unwrap()).unwrap();
    assert_eq!(letter["kind"], "delivery_failed");
    assert_eq!(letter["channel"], "whatsapp");
    assert!(letter["reason"].as_str().unwrap().contains("21211"), "{letter}");

    for child in [&mut api, &mut worker, &mut dispatcher] {
        child.kill().ok();
        child.wait().ok();
    }
}
