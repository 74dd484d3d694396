//! The approval queue: AI drafts below the tenant's confidence threshold,
//! waiting for a human (`GET /api/v1/approvals`, viewer and up, oldest
//! first), and the three decisions on one (agent and up, audited):
//! `POST /api/v1/approvals/{id}/approve` sends the draft as it is,
//! `…/edit` sends the human's text instead, `…/reject` sends nothing and
//! hands the conversation to humans (→ Escalated). Each decision is an
//! event applied by the conversation's actor.

use super::workflow::{Stepped, Target, act, audit_step};
use super::{TenantQuery, body, require, scope, unavailable};
use crate::actors::HumanAction;
use crate::auth::{Caller, Role};
use crate::db::begin_tenant;
use crate::domain::{ApprovalId, CustomerId};
use crate::http::AppState;
use crate::http::problem::Problem;
use crate::http::request_id::RequestId;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(approve)).routes(routes!(edit)).routes(routes!(reject))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Draft {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub customer_id: Uuid,
    pub channel: String,
    /// What the customer wrote.
    pub customer_message: String,
    /// What the AI would send.
    pub draft: String,
    pub confidence: f32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Drafts {
    pub items: Vec<Draft>,
}

/// The drafts waiting for a decision, oldest first.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "human workflow", params(TenantQuery),
    responses((status = 200, body = Drafts), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Drafts>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let items: Vec<Draft> = sqlx::query_as(
        "SELECT a.id, a.conversation_id, c.customer_id, m.channel, m.body AS customer_message, a.draft, a.confidence,
                a.created_at
           FROM approvals a
           JOIN conversations c ON c.tenant_id = a.tenant_id AND c.id = a.conversation_id
           JOIN messages m ON m.id = a.inbound_message
          WHERE a.status = 'pending'
          ORDER BY a.created_at
          LIMIT 500",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Json(Drafts { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// The text to send instead of the draft (the customer's channel's
    /// limits apply; 422 when over).
    pub body: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why: it becomes the escalation's summary for whoever picks it up.
    #[serde(default)]
    pub note: Option<String>,
}

/// The approval `id` of the caller's tenant, as the conversation target it
/// belongs to.
async fn approval_target(
    state: &AppState,
    caller: &Caller,
    id: &str,
    q: &TenantQuery,
) -> Result<(Target, ApprovalId), Problem> {
    require(caller, Role::Agent)?;
    let tenant = scope(caller, q.tenant.as_deref())?;
    let approval: Uuid = id.parse().map_err(|_| Problem::not_found("no such draft"))?;
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT a.conversation_id, c.customer_id, c.state FROM approvals a
           JOIN conversations c ON c.tenant_id = a.tenant_id AND c.id = a.conversation_id
          WHERE a.id = $1",
    )
    .bind(approval)
    .fetch_optional(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    let (conversation, customer, state_before) = row.ok_or_else(|| Problem::not_found("no such draft"))?;
    let target = Target { tenant, conversation, customer: CustomerId::from_uuid(customer), state_before };
    Ok((target, ApprovalId::from_uuid(approval)))
}

async fn decide(
    state: AppState,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    id: String,
    q: TenantQuery,
    action: &'static str,
    make: impl FnOnce(ApprovalId, String) -> HumanAction,
) -> Result<Json<Stepped>, Problem> {
    let (t, approval) = approval_target(&state, &caller, &id, &q).await?;
    let outcome = act(&state, &t, make(approval, caller.actor())).await?;
    let message_id = outcome.reply_id.map(|m| m.as_uuid());
    let extra = serde_json::json!({ "approval_id": approval.as_uuid(), "message_id": message_id });
    audit_step(&state, &caller, request.as_ref(), &t, action, &outcome, extra).await?;
    Ok(Json(Stepped { conversation_id: t.conversation, state_version: outcome.state_version, message_id }))
}

/// Send the draft as it is.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/approve", tag = "human workflow",
    params(("id" = String, Path, description = "approval (draft) id"), TenantQuery),
    responses((status = 200, body = Stepped), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Stepped>, Problem> {
    decide(state, caller, request, id, q, "approval.approve", |approval, by| HumanAction::Approve { approval, by })
        .await
}

/// Send the human's text instead of the draft.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/edit", tag = "human workflow",
    params(("id" = String, Path, description = "approval (draft) id"), TenantQuery),
    request_body = EditRequest,
    responses((status = 200, body = Stepped), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
    parsed: Result<Json<EditRequest>, JsonRejection>,
) -> Result<Json<Stepped>, Problem> {
    let EditRequest { body: text } = body(parsed)?;
    decide(state, caller, request, id, q, "approval.edit", |approval, by| HumanAction::Edit {
        approval,
        by,
        body: text,
    })
    .await
}

/// Send nothing: the conversation goes to the escalation queue.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/reject", tag = "human workflow",
    params(("id" = String, Path, description = "approval (draft) id"), TenantQuery),
    request_body(content = RejectRequest, description = "optional; an empty body is no note"),
    responses((status = 200, body = Stepped), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
    raw: axum::body::Bytes,
) -> Result<Json<Stepped>, Problem> {
    let RejectRequest { note } = if raw.iter().all(u8::is_ascii_whitespace) {
        RejectRequest::default()
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| Problem::bad_request(format!("the body is not a reject request: {e}")))?
    };
    decide(state, caller, request, id, q, "approval.reject", |approval, by| HumanAction::Reject { approval, by, note })
        .await
}
