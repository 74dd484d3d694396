//! Console sessions: a human signs in to `/admin` with an API key
//! and gets a random session token (32 bytes, base64url) for a cookie; only
//! its SHA-256 is stored. A session stands for its key: it resolves to the
//! same `Caller`, and ends when the key is revoked, expires or is deleted.
//! Sessions expire after `IDLE_TIMEOUT` without use (sliding: each use
//! moves `last_seen_at`, written at most once per `TOUCH_EVERY` to spare
//! writes). Like keys, sessions are found before any tenant is known: every
//! query runs in the `api_auth` system job. Times are the database's clock.

use super::key::hash_secret;
use super::role::Role;
use super::store::{AuthError, Caller};
use crate::db::{SystemJob, begin_system_job};
use crate::domain::TenantId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// A session unused for this long is over.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// `last_seen_at` is written at most this often per session.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Length of a token: 32 random bytes in unpadded base64url.
const TOKEN_CHARS: usize = 43;

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Starts a session for an authenticated key; returns the token for the
/// cookie (never stored). Also sweeps sessions that have gone idle.
pub async fn start(pool: &PgPool, caller: &Caller) -> Result<String, AuthError> {
    let mut secret = [0u8; 32];
    SystemRandom::new().fill(&mut secret).map_err(|_| AuthError::Random)?;
    let token = URL_SAFE_NO_PAD.encode(secret);
    let id = Uuid::now_v7();
    let mut tx = begin_system_job(pool, SystemJob::ApiAuth).await?;
    sqlx::query("DELETE FROM admin_sessions WHERE last_seen_at < now() - make_interval(secs => $1)")
        .bind(IDLE_TIMEOUT.as_secs_f64())
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO admin_sessions (id, token_hash, api_key_id) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(hash_secret(&token))
        .bind(caller.key_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        session_id = %id,
        key_id = %caller.key_id,
        tenant_id = %caller.tenant.map_or_else(|| "global".to_string(), |t| t.to_string()),
        role = %caller.role,
        "console session started"
    );
    Ok(token)
}

/// One session with its key, as the lookup reads it.
#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    idle: bool,
    stale: bool,
    key_id: Uuid,
    tenant_id: Option<Uuid>,
    name: String,
    role: String,
    key_live: bool,
}

/// The caller a session token stands for, if the session is live: known,
/// not idle past `IDLE_TIMEOUT`, and its key neither revoked nor expired.
/// A session found dead is deleted.
pub async fn resolve(pool: &PgPool, token: &str) -> Result<Option<Caller>, AuthError> {
    if !well_formed(token) {
        return Ok(None);
    }
    let mut tx = begin_system_job(pool, SystemJob::ApiAuth).await?;
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.id,
                s.last_seen_at < now() - make_interval(secs => $2) AS idle,
                s.last_seen_at < now() - make_interval(secs => $3) AS stale,
                k.id AS key_id, k.tenant_id, k.name, k.role,
                (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())) AS key_live
           FROM admin_sessions s JOIN api_keys k ON k.id = s.api_key_id
          WHERE s.token_hash = $1",
    )
    .bind(hash_secret(token))
    .bind(IDLE_TIMEOUT.as_secs_f64())
    .bind(TOUCH_EVERY.as_secs_f64())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    let role = row.role.parse::<Role>().ok();
    let (false, true, Some(role)) = (row.idle, row.key_live, role) else {
        sqlx::query("DELETE FROM admin_sessions WHERE id = $1").bind(row.id).execute(&mut *tx).await?;
        tx.commit().await?;
        tracing::info!(session_id = %row.id, key_id = %row.key_id, idle = row.idle, "console session ended: expired");
        return Ok(None);
    };
    if row.stale {
        sqlx::query("UPDATE admin_sessions SET last_seen_at = now() WHERE id = $1")
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Some(Caller { key_id: row.key_id, name: row.name, role, tenant: row.tenant_id.map(TenantId::from_uuid) }))
}

/// Ends a session (signing out); false when there was none.
pub async fn end(pool: &PgPool, token: &str) -> Result<bool, AuthError> {
    if !well_formed(token) {
        return Ok(false);
    }
    let mut tx = begin_system_job(pool, SystemJob::ApiAuth).await?;
    let ended: Option<Uuid> = sqlx::query_scalar("DELETE FROM admin_sessions WHERE token_hash = $1 RETURNING id")
        .bind(hash_secret(token))
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    if let Some(id) = ended {
        tracing::info!(session_id = %id, "console session ended: signed out");
    }
    Ok(ended.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_of_the_issued_shape_are_looked_up() {
        let token = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert!(well_formed(&token));
        for bad in ["", "short", &format!("{token}x"), &format!("{}+", &token[..42]), "fte_0123456789ab_aaaa"] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
