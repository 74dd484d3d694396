//! The audit log: every mutating admin call writes who did what to which
//! target, the state before and after, and the request id, in the tenant's
//! `audit_log` (append-only: a trigger refuses updates and deletes).

use crate::auth::Caller;
use crate::db::begin_tenant;
use crate::domain::TenantId;
use crate::http::problem::Problem;
use crate::http::request_id::RequestId;
use sqlx::PgPool;

pub struct Entry<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

pub async fn record(
    pool: &PgPool,
    tenant: TenantId,
    caller: &Caller,
    request: Option<&RequestId>,
    entry: Entry<'_>,
) -> Result<(), Problem> {
    write(pool, tenant, caller, request, entry).await.map_err(|e| {
        tracing::error!(error = %e, "cannot write the audit log");
        Problem::unavailable("the change was made but could not be audited; check the logs")
    })
}

async fn write(
    pool: &PgPool,
    tenant: TenantId,
    caller: &Caller,
    request: Option<&RequestId>,
    entry: Entry<'_>,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor, action, target_type, target_id, before, after, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant.as_uuid())
    .bind(caller.actor())
    .bind(entry.action)
    .bind(entry.target_type)
    .bind(&entry.target_id)
    .bind(&entry.before)
    .bind(&entry.after)
    .bind(request.map(|r| r.0.as_str()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
