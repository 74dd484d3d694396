//! Where a Gmail mailbox's sync stands (`channel_cursors`): the last
//! history id taken in, and when its push watch expires.

use crate::crm::ChannelAccount;
use crate::db::begin_tenant;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub history_id: Option<u64>,
    pub watch_expires_at: Option<DateTime<Utc>>,
}

pub async fn load(pool: &PgPool, account: &ChannelAccount) -> Result<Cursor, sqlx::Error> {
    let mut tx = begin_tenant(pool, account.tenant_id).await?;
    let row: Option<(Option<String>, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT cursor, watch_expires_at FROM channel_cursors WHERE account_id = $1")
            .bind(account.id)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(row.map(|(c, w)| Cursor { history_id: c.and_then(|c| c.parse().ok()), watch_expires_at: w }).unwrap_or_default())
}

/// Moves the history id forward (never back: two syncs may race).
pub async fn advance(pool: &PgPool, account: &ChannelAccount, history_id: u64) -> Result<(), sqlx::Error> {
    let mut tx = begin_tenant(pool, account.tenant_id).await?;
    sqlx::query(
        "INSERT INTO channel_cursors (account_id, tenant_id, cursor) VALUES ($1, $2, $3)
         ON CONFLICT (account_id) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()
          WHERE channel_cursors.cursor IS NULL OR channel_cursors.cursor::numeric < EXCLUDED.cursor::numeric",
    )
    .bind(account.id)
    .bind(account.tenant_id.as_uuid())
    .bind(history_id.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Records a renewed watch; the history id is the start point only for a
/// mailbox that has none yet.
pub async fn watched(
    pool: &PgPool,
    account: &ChannelAccount,
    expires_at: DateTime<Utc>,
    history_id: u64,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_tenant(pool, account.tenant_id).await?;
    sqlx::query(
        "INSERT INTO channel_cursors (account_id, tenant_id, cursor, watch_expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id) DO UPDATE
            SET watch_expires_at = EXCLUDED.watch_expires_at, updated_at = now(),
                cursor = COALESCE(channel_cursors.cursor, EXCLUDED.cursor)",
    )
    .bind(account.id)
    .bind(account.tenant_id.as_uuid())
    .bind(history_id.to_string())
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
