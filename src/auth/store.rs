//! API keys in PostgreSQL: creating one (the token is returned once and
//! never stored), and authenticating a presented token: found by its
//! prefix (the `api_auth` system job, since no tenant is known yet),
//! checked against its hash, refused when revoked or expired, its use
//! recorded at most once a minute.

use super::key::{NewKey, matches, parse_token};
use super::role::Role;
use crate::db::{SystemJob, begin_system_job};
use crate::domain::TenantId;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("a global key must be an admin key")]
    GlobalNonAdmin,
    #[error("cannot generate a key: no randomness")]
    Random,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Who is calling: an authenticated key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub key_id: Uuid,
    pub name: String,
    pub role: Role,
    /// `None`: a global admin.
    pub tenant: Option<TenantId>,
}

impl Caller {
    /// The actor recorded in the audit log.
    pub fn actor(&self) -> String {
        format!("key:{}:{}", self.key_id, self.name)
    }
}

/// Creates a key; returns its id and the token to hand to its holder.
pub async fn create_key(
    pool: &PgPool,
    tenant: Option<TenantId>,
    role: Role,
    name: &str,
) -> Result<(Uuid, String), AuthError> {
    if tenant.is_none() && role != Role::Admin {
        return Err(AuthError::GlobalNonAdmin);
    }
    let key = NewKey::generate().map_err(|_| AuthError::Random)?;
    let id = Uuid::now_v7();
    let mut tx = begin_system_job(pool, SystemJob::ApiAuth).await?;
    sqlx::query("INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(tenant.map(|t| t.as_uuid()))
        .bind(name)
        .bind(&key.prefix)
        .bind(key.hash())
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((id, key.token()))
}

type KeyRow =
    (Uuid, Option<Uuid>, String, String, String, Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The caller a token belongs to, if it is a live key.
pub async fn authenticate(pool: &PgPool, token: &str) -> Result<Option<Caller>, AuthError> {
    let Some((prefix, secret)) = parse_token(token) else { return Ok(None) };
    let mut tx = begin_system_job(pool, SystemJob::ApiAuth).await?;
    let row: Option<KeyRow> = sqlx::query_as(
        "SELECT id, tenant_id, name, key_hash, role, expires_at, revoked_at, last_used_at FROM api_keys WHERE prefix = $1",
    )
    .bind(prefix)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, tenant, name, hash, role, expires, revoked, last_used)) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    let now = Utc::now();
    let live = matches(secret, &hash) && revoked.is_none() && expires.is_none_or(|e| e > now);
    let role = role.parse::<Role>().ok();
    let (true, Some(role)) = (live, role) else {
        tx.commit().await?;
        return Ok(None);
    };
    if last_used.is_none_or(|at| now - at > chrono::Duration::minutes(1)) {
        sqlx::query("UPDATE api_keys SET last_used_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(Some(Caller { key_id: id, name, role, tenant: tenant.map(TenantId::from_uuid) }))
}
