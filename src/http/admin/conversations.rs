//! `GET /api/v1/conversations` (filters: `state`, `channel`, `escalated`,
//! `updated_since`; newest first, cursor pagination) and
//! `GET /api/v1/conversations/{id}` (the conversation, its transcript across
//! channels, its event log). Viewer and up.

use super::{TenantQuery, require, scope};
use crate::auth::{Caller, Role};
use crate::db::begin_tenant;
use crate::http::AppState;
use crate::http::problem::Problem;
use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(detail))
}

const MAX_LIMIT: i64 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The tenant to work in (global admin keys only).
    tenant: Option<String>,
    /// A conversation state, e.g. `escalated`, `human_active`.
    state: Option<String>,
    /// `email`, `whatsapp`, `slack` or `webform`.
    channel: Option<String>,
    /// Only conversations with (true) or without (false) an open escalation.
    escalated: Option<bool>,
    /// Only conversations updated at or after this time (RFC 3339).
    updated_since: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ConversationSummary {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub state: String,
    pub current_channel: String,
    pub subject: Option<String>,
    pub escalated: bool,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub delivery_failed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page {
    pub items: Vec<ConversationSummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.to_rfc3339()))
}

fn decode_cursor(raw: &str) -> Result<(DateTime<Utc>, Uuid), Problem> {
    let bad = || Problem::bad_request("cursor is not one this API gave out");
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc), id.parse().map_err(|_| bad())?))
}

/// Conversations, newest first, with filters and cursor pagination.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ListQuery),
    responses((status = 200, body = Page), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page>, Problem> {
    require(&caller, Role::Viewer)?;
    let Query(q) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    if let Some(s) = &q.state {
        crate::conversation::Status::parse(s).ok_or_else(|| Problem::bad_request(format!("unknown state {s:?}")))?;
    }
    let channel = match &q.channel {
        Some(c) => Some(c.parse::<crate::domain::Channel>().map_err(|e| Problem::bad_request(e.to_string()))?),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let run = async {
        let mut tx = begin_tenant(&state.pool, tenant).await?;
        let rows: Vec<ConversationSummary> = sqlx::query_as(
            "SELECT c.id, c.customer_id, c.state, c.current_channel, c.subject,
                    EXISTS (SELECT 1 FROM escalations e WHERE e.conversation_id = c.id AND e.status <> 'resolved')
                        AS escalated,
                    c.updated_at, c.last_message_at, c.delivery_failed_at
               FROM conversations c
              WHERE ($1::text IS NULL OR c.state = $1)
                AND ($2::text IS NULL OR c.current_channel = $2)
                AND ($3::timestamptz IS NULL OR c.updated_at >= $3)
                AND ($4::timestamptz IS NULL OR (c.updated_at, c.id) < ($4, $5))
                AND ($6::bool IS NULL OR EXISTS (SELECT 1 FROM escalations e
                                                  WHERE e.conversation_id = c.id AND e.status <> 'resolved') = $6)
              ORDER BY c.updated_at DESC, c.id DESC
              LIMIT $7",
        )
        .bind(q.state.as_deref())
        .bind(channel.map(|c| c.as_str()))
        .bind(q.updated_since)
        .bind(after.map(|(at, _)| at))
        .bind(after.map(|(_, id)| id))
        .bind(q.escalated)
        .bind(limit + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(rows)
    };
    let mut rows = run.await.map_err(|e| {
        tracing::error!(tenant_id = %tenant, error = %e, "cannot list conversations");
        Problem::unavailable("cannot list conversations; retry")
    })?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| encode_cursor(r.updated_at, r.id)) } else { None };
    let items = rows;
    Ok(Json(Page { items, next_cursor }))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct TranscriptMessage {
    pub id: Uuid,
    pub channel: String,
    pub direction: String,
    pub author: String,
    pub body: String,
    pub delivery_status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct EventEntry {
    pub seq: i64,
    pub event_type: String,
    pub state_before: String,
    pub state_after: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Detail {
    pub conversation: ConversationSummary,
    pub messages: Vec<TranscriptMessage>,
    pub events: Vec<EventEntry>,
}

/// One conversation with its transcript across channels and its event log.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "conversation id"), TenantQuery),
    responses((status = 200, body = Detail), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Detail>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let id: Uuid = id.parse().map_err(|_| Problem::not_found("no such conversation"))?;
    let run = async {
        let mut tx = begin_tenant(&state.pool, tenant).await?;
        let row: Option<ConversationSummary> = sqlx::query_as(
            "SELECT c.id, c.customer_id, c.state, c.current_channel, c.subject,
                    EXISTS (SELECT 1 FROM escalations e WHERE e.conversation_id = c.id AND e.status <> 'resolved')
                        AS escalated,
                    c.updated_at, c.last_message_at, c.delivery_failed_at
               FROM conversations c WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let messages: Vec<TranscriptMessage> = sqlx::query_as(
            "SELECT id, channel, direction, author, body, delivery_status, created_at FROM messages
              WHERE conversation_id = $1 ORDER BY created_at, id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let events: Vec<EventEntry> = sqlx::query_as(
            "SELECT seq, event_type, state_before, state_after, payload, created_at FROM conversation_events
              WHERE conversation_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>((row, messages, events))
    };
    let (row, messages, events) = run.await.map_err(|e| {
        tracing::error!(tenant_id = %tenant, error = %e, "cannot read a conversation");
        Problem::unavailable("cannot read the conversation; retry")
    })?;
    let conversation = row.ok_or_else(|| Problem::not_found("no such conversation"))?;
    Ok(Json(Detail { conversation, messages, events }))
}
