//! Tickets: `GET /api/v1/tickets` (filters `status`, `priority`; newest
//! first; `limit`), `GET /api/v1/tickets/{id}`, both viewer and up, and
//! `PATCH /api/v1/tickets/{id}` (`status`, `priority`; agent and up,
//! audited with the values before and after).

use super::audit::{self, Entry};
use super::{TenantQuery, require, scope, unavailable};
use crate::auth::{Caller, Role};
use crate::db::begin_tenant;
use crate::http::AppState;
use crate::http::problem::{FieldError, Problem};
use crate::http::request_id::RequestId;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(detail, update))
}

const STATUSES: [&str; 5] = ["open", "pending", "escalated", "resolved", "closed"];
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Ticket {
    pub id: Uuid,
    /// `TKT-<number>`.
    pub reference: String,
    pub customer_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub source_channel: String,
    pub subject: Option<String>,
    pub category: Option<String>,
    pub status: String,
    pub priority: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "SELECT id, 'TKT-' || number AS reference, customer_id, conversation_id, source_channel, subject,
                              category, status, priority, created_at, updated_at, resolved_at FROM tickets";

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The tenant to work in (global admin keys only).
    tenant: Option<String>,
    /// `open`, `pending`, `escalated`, `resolved` or `closed`.
    status: Option<String>,
    /// `low`, `medium`, `high` or `urgent`.
    priority: Option<String>,
    /// How many, 1–200 (default 50).
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Tickets {
    pub items: Vec<Ticket>,
}

/// Tickets, newest first.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(ListQuery),
    responses((status = 200, body = Tickets), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Tickets>, Problem> {
    require(&caller, Role::Viewer)?;
    let Query(q) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    if q.status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(Problem::bad_request(format!("status must be one of {}", STATUSES.join(", "))));
    }
    if q.priority.as_deref().is_some_and(|p| !PRIORITIES.contains(&p)) {
        return Err(Problem::bad_request(format!("priority must be one of {}", PRIORITIES.join(", "))));
    }
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let items: Vec<Ticket> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR priority = $2)
          ORDER BY created_at DESC, id DESC LIMIT $3"
    )))
    .bind(q.status.as_deref())
    .bind(q.priority.as_deref())
    .bind(q.limit.unwrap_or(50).clamp(1, 200))
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Json(Tickets { items }))
}

async fn one(state: &AppState, tenant: crate::domain::TenantId, id: Uuid) -> Result<Ticket, Problem> {
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let ticket: Option<Ticket> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    ticket.ok_or_else(|| Problem::not_found("no such ticket"))
}

/// One ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "ticket id"), TenantQuery),
    responses((status = 200, body = Ticket), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Ticket>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let id: Uuid = id.parse().map_err(|_| Problem::not_found("no such ticket"))?;
    Ok(Json(one(&state, tenant, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketUpdate {
    /// `open`, `pending`, `escalated`, `resolved` or `closed`.
    status: Option<String>,
    /// `low`, `medium`, `high` or `urgent`.
    priority: Option<String>,
}

/// Change a ticket's status or priority.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "ticket id"), TenantQuery),
    request_body = TicketUpdate,
    responses((status = 200, body = Ticket), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 415, body = Problem),
              (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
    body: Result<Json<TicketUpdate>, JsonRejection>,
) -> Result<Json<Ticket>, Problem> {
    require(&caller, Role::Agent)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let id: Uuid = id.parse().map_err(|_| Problem::not_found("no such ticket"))?;
    let Json(change) = body.map_err(|e| Problem::new(e.status(), "bad-request", e.body_text()))?;
    let mut errors = Vec::new();
    if change.status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        errors.push(FieldError { field: "status".into(), message: format!("one of {}", STATUSES.join(", ")) });
    }
    if change.priority.as_deref().is_some_and(|p| !PRIORITIES.contains(&p)) {
        errors.push(FieldError { field: "priority".into(), message: format!("one of {}", PRIORITIES.join(", ")) });
    }
    if change.status.is_none() && change.priority.is_none() {
        errors.push(FieldError { field: "status".into(), message: "give status, priority or both".into() });
    }
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let before = one(&state, tenant, id).await?;
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    sqlx::query(
        "UPDATE tickets SET status = COALESCE($2, status), priority = COALESCE($3, priority), updated_at = now(),
                resolved_at = CASE WHEN COALESCE($2, status) IN ('resolved', 'closed') THEN COALESCE(resolved_at, now())
                                   ELSE NULL END
          WHERE id = $1",
    )
    .bind(id)
    .bind(change.status.as_deref())
    .bind(change.priority.as_deref())
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    let after = one(&state, tenant, id).await?;
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: "ticket.update",
            target_type: "ticket",
            target_id: id.to_string(),
            before: serde_json::json!({ "status": before.status, "priority": before.priority }),
            after: serde_json::json!({ "status": after.status, "priority": after.priority }),
        },
    )
    .await?;
    Ok(Json(after))
}
