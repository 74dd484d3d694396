//! A person's data rights: the export of everything held about one
//! customer (and the customers merged into it) as one JSON document, and
//! its erasure through the database's `app_erase_customer` function, which
//! deletes or redacts their rows in every table, the append-only event log
//! included, in one transaction with the audit entry that records who
//! erased which customer id and why.

use super::CrmError;
use crate::db::{SystemJob, begin_system_job, begin_tenant};
use crate::domain::{CustomerId, TenantId};
use sqlx::PgPool;

/// Everything held about `customer`, or `None` when there is no such
/// customer (never was, or erased).
pub async fn export_customer(
    pool: &PgPool,
    tenant: TenantId,
    customer: CustomerId,
) -> Result<Option<serde_json::Value>, CrmError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let doc: Option<(serde_json::Value,)> =
        sqlx::query_as(EXPORT).bind(customer.as_uuid()).fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    Ok(doc.map(|(d,)| d))
}

/// One export document: each section a JSON array, oldest first.
const EXPORT: &str = "
WITH RECURSIVE people(id) AS (
    SELECT id FROM customers WHERE id = $1
    UNION
    SELECT c.id FROM customers c JOIN people p ON c.merged_into = p.id
),
convs AS (SELECT id FROM conversations WHERE customer_id IN (SELECT id FROM people)),
msgs AS (SELECT id FROM messages WHERE customer_id IN (SELECT id FROM people) OR conversation_id IN (SELECT id FROM convs)),
targets AS (
    SELECT id::text AS id FROM people UNION ALL SELECT id::text FROM convs UNION ALL SELECT id::text FROM msgs
    UNION ALL SELECT id::text FROM tickets WHERE customer_id IN (SELECT id FROM people)
    UNION ALL SELECT id::text FROM escalations WHERE customer_id IN (SELECT id FROM people)
)
SELECT jsonb_build_object(
    'exported_at', now(),
    'customer_id', $1::uuid,
    'customers', (SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.created_at), '[]') FROM customers c WHERE c.id IN (SELECT id FROM people)),
    'identifiers', (SELECT coalesce(jsonb_agg(jsonb_build_object('customer_id', i.customer_id, 'kind', i.kind, 'value', i.value, 'created_at', i.created_at) ORDER BY i.created_at), '[]')
                      FROM customer_identifiers i WHERE i.customer_id IN (SELECT id FROM people)),
    'conversations', (SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY v.opened_at), '[]') FROM conversations v WHERE v.id IN (SELECT id FROM convs)),
    'conversation_events', (SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.conversation_id, e.seq), '[]') FROM conversation_events e WHERE e.conversation_id IN (SELECT id FROM convs)),
    'messages', (SELECT coalesce(jsonb_agg(to_jsonb(m) ORDER BY m.created_at), '[]') FROM messages m WHERE m.id IN (SELECT id FROM msgs)),
    'tickets', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.created_at), '[]') FROM tickets t
                 WHERE t.customer_id IN (SELECT id FROM people) OR t.conversation_id IN (SELECT id FROM convs)),
    'escalations', (SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.created_at), '[]') FROM escalations x
                     WHERE x.customer_id IN (SELECT id FROM people) OR x.conversation_id IN (SELECT id FROM convs)),
    'approvals', (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.created_at), '[]') FROM approvals a
                   WHERE a.conversation_id IN (SELECT id FROM convs)),
    'agent_turns', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.created_at), '[]') FROM agent_turns t
                     WHERE t.conversation_id IN (SELECT id FROM convs)),
    'audit_entries', (SELECT coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.id), '[]') FROM audit_log l
                       WHERE l.target_id IN (SELECT id FROM targets))
)
WHERE EXISTS (SELECT 1 FROM people)";

/// Who erases whom and why, for the audit entry.
pub struct Erasure<'a> {
    pub actor: &'a str,
    pub reason: &'a str,
    pub request_id: Option<&'a str>,
}

/// Erases `customer` (and every customer merged into it): returns the rows
/// touched per table, or `None` when there is no such customer. The audit
/// entry holds the actor, the reason, the customer id and the counts.
pub async fn erase_customer(
    pool: &PgPool,
    tenant: TenantId,
    customer: CustomerId,
    erasure: Erasure<'_>,
) -> Result<Option<serde_json::Value>, CrmError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let (counts,): (Option<serde_json::Value>,) = sqlx::query_as("SELECT app_erase_customer($1, $2)")
        .bind(tenant.as_uuid())
        .bind(customer.as_uuid())
        .fetch_one(&mut *tx)
        .await?;
    let Some(counts) = counts else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor, action, target_type, target_id, before, after, request_id)
         VALUES ($1, $2, 'customer.erase', 'customer', $3, NULL, $4, $5)",
    )
    .bind(tenant.as_uuid())
    .bind(erasure.actor)
    .bind(customer.to_string())
    .bind(serde_json::json!({ "reason": erasure.reason, "erased": counts }))
    .bind(erasure.request_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(counts))
}

/// Customers of any tenant erased after `since` (the runtime's erasure
/// watch stops their resident actors), with the latest erasure time.
pub async fn erased_since(
    pool: &PgPool,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(CustomerId, chrono::DateTime<chrono::Utc>)>, sqlx::Error> {
    let mut tx = begin_system_job(pool, SystemJob::ErasureWatch).await?;
    let rows: Vec<(uuid::Uuid, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT customer_id, erased_at FROM customer_erasures WHERE erased_at > $1 ORDER BY erased_at")
            .bind(since)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|(c, at)| (CustomerId::from_uuid(c), at)).collect())
}
