//! The `api` role takes webhooks while PostgreSQL is stopped for real: a
//! cluster of the test's own is stopped with `pg_ctl stop -m immediate`,
//! signed Twilio webhooks still answer 2xx (verified with the channel
//! accounts held in memory, published to Kafka), `/ready` stays 200, and
//! once PostgreSQL is back every one of them is answered at the provider.

use crate::common::fake_provider::{FakeProvider, Recorded};
use crate::common::own_postgres::OwnPostgres;
use crate::common::{kafka_brokers, spawn_role};
use fte::channels::twilio::signature::RequestValidator;
use fte::crm::{MergePolicy, NewTenant, create_tenant, upsert_account};
use fte::domain::Provider;
use serde_json::json;
use std::time::Duration;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-outage-token-9e1";
const BUSINESS: &str = "+31208084417";

fn accept(_: &Recorded) -> (u16, Vec<(String, String)>, String) {
    let sid = format!("SM{:032x}", uuid::Uuid::new_v4().as_u128());
    (201, vec![], json!({ "sid": sid, "status": "queued", "account_sid": SID }).to_string())
}

async fn post(hook: &str, i: usize) -> u16 {
    let params: Vec<(String, String)> = vec![
        ("MessageSid".into(), format!("SMoutage{i:026}")),
        ("AccountSid".into(), SID.into()),
        ("From".into(), format!("whatsapp:+3162{i:07}")),
        ("To".into(), format!("whatsapp:{BUSINESS}")),
        ("Body".into(), format!("written during the outage {i}")),
    ];
    let signature = RequestValidator::new(TOKEN).unwrap().compute_signature(hook, &params);
    let body = fte::channels::twilio::form::encode(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    reqwest::Client::new()
        .post(hook)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn replies(fake: &FakeProvider) -> usize {
    fake.requests().iter().filter(|r| r.method == "POST").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_acknowledged_while_postgresql_is_stopped_and_answered_once_it_is_back() {
    let mut pg = OwnPostgres::start().await;
    let url = pg.database_url();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    fte::db::migrate(&pool).await.unwrap();
    let new = NewTenant { slug: "outage".into(), name: "Outage".into(), merge_policy: MergePolicy::Manual };
    let tenant = create_tenant(&pool, &new).await.unwrap().id;
    let fake = FakeProvider::start(accept).await;
    let config = json!({ "account_sid": SID, "auth_token_env": "FTE_TEST_TWILIO_TOKEN", "base_url": fake.base_url });
    upsert_account(&pool, tenant, Provider::Twilio, BUSINESS, &config).await.unwrap();
    pool.close().await;

    let brokers = kafka_brokers();
    let prefix = format!("o{}.", uuid::Uuid::new_v4().simple());
    let env = [
        ("KAFKA_BROKERS", brokers.as_str()),
        ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_SESSION_TIMEOUT_MS", "6000"),
        ("FTE_TEST_TWILIO_TOKEN", TOKEN),
    ];
    let (mut worker, _) = spawn_role("worker", &url, &env);
    let (mut dispatcher, _) = spawn_role("dispatcher", &url, &env);
    let (mut api, api_addr) = spawn_role("api", &url, &env);
    let hook = format!("http://{api_addr}/webhooks/twilio/whatsapp");

    // Before the outage: answered, and the api has its accounts in memory.
    assert_eq!(post(&hook, 0).await, 200);
    fake.wait_for(1, Duration::from_secs(60)).await;

    pg.stop_immediate();
    let ready = reqwest::get(format!("http://{api_addr}/ready")).await.unwrap();
    assert_eq!(ready.status(), 200, "the api takes webhooks without the database: still ready");
    for i in 1..=10 {
        assert_eq!(post(&hook, i).await, 200, "webhook {i} during the outage");
    }
    assert_eq!(replies(&fake), 1, "nothing can be answered while the database is away");

    pg.resume();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while replies(&fake) < 11 {
        assert!(tokio::time::Instant::now() < deadline, "only {} of 11 answered after the outage", replies(&fake));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(replies(&fake), 11, "each answered once");
    for child in [&mut api, &mut worker, &mut dispatcher] {
        child.kill().ok();
        child.wait().ok();
    }
}
