//! What the dispatcher reads and writes in PostgreSQL: the reply to send
//! (with the customer message it answers, whose metadata says where the
//! answer goes: account, thread, subject), the provider's acceptance (its
//! message id becomes the row's `external_id`, so a reply already accepted
//! is never sent again), final failures (the row `failed`, the
//! conversation flagged), and delivery statuses reported later by
//! providers, applied only when they move a row forward.

use crate::channels::DeliveryStatus;
use crate::crm::ChannelAccount;
use crate::db::{SystemJob, begin_system_job, begin_tenant};
use crate::domain::{Channel, TenantId};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A reply as the dispatcher needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingReply {
    pub message_id: Uuid,
    pub tenant_id: TenantId,
    pub conversation_id: Uuid,
    pub customer_id: Uuid,
    pub channel: Channel,
    pub author: String,
    pub body: String,
    /// Set once a provider accepted it.
    pub external_id: Option<String>,
    pub delivery_status: String,
    /// The conversation's subject.
    pub subject: Option<String>,
    /// The customer message it answers (or the latest on its channel).
    pub origin: Option<Origin>,
    /// When the first attempt that may have reached the provider began:
    /// set and not accepted means in doubt (ask the provider first).
    pub send_started_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    pub external_id: Option<String>,
    pub metadata: serde_json::Value,
    pub subject: Option<String>,
}

impl PendingReply {
    /// The account the customer wrote to, if the origin recorded one.
    pub fn origin_account(&self) -> Option<Uuid> {
        self.origin.as_ref()?.metadata.get("account_id")?.as_str()?.parse().ok()
    }

    pub fn already_accepted(&self) -> bool {
        self.external_id.is_some() || self.delivery_status != "pending"
    }
}

type ReplyRow = (
    Uuid,
    Uuid,
    Uuid,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<Uuid>,
    Option<String>,
    Option<serde_json::Value>,
    Option<DateTime<Utc>>,
);

/// The outbound message `id` of `tenant`, if it exists.
pub async fn load_reply(pool: &PgPool, tenant: TenantId, id: Uuid) -> Result<Option<PendingReply>, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let row: Option<ReplyRow> = sqlx::query_as(
        "SELECT m.id, m.conversation_id, m.customer_id, m.channel, m.author, m.body, m.external_id,
                m.delivery_status, c.subject, o.id, o.external_id, o.metadata, m.send_started_at
           FROM messages m
           JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
           LEFT JOIN LATERAL (
                SELECT i.id, i.external_id, i.metadata, i.created_at FROM messages i
                 WHERE i.tenant_id = m.tenant_id AND i.conversation_id = m.conversation_id
                   AND i.direction = 'inbound' AND i.channel = m.channel
                   AND (m.in_reply_to IS NULL OR i.id = m.in_reply_to)
                 ORDER BY i.created_at DESC LIMIT 1) o ON true
          WHERE m.id = $1 AND m.direction = 'outbound'",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some((
        id,
        conversation,
        customer,
        channel,
        author,
        body,
        external_id,
        status,
        subject,
        origin,
        oext,
        ometa,
        send_started_at,
    )) = row
    else {
        return Ok(None);
    };
    let channel = channel.parse::<Channel>().map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    // Inbound rows keep the channel's metadata under `extra` (with the
    // sender and subject beside it).
    let origin = origin.map(|_| {
        let stored = ometa.unwrap_or(serde_json::Value::Null);
        let subject = stored.get("subject").and_then(|s| s.as_str()).map(str::to_string);
        let metadata = stored.get("extra").cloned().unwrap_or(serde_json::Value::Null);
        Origin { external_id: oext, metadata, subject }
    });
    Ok(Some(PendingReply {
        message_id: id,
        tenant_id: tenant,
        conversation_id: conversation,
        customer_id: customer,
        channel,
        author,
        body,
        external_id,
        delivery_status: status,
        subject,
        origin,
        send_started_at,
    }))
}

/// Records the provider's acceptance. Returns false if the row was
/// already accepted (by another dispatcher): nothing is overwritten.
pub async fn mark_accepted(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
    external_id: &str,
    status: DeliveryStatus,
    metadata: &serde_json::Value,
) -> Result<bool, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let done = sqlx::query(
        "UPDATE messages SET external_id = $2, delivery_status = $3, metadata = metadata || $4, updated_at = now()
          WHERE id = $1 AND external_id IS NULL",
    )
    .bind(id)
    .bind(external_id)
    .bind(status.as_str())
    .bind(metadata)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a reply that will not be delivered, and flags its conversation
/// for operators.
pub async fn mark_failed(pool: &PgPool, reply: &PendingReply, reason: &str) -> Result<(), sqlx::Error> {
    let mut tx = begin_tenant(pool, reply.tenant_id).await?;
    sqlx::query(
        "UPDATE messages SET delivery_status = 'failed', updated_at = now(),
                metadata = metadata || jsonb_build_object('delivery_error', $2::text, 'failed_at', now())
          WHERE id = $1 AND external_id IS NULL",
    )
    .bind(reply.message_id)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE conversations SET delivery_failed_at = now() WHERE id = $1")
        .bind(reply.conversation_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Applies a provider's status report to the reply it accepted as
/// `external_id` on `account`'s channel, if it moves the row forward.
/// Returns whether a row changed.
pub async fn apply_delivery_status(
    pool: &PgPool,
    account: &ChannelAccount,
    external_id: &str,
    status: DeliveryStatus,
    error: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let mut tx = begin_tenant(pool, account.tenant_id).await?;
    // Ranks as in `DeliveryStatus::supersedes`, with `pending` below all.
    let done = sqlx::query(
        "UPDATE messages SET delivery_status = $3, updated_at = now(),
                metadata = CASE WHEN $4::text IS NULL THEN metadata
                                ELSE metadata || jsonb_build_object('delivery_error', $4::text) END
          WHERE channel = $1 AND external_id = $2 AND direction = 'outbound'
            AND (CASE delivery_status WHEN 'pending' THEN -1 WHEN 'queued' THEN 0 WHEN 'sent' THEN 1
                                      WHEN 'read' THEN 3 ELSE 2 END)
              < (CASE $3::text WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'read' THEN 3 ELSE 2 END)",
    )
    .bind(account.channel().as_str())
    .bind(external_id)
    .bind(status.as_str())
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        let external_id = crate::telemetry::provider_id(external_id);
        tracing::info!(account_id = %account.id, %external_id, status = %status, "status report changed nothing");
    }
    Ok(done.rows_affected() > 0)
}

/// Replies committed between `since` and `before` and never sent, with
/// their outbox payloads: after a restart of the embedded runtime, whose
/// in-process bus lost them. (`since` keeps a recovery from sending
/// replies so old that they would no longer make sense.)
pub async fn pending_replies(
    pool: &PgPool,
    since: chrono::DateTime<chrono::Utc>,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(TenantId, Uuid)>, sqlx::Error> {
    let mut tx = begin_system_job(pool, SystemJob::DispatcherRecovery).await?;
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT tenant_id, id FROM messages
          WHERE direction = 'outbound' AND delivery_status = 'pending' AND created_at >= $1 AND created_at < $2
          ORDER BY created_at LIMIT 10000",
    )
    .bind(since)
    .bind(before)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|(t, id)| (TenantId::from_uuid(t), id)).collect())
}

/// The outbox payload that queued reply `id` (its `OutboundMessage`).
pub async fn outbox_payload(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let row: Option<(serde_json::Value,)> =
        sqlx::query_as("SELECT payload FROM outbox WHERE message_id = $1 ORDER BY id LIMIT 1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(row.map(|(p,)| p))
}

/// The customer's replies on `reply`'s channel that were committed before
/// it and are not settled yet (neither accepted nor failed), oldest first.
pub async fn predecessors(pool: &PgPool, reply: &PendingReply) -> Result<Vec<Uuid>, sqlx::Error> {
    let mut tx = begin_tenant(pool, reply.tenant_id).await?;
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT m.id FROM messages m JOIN outbox o ON o.message_id = m.id
          WHERE m.tenant_id = $1 AND m.customer_id = $2 AND m.channel = $3
            AND m.direction = 'outbound' AND m.delivery_status = 'pending' AND m.id <> $4
            AND o.id < (SELECT min(id) FROM outbox WHERE message_id = $4)
          ORDER BY o.id",
    )
    .bind(reply.tenant_id)
    .bind(reply.customer_id)
    .bind(reply.channel.as_str())
    .bind(reply.message_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Records, before a request that may reach the provider, that an attempt
/// began (the first one's time is kept); returns that time.
pub async fn mark_in_doubt(pool: &PgPool, tenant: TenantId, id: Uuid) -> Result<DateTime<Utc>, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let (at,): (DateTime<Utc>,) = sqlx::query_as(
        "UPDATE messages SET send_started_at = COALESCE(send_started_at, now()) WHERE id = $1 RETURNING send_started_at",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(at)
}

/// Clears the attempt mark after the provider answered an attempt with a
/// refusal: nothing of it was accepted, so the next attempt need not ask.
pub async fn clear_in_doubt(pool: &PgPool, tenant: TenantId, id: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    sqlx::query("UPDATE messages SET send_started_at = NULL WHERE id = $1 AND external_id IS NULL")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Provider ids of the customer's other replies on `reply`'s channel
/// accepted since `since`: a provider-side message carrying one of them is
/// not `reply`'s, however alike their texts.
pub async fn accepted_since(
    pool: &PgPool,
    reply: &PendingReply,
    since: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    let mut tx = begin_tenant(pool, reply.tenant_id).await?;
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT external_id FROM messages
          WHERE tenant_id = $1 AND customer_id = $2 AND channel = $3 AND direction = 'outbound'
            AND external_id IS NOT NULL AND id <> $4 AND updated_at >= $5",
    )
    .bind(reply.tenant_id)
    .bind(reply.customer_id)
    .bind(reply.channel.as_str())
    .bind(reply.message_id)
    .bind(since - chrono::Duration::minutes(1))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
