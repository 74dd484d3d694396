//! The human side of a conversation: the escalation queue
//! (`GET /api/v1/escalations`: open and claimed ones, most urgent and
//! oldest first, with their SLA; viewer and up) and the steps a support
//! agent takes on a conversation (`POST /api/v1/conversations/{id}/claim`,
//! `…/reply`, `…/handback`, `…/resolve`; agent and up, audited). Each step
//! is one more transition of the conversation's state machine (a step the
//! state does not allow is 409), applied by the customer's actor where this
//! process runs actors, else on the stored state under its version check
//! (see `actors::conversation_human`).

use super::audit::{self, Entry};
use super::{TenantQuery, body, require, scope, unavailable};
use crate::actors::{HumanAction, HumanOutcome, HumanRefusal, carry_out_stored};
use crate::auth::{Caller, Role};
use crate::db::begin_tenant;
use crate::domain::{ConversationId, CustomerId, TenantId};
use crate::http::AppState;
use crate::http::problem::Problem;
use crate::http::request_id::RequestId;
use crate::runtime::SubmitError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(escalations))
        .routes(routes!(claim))
        .routes(routes!(reply))
        .routes(routes!(handback))
        .routes(routes!(resolve))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Escalation {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub customer_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub reason: String,
    /// `urgent`, `high`, `normal` or `low`.
    pub urgency: String,
    /// `open` or `claimed`.
    pub status: String,
    pub summary: String,
    pub claimed_by: Option<String>,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// Seconds since the conversation was handed to humans.
    pub age_seconds: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Queue {
    pub items: Vec<Escalation>,
}

/// The escalation queue: open and claimed escalations, most urgent first,
/// then oldest.
#[utoipa::path(get, path = "/api/v1/escalations", tag = "human workflow", params(TenantQuery),
    responses((status = 200, body = Queue), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn escalations(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Queue>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let items: Vec<Escalation> = sqlx::query_as(
        "SELECT id, conversation_id, customer_id, ticket_id, reason, urgency, status, summary, claimed_by, sla_due_at,
                COALESCE(sla_due_at < now(), false) AS overdue,
                CAST(EXTRACT(EPOCH FROM now() - created_at) AS bigint) AS age_seconds, created_at
           FROM escalations WHERE status <> 'resolved'
          ORDER BY CASE urgency WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, created_at",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Json(Queue { items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stepped {
    pub conversation_id: Uuid,
    pub state_version: u64,
    /// The message queued for the customer, when the step sends one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub message_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// The reply as the support agent wrote it (light markdown); it goes out
    /// on the customer's current channel in that channel's markup, and is
    /// refused (422) when over the channel's limit.
    pub body: String,
}

/// A request on one conversation, parsed: who, which tenant, which
/// conversation and its owner.
pub(super) struct Target {
    pub tenant: TenantId,
    pub conversation: Uuid,
    pub customer: CustomerId,
    pub state_before: String,
}

async fn owner(state: &AppState, tenant: TenantId, conversation: Uuid) -> Result<(CustomerId, String), Problem> {
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let row: Option<(Uuid, String)> = sqlx::query_as("SELECT customer_id, state FROM conversations WHERE id = $1")
        .bind(conversation)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    row.map(|(c, s)| (CustomerId::from_uuid(c), s)).ok_or_else(|| Problem::not_found("no such conversation"))
}

pub(super) async fn target(state: &AppState, caller: &Caller, id: &str, q: &TenantQuery) -> Result<Target, Problem> {
    require(caller, Role::Agent)?;
    let tenant = scope(caller, q.tenant.as_deref())?;
    let conversation: Uuid = id.parse().map_err(|_| Problem::not_found("no such conversation"))?;
    let (customer, state_before) = owner(state, tenant, conversation).await?;
    Ok(Target { tenant, conversation, customer, state_before })
}

fn submit_problem(e: SubmitError, state_before: &str) -> Problem {
    match e {
        SubmitError::Refused(reason) => {
            Problem::new(StatusCode::CONFLICT, "conflict", format!("not allowed in state {state_before}: {reason}"))
        }
        SubmitError::Closed => Problem::unavailable("shutting down; retry"),
        other => Problem::unavailable(other.to_string()),
    }
}

/// How a refused human action looks to the caller.
pub(super) fn refusal_problem(e: HumanRefusal, state_before: &str) -> Problem {
    match e {
        HumanRefusal::NotAllowed(r) => {
            Problem::new(StatusCode::CONFLICT, "conflict", format!("not allowed in state {state_before}: {r}"))
        }
        HumanRefusal::Text(t) => Problem::invalid_fields(vec![crate::http::problem::FieldError {
            field: "body".into(),
            message: t.to_string(),
        }]),
        HumanRefusal::UnknownDraft(_) => Problem::not_found(e.to_string()),
        HumanRefusal::NoChannel | HumanRefusal::Moved | HumanRefusal::NotCurrent => {
            Problem::new(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        HumanRefusal::Failed(detail) => {
            tracing::error!(error = %detail, "a human action failed");
            Problem::unavailable("the action could not be saved; retry")
        }
    }
}

/// Carries out `action` through the customer's actor, or on the stored
/// state in a process without actors.
pub(super) async fn act(state: &AppState, t: &Target, action: HumanAction) -> Result<HumanOutcome, Problem> {
    let conversation = ConversationId::from_uuid(t.conversation);
    let done = match &state.runtime {
        Some(runtime) => runtime
            .human(t.tenant, t.customer, conversation, action)
            .await
            .map_err(|e| submit_problem(e, &t.state_before))?,
        None => {
            let every = crate::runtime::RuntimeConfig::default().snapshot_every;
            let done = carry_out_stored(&state.pool, t.tenant, t.customer, conversation, action, every).await;
            if let Ok(HumanOutcome { escalated: Some(reason), .. }) = &done {
                state.metrics.escalation(reason.as_str());
            }
            done
        }
    };
    done.map_err(|e| refusal_problem(e, &t.state_before))
}

/// Writes the audit row of a step on conversation `t`.
pub(super) async fn audit_step(
    state: &AppState,
    caller: &Caller,
    request: Option<&Extension<RequestId>>,
    t: &Target,
    action: &'static str,
    outcome: &HumanOutcome,
    extra: serde_json::Value,
) -> Result<(), Problem> {
    let mut after = serde_json::json!({ "state": outcome.status.as_str() });
    if let (Some(a), serde_json::Value::Object(more)) = (after.as_object_mut(), extra) {
        a.extend(more);
    }
    audit::record(
        &state.pool,
        t.tenant,
        caller,
        request.map(|Extension(r)| r),
        Entry {
            action,
            target_type: "conversation",
            target_id: t.conversation.to_string(),
            before: serde_json::json!({ "state": t.state_before }),
            after,
        },
    )
    .await
}

/// A step that is a bare event (claim, hand back, resolve).
async fn step(
    state: AppState,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    id: String,
    q: TenantQuery,
    action: &'static str,
    make: fn(String) -> HumanAction,
) -> Result<Json<Stepped>, Problem> {
    let t = target(&state, &caller, &id, &q).await?;
    let outcome = act(&state, &t, make(caller.actor())).await?;
    audit_step(&state, &caller, request.as_ref(), &t, action, &outcome, serde_json::json!({})).await?;
    Ok(Json(Stepped { conversation_id: t.conversation, state_version: outcome.state_version, message_id: None }))
}

/// Claim an escalated conversation: it becomes human-active, assigned to the caller.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/claim", tag = "human workflow",
    params(("id" = String, Path, description = "conversation id"), TenantQuery),
    responses((status = 200, body = Stepped), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Stepped>, Problem> {
    step(state, caller, request, id, q, "conversation.claim", |by| HumanAction::Claim { by }).await
}

/// Hand a human-active conversation back to the AI.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/handback", tag = "human workflow",
    params(("id" = String, Path, description = "conversation id"), TenantQuery),
    responses((status = 200, body = Stepped), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn handback(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Stepped>, Problem> {
    step(state, caller, request, id, q, "conversation.handback", |by| HumanAction::HandBack { by }).await
}

/// Resolve a conversation (closes its escalation).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/resolve", tag = "human workflow",
    params(("id" = String, Path, description = "conversation id"), TenantQuery),
    responses((status = 200, body = Stepped), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Stepped>, Problem> {
    step(state, caller, request, id, q, "conversation.resolve", |by| HumanAction::Resolve { by }).await
}

/// Reply as a human on the customer's current channel (claims an escalated
/// conversation that nobody has claimed yet).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/reply", tag = "human workflow",
    params(("id" = String, Path, description = "conversation id"), TenantQuery),
    request_body = ReplyRequest,
    responses((status = 200, body = Stepped), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
    parsed: Result<Json<ReplyRequest>, JsonRejection>,
) -> Result<Json<Stepped>, Problem> {
    let t = target(&state, &caller, &id, &q).await?;
    let ReplyRequest { body: text } = body(parsed)?;
    let outcome = act(&state, &t, HumanAction::Reply { by: caller.actor(), body: text }).await?;
    let message_id = outcome.reply_id.map(|m| m.as_uuid());
    audit_step(
        &state,
        &caller,
        request.as_ref(),
        &t,
        "conversation.reply",
        &outcome,
        serde_json::json!({ "message_id": message_id }),
    )
    .await?;
    Ok(Json(Stepped { conversation_id: t.conversation, state_version: outcome.state_version, message_id }))
}
