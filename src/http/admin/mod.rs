//! The admin API under `/api/v1/…` (docs/admin-api.md): every route
//! takes the caller's API key (`Authorization: Bearer fte_…`; missing or
//! unknown → 401) or, without one, the console's session cookie; checks
//! the least role it needs (→ 403) and works inside the caller's tenant
//! (a global admin names one with `?tenant=`). Another tenant's data is
//! never visible, not even by id: it is simply not found.

pub mod actors;
pub mod approvals;
pub mod audit;
pub mod channel_stats;
pub mod conversations;
pub mod customers;
pub mod kb;
pub mod tenants;
pub mod tickets;
pub mod workflow;

use super::AppState;
use super::problem::Problem;
use crate::auth::{Caller, Role, authenticate};
use crate::domain::TenantId;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // No key: the console's session cookie (changes need its CSRF header).
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return super::console::session_cookie::caller(state, &parts.method, &parts.headers).await;
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Problem::unauthorized("an API key is required (Authorization: Bearer fte_…)"))?;
        match authenticate(&state.pool, token).await {
            Ok(Some(caller)) => Ok(caller),
            Ok(None) => Err(Problem::unauthorized("the API key is not valid")),
            Err(e) => {
                tracing::error!(error = %e, "cannot check an API key");
                Err(Problem::unavailable("cannot check the API key; retry"))
            }
        }
    }
}

/// `?tenant=` of routes that take no other query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// The tenant to work in (global admin keys only; a tenant key may name only its own).
    pub tenant: Option<String>,
}

/// The page size asked for (`default` when none), refused outside
/// `1..=max`.
pub fn page_limit(asked: Option<i64>, default: i64, max: i64) -> Result<i64, Problem> {
    let limit = asked.unwrap_or(default);
    if (1..=max).contains(&limit) { Ok(limit) } else { Err(Problem::bad_request(format!("limit must be 1-{max}"))) }
}

/// Rows read with `LIMIT limit + 1`, cut to one page: the page, and the
/// cursor (`cursor_of` its last row) when another page follows.
pub fn into_page<T>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(cursor_of) } else { None };
    (rows, next)
}

/// A JSON request body, or the problem with it (400 for bad syntax, 415
/// for a missing JSON content type, 422 for a wrong shape).
pub fn body<T>(parsed: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, Problem> {
    parsed.map(|axum::Json(v)| v).map_err(|e| Problem::new(e.status(), "bad-request", e.body_text()))
}

/// A database failure as the caller sees it (the cause goes to the log).
pub fn unavailable(e: sqlx::Error) -> Problem {
    tracing::error!(error = %e, "admin API query failed");
    Problem::unavailable("the database could not be read; retry")
}

/// Refuses a caller below `role`.
pub fn require(caller: &Caller, role: Role) -> Result<(), Problem> {
    if caller.role >= role {
        Ok(())
    } else {
        Err(Problem::forbidden(format!("this needs the {role} role; the key has {}", caller.role)))
    }
}

/// The tenant a request works in: the key's own (naming another is not
/// found), or for a global admin the one it names.
pub fn scope(caller: &Caller, asked: Option<&str>) -> Result<TenantId, Problem> {
    let asked = match asked.map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => Some(raw.parse::<TenantId>().map_err(|_| Problem::bad_request("tenant is not a tenant id"))?),
        None => None,
    };
    match (caller.tenant, asked) {
        (Some(own), None) => Ok(own),
        (Some(own), Some(t)) if t == own => Ok(own),
        (Some(_), Some(_)) => Err(Problem::not_found("no such tenant")),
        (None, Some(t)) => Ok(t),
        (None, None) => Err(Problem::bad_request("a global key must name the tenant (?tenant=<id>)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, tenant: Option<TenantId>) -> Caller {
        Caller { key_id: uuid::Uuid::nil(), name: "t".into(), role, tenant }
    }

    #[test]
    fn roles_and_scopes() {
        let t = TenantId::new();
        let other = TenantId::new();
        assert!(require(&caller(Role::Viewer, Some(t)), Role::Agent).is_err());
        assert!(require(&caller(Role::Admin, Some(t)), Role::Supervisor).is_ok());
        assert_eq!(scope(&caller(Role::Viewer, Some(t)), None).unwrap(), t);
        assert_eq!(scope(&caller(Role::Viewer, Some(t)), Some(&t.to_string())).unwrap(), t);
        assert_eq!(scope(&caller(Role::Admin, Some(t)), Some(&other.to_string())).unwrap_err().status, 404);
        assert_eq!(scope(&caller(Role::Admin, None), Some(&other.to_string())).unwrap(), other);
        assert_eq!(scope(&caller(Role::Admin, None), None).unwrap_err().status, 400);
    }
}
