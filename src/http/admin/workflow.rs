//! The human side of a conversation: the escalation queue
//! (`GET /api/v1/escalations`: open and claimed ones, most urgent and
//! oldest first, with their SLA; viewer and up) and the steps a support
//! agent takes (`POST /api/v1/conversations/{id}/claim`, `…/handback`,
//! `…/resolve`; agent and up, audited). Each step is an event applied by
//! the conversation's actor, so it is one more transition of its state
//! machine (a step the state does not allow is 409). Actors live in `serve`
//! and `worker` processes; another process answers 503.

use super::audit::{self, Entry};
use super::{TenantQuery, require, scope, unavailable};
use crate::auth::{Caller, Role};
use crate::conversation::Event;
use crate::db::begin_tenant;
use crate::domain::{CustomerId, TenantId};
use crate::http::AppState;
use crate::http::problem::Problem;
use crate::http::request_id::RequestId;
use crate::runtime::SubmitError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Escalation {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub customer_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub reason: String,
    pub urgency: String,
    pub status: String,
    pub summary: String,
    pub claimed_by: Option<String>,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct Queue {
    pub items: Vec<Escalation>,
}

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
                COALESCE(sla_due_at < now(), false) AS overdue, created_at
           FROM escalations WHERE status <> 'resolved'
          ORDER BY CASE urgency WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, created_at",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Json(Queue { items }))
}

#[derive(Debug, Serialize)]
pub struct Stepped {
    pub conversation_id: Uuid,
    pub state_version: u64,
}

#[derive(Clone, Copy)]
enum Step {
    Claim,
    HandBack,
    Resolve,
}

impl Step {
    fn action(&self) -> &'static str {
        match self {
            Step::Claim => "conversation.claim",
            Step::HandBack => "conversation.handback",
            Step::Resolve => "conversation.resolve",
        }
    }

    fn event(&self, by: String) -> Event {
        match self {
            Step::Claim => Event::HumanClaimed { by },
            Step::HandBack => Event::HandedBackToAi { by },
            Step::Resolve => Event::Resolved { by },
        }
    }
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

async fn step(
    state: AppState,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    id: String,
    q: TenantQuery,
    step: Step,
) -> Result<Json<Stepped>, Problem> {
    require(&caller, Role::Agent)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let conversation: Uuid = id.parse().map_err(|_| Problem::not_found("no such conversation"))?;
    let (customer, before) = owner(&state, tenant, conversation).await?;
    let runtime =
        state.runtime.as_ref().ok_or_else(|| Problem::unavailable("this process runs no conversation actors"))?;
    let version = runtime.apply(tenant, customer, step.event(caller.actor())).await.map_err(|e| match e {
        SubmitError::Refused(reason) => {
            Problem::new(StatusCode::CONFLICT, "conflict", format!("not allowed in state {before}: {reason}"))
        }
        SubmitError::Closed => Problem::unavailable("shutting down; retry"),
        other => Problem::unavailable(other.to_string()),
    })?;
    if let Step::Claim = step {
        let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
        sqlx::query(
            "UPDATE escalations SET status = 'claimed', claimed_by = $2, claimed_at = now()
              WHERE conversation_id = $1 AND status = 'open'",
        )
        .bind(conversation)
        .bind(caller.actor())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
    }
    let (_, after) = owner(&state, tenant, conversation).await?;
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: step.action(),
            target_type: "conversation",
            target_id: conversation.to_string(),
            before: serde_json::json!({ "state": before }),
            after: serde_json::json!({ "state": after }),
        },
    )
    .await?;
    Ok(Json(Stepped { conversation_id: conversation, state_version: version }))
}

/// `POST /api/v1/conversations/{id}/{step}` with `step` one of `claim`,
/// `handback`, `resolve`.
pub async fn take_step(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Stepped>, Problem> {
    let which = match name.as_str() {
        "claim" => Step::Claim,
        "handback" => Step::HandBack,
        "resolve" => Step::Resolve,
        _ => return Err(Problem::not_found(format!("no step {name:?} (claim, handback or resolve)"))),
    };
    step(state, caller, request, id, q, which).await
}
