//! The channel accounts webhook ingress keeps in memory: found without the
//! database once loaded, an account added since is read on a miss, and an
//! unknown one is never guessed.

use crate::common::TestDb;
use fte::crm::{AccountCache, MergePolicy, upsert_account};
use fte::domain::Provider;
use serde_json::json;

const SID: &str = "AC0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn loaded_accounts_are_served_without_the_database_and_unknown_ones_are_not_guessed() {
    let db = TestDb::new().await;
    let tenant = db.tenant("cache", MergePolicy::Manual).await.id;
    let config = json!({ "account_sid": SID, "auth_token_env": "FTE_TEST_TWILIO_TOKEN" });
    upsert_account(&db.pool, tenant, Provider::Twilio, "+15550001", &config).await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let cache = AccountCache::new(pool.clone());
    assert_eq!(cache.reload().await.unwrap(), 1);

    // Added after the load: a miss reads the database and finds it.
    upsert_account(&db.pool, tenant, Provider::Twilio, "+15550002", &config).await.unwrap();
    let added = cache.resolve(Provider::Twilio, "+15550002").await.unwrap().expect("found on a miss");
    assert_eq!(added.tenant_id, tenant);
    assert_eq!(cache.provider(Provider::Twilio).await.unwrap().len(), 2);

    // The database goes away for this cache.
    pool.close().await;
    for address in ["+15550001", "+15550002"] {
        let account = cache.resolve(Provider::Twilio, address).await.unwrap().expect("served from memory");
        assert_eq!(account.address, address);
    }
    assert_eq!(cache.provider(Provider::Twilio).await.unwrap().len(), 2);
    assert!(cache.resolve(Provider::Twilio, "+15559999").await.is_err(), "an unknown account cannot be verified");
    assert!(cache.reload().await.is_err());
    assert!(
        cache.resolve(Provider::Twilio, "+15550001").await.unwrap().is_some(),
        "a failed reload keeps what was loaded"
    );
}

#[tokio::test]
async fn a_disabled_account_is_gone_after_the_next_reload() {
    let db = TestDb::new().await;
    let tenant = db.tenant("cache-off", MergePolicy::Manual).await.id;
    let config = json!({ "account_sid": SID, "auth_token_env": "FTE_TEST_TWILIO_TOKEN" });
    upsert_account(&db.pool, tenant, Provider::Twilio, "+15550003", &config).await.unwrap();
    let cache = AccountCache::new(db.pool.clone());
    cache.reload().await.unwrap();
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let off = sqlx::query("UPDATE channel_accounts SET enabled = false WHERE address = '+15550003'")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(off.rows_affected(), 1);
    tx.commit().await.unwrap();
    assert!(cache.resolve(Provider::Twilio, "+15550003").await.unwrap().is_some(), "stale until the reload");
    cache.reload().await.unwrap();
    assert!(cache.resolve(Provider::Twilio, "+15550003").await.unwrap().is_none());
}
