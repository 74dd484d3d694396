//! Embedded mode's durable intake (`inbound_intake`): what lets a webhook
//! be acknowledged before its turn runs without the message living only in
//! memory. `Runtime::take` commits the message's row, then hands it to the
//! in-process bus; once its turn has settled
//! (committed, or handed to humans) the row is removed. Rows a crash left
//! behind are submitted again when the runtime starts; a redelivered
//! message is recognised by its turn (the provider's id is the dedupe
//! key), so nothing is answered twice.
//!
//! The intake is bounded by the in-process bus: beyond its capacity the
//! next message is refused before anything is stored (`SubmitError::Busy`,
//! a 503 with `Retry-After` at the webhook), never taken and lost.

use crate::db::{SystemJob, begin_system_job, begin_tenant};
use crate::domain::{InboundMessage, TenantId};

/// The intake row of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntakeId(pub i64);

/// Commits `message`'s intake row; `None` when the same provider message
/// is already waiting there (a provider's retry: the first one is taken).
pub async fn store(pool: &sqlx::PgPool, message: &InboundMessage) -> Result<Option<IntakeId>, sqlx::Error> {
    let payload = serde_json::to_value(message).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let mut tx = begin_tenant(pool, message.tenant_id).await?;
    let id: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO inbound_intake (tenant_id, channel, external_id, message) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, channel, external_id) DO NOTHING RETURNING id",
    )
    .bind(message.tenant_id.as_uuid())
    .bind(message.channel.as_str())
    .bind(&message.external_id)
    .bind(payload)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id.map(|(id,)| IntakeId(id)))
}

/// Removes a settled message's row.
pub async fn remove(pool: &sqlx::PgPool, tenant: TenantId, id: IntakeId) -> Result<(), sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    sqlx::query("DELETE FROM inbound_intake WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
    tx.commit().await
}

/// Every row left behind, oldest first, with its message (rows whose
/// message no longer parses are returned as errors, to be reported).
pub async fn leftovers(
    pool: &sqlx::PgPool,
) -> Result<Vec<(IntakeId, TenantId, Result<InboundMessage, String>)>, sqlx::Error> {
    let mut tx = begin_system_job(pool, SystemJob::IntakeRecovery).await?;
    let rows: Vec<(i64, uuid::Uuid, serde_json::Value)> =
        sqlx::query_as("SELECT id, tenant_id, message FROM inbound_intake ORDER BY id").fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, tenant, message)| {
            (IntakeId(id), TenantId::from_uuid(tenant), serde_json::from_value(message).map_err(|e| e.to_string()))
        })
        .collect())
}
