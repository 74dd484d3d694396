//! Customers: `GET /api/v1/customers` (newest first, `limit`; each with
//! its identifiers on every channel), `GET /api/v1/customers/{id}`,
//! `GET /api/v1/customers/merge-candidates` (pending pairs one message tied
//! together), all viewer and up; `POST /api/v1/customers/{id}/merge`
//! (`{"absorb": "<customer id>"}`: the other customer's identifiers and
//! history move to this one; supervisor and up, audited);
//! `GET /api/v1/customers/{id}/export` (everything held about the person,
//! as JSON; supervisor and up, audited) and `POST /api/v1/customers/{id}/erase`
//! (`{"reason": "…"}`: their personal data goes from every table; admin,
//! audited without personal data; their resident actor is stopped).

use super::audit::{self, Entry};
use super::{TenantQuery, require, scope, unavailable};
use crate::auth::{Caller, Role};
use crate::crm::{CrmError, Erasure, erase_customer, export_customer, merge_customers};
use crate::db::begin_tenant;
use crate::domain::{CustomerId, TenantId};
use crate::http::AppState;
use crate::http::problem::{FieldError, Problem};
use crate::http::request_id::RequestId;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(merge_candidates))
        .routes(routes!(detail))
        .routes(routes!(merge))
        .routes(routes!(export))
        .routes(routes!(erase))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Customer {
    pub id: Uuid,
    pub display_name: Option<String>,
    pub merged_into: Option<Uuid>,
    pub identifiers: Vec<Identifier>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
#[schema(as = CustomerIdentifier)]
pub struct Identifier {
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The tenant to work in (global admin keys only).
    tenant: Option<String>,
    /// How many, 1–200 (default 50).
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Customers {
    pub items: Vec<Customer>,
}

type CustomerRow = (Uuid, Option<String>, Option<Uuid>, DateTime<Utc>);

async fn load(
    state: &AppState,
    tenant: TenantId,
    only: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Customer>, sqlx::Error> {
    let mut tx = begin_tenant(&state.pool, tenant).await?;
    let rows: Vec<CustomerRow> = sqlx::query_as(
        "SELECT id, display_name, merged_into, created_at FROM customers
          WHERE ($1::uuid IS NULL OR id = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(only)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let idents: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT customer_id, kind, value FROM customer_identifiers WHERE customer_id = ANY($1) ORDER BY kind, value",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, display_name, merged_into, created_at)| Customer {
            id,
            display_name,
            merged_into,
            created_at,
            identifiers: idents
                .iter()
                .filter(|(c, _, _)| *c == id)
                .map(|(_, kind, value)| Identifier { kind: kind.clone(), value: value.clone() })
                .collect(),
        })
        .collect())
}

/// Customers, newest first, each with its identifiers.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(ListQuery),
    responses((status = 200, body = Customers), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Customers>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let items = load(&state, tenant, None, q.limit.unwrap_or(50).clamp(1, 200)).await.map_err(unavailable)?;
    Ok(Json(Customers { items }))
}

/// One customer with its identifiers.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "customer id"), TenantQuery),
    responses((status = 200, body = Customer), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Customer>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let id: Uuid = id.parse().map_err(|_| Problem::not_found("no such customer"))?;
    let found = load(&state, tenant, Some(id), 1).await.map_err(unavailable)?;
    found.into_iter().next().map(Json).ok_or_else(|| Problem::not_found("no such customer"))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct MergeCandidate {
    pub id: Uuid,
    pub customer_a: Uuid,
    pub customer_b: Uuid,
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergeCandidates {
    pub items: Vec<MergeCandidate>,
}

/// Pending merge candidates: two customers one message tied together.
#[utoipa::path(get, path = "/api/v1/customers/merge-candidates", tag = "customers", params(TenantQuery),
    responses((status = 200, body = MergeCandidates), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn merge_candidates(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TenantQuery>,
) -> Result<Json<MergeCandidates>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let items: Vec<MergeCandidate> = sqlx::query_as(
        "SELECT id, customer_a, customer_b, evidence, status, created_at FROM customer_merge_candidates
          WHERE status = 'pending' ORDER BY created_at",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Json(MergeCandidates { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The customer whose identifiers and history move to this one.
    absorb: String,
}

/// Merge another customer into this one.
#[utoipa::path(post, path = "/api/v1/customers/{id}/merge", tag = "customers",
    params(("id" = String, Path, description = "the customer that stays"), TenantQuery),
    request_body = MergeRequest,
    responses((status = 200, body = Customer), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
    body: Result<Json<MergeRequest>, JsonRejection>,
) -> Result<Json<Customer>, Problem> {
    require(&caller, Role::Supervisor)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let Json(body) = body.map_err(|e| Problem::new(e.status(), "bad-request", e.body_text()))?;
    let kept: CustomerId = id.parse().map_err(|_| Problem::not_found("no such customer"))?;
    let absorbed: CustomerId = body.absorb.parse().map_err(|_| Problem::not_found("no such customer to absorb"))?;
    merge_customers(&state.pool, tenant, kept, absorbed).await.map_err(|e| match e {
        CrmError::CustomerNotFound(c) => Problem::not_found(format!("no customer {c}")),
        CrmError::SelfMerge(_) => Problem::new(StatusCode::CONFLICT, "conflict", e.to_string()),
        CrmError::OpenConversationConflict { .. } => Problem::new(StatusCode::CONFLICT, "conflict", e.to_string()),
        other => {
            tracing::error!(error = %other, "merge failed");
            Problem::unavailable("the merge failed; retry")
        }
    })?;
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: "customer.merge",
            target_type: "customer",
            target_id: kept.to_string(),
            before: serde_json::json!({ "customers": [kept, absorbed] }),
            after: serde_json::json!({ "kept": kept, "absorbed": absorbed }),
        },
    )
    .await?;
    let found = load(&state, tenant, Some(kept.as_uuid()), 1).await.map_err(unavailable)?;
    found.into_iter().next().map(Json).ok_or_else(|| Problem::not_found("no such customer"))
}

fn crm_unavailable(e: CrmError) -> Problem {
    tracing::error!(error = %e, "customer data request failed");
    Problem::unavailable("the database could not be reached; retry")
}

/// Everything held about one person: their customer records (with any
/// merged into them), identifiers, conversations and events, messages,
/// tickets, escalations, approvals, agent turns and the audit entries
/// about them. 404 for no such (or an erased) customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}/export", tag = "customers",
    params(("id" = String, Path, description = "customer id"), TenantQuery),
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<serde_json::Value>, Problem> {
    require(&caller, Role::Supervisor)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let customer: CustomerId = id.parse().map_err(|_| Problem::not_found("no such customer"))?;
    let doc = export_customer(&state.pool, tenant, customer)
        .await
        .map_err(crm_unavailable)?
        .ok_or_else(|| Problem::not_found("no such customer"))?;
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: "customer.export",
            target_type: "customer",
            target_id: customer.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({ "exported": true }),
        },
    )
    .await?;
    Ok(Json(doc))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EraseRequest {
    /// Why (e.g. "erasure request of 2026-12-01, ticket 1042"); kept in the
    /// audit log, so it must not hold personal data. 1–500 characters.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    pub customer_id: CustomerId,
    /// Rows deleted (or, for the audit log, redacted) per table.
    #[schema(value_type = Object)]
    pub erased: serde_json::Value,
    /// Whether this process stopped a resident actor for the customer
    /// (other workers stop theirs within seconds).
    pub actor_stopped: bool,
}

/// Erase a person: their rows in every table go (the event log included),
/// audit entries about them lose their detail, aggregate metrics stay. The
/// audit entry says who erased which customer id and why. 404 for no such
/// customer; a second erase is 404 too.
#[utoipa::path(post, path = "/api/v1/customers/{id}/erase", tag = "customers",
    params(("id" = String, Path, description = "customer id"), TenantQuery),
    request_body = EraseRequest,
    responses((status = 200, body = Erased), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 415, body = Problem),
              (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
    body: Result<Json<EraseRequest>, JsonRejection>,
) -> Result<Json<Erased>, Problem> {
    require(&caller, Role::Admin)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let Json(body) = body.map_err(|e| Problem::new(e.status(), "bad-request", e.body_text()))?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Problem::invalid_fields(vec![FieldError {
            field: "reason".into(),
            message: "must be 1-500 characters".into(),
        }]));
    }
    let customer: CustomerId = id.parse().map_err(|_| Problem::not_found("no such customer"))?;
    let actor = caller.actor();
    let erasure = Erasure { actor: &actor, reason, request_id: request.as_ref().map(|Extension(r)| r.0.as_str()) };
    let erased = erase_customer(&state.pool, tenant, customer, erasure)
        .await
        .map_err(crm_unavailable)?
        .ok_or_else(|| Problem::not_found("no such customer"))?;
    let actor_stopped = match &state.runtime {
        Some(runtime) => runtime.passivate(customer).await.unwrap_or(false),
        None => false,
    };
    tracing::info!(%customer, actor_stopped, "customer erased");
    Ok(Json(Erased { customer_id: customer, erased, actor_stopped }))
}
