//! `GET /api/v1/metrics/channels` (viewer and up): the tenant's last 24
//! hours per channel — conversations, messages in and out, the share of
//! agent turns that escalated, and the p50 / p95 latency of AI replies
//! (customer message to committed answer). Every channel is listed, with
//! zeros when it had no traffic.

use super::{TenantQuery, require, scope, unavailable};
use crate::auth::{Caller, Role};
use crate::db::begin_tenant;
use crate::domain::Channel;
use crate::http::AppState;
use crate::http::problem::Problem;
use axum::Json;
use axum::extract::{Query, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(channels))
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ChannelStats {
    pub channel: String,
    pub conversations: i64,
    pub messages_in: i64,
    pub messages_out: i64,
    pub agent_turns: i64,
    pub escalations: i64,
    /// Escalated agent turns / agent turns (0 without turns).
    pub escalation_rate: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelReport {
    /// The window, in hours, ending now.
    pub window_hours: u32,
    pub channels: Vec<ChannelStats>,
}

type MessageRow = (String, i64, i64, i64, Option<f64>, Option<f64>);

/// Per-channel statistics of the last 24 hours.
#[utoipa::path(get, path = "/api/v1/metrics/channels", tag = "observability", params(TenantQuery),
    responses((status = 200, body = ChannelReport), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn channels(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TenantQuery>,
) -> Result<Json<ChannelReport>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let messages: Vec<MessageRow> = sqlx::query_as(
        "SELECT channel, count(DISTINCT conversation_id),
                count(*) FILTER (WHERE direction = 'inbound'), count(*) FILTER (WHERE direction = 'outbound'),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)
                    FILTER (WHERE direction = 'outbound' AND author = 'ai'),
                percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
                    FILTER (WHERE direction = 'outbound' AND author = 'ai')
           FROM messages WHERE created_at > now() - interval '24 hours'
          GROUP BY channel",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    let turns: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT m.channel, count(*), count(*) FILTER (WHERE t.decision = 'escalate')
           FROM agent_turns t JOIN messages m ON m.id = t.inbound_message
          WHERE t.created_at > now() - interval '24 hours'
          GROUP BY m.channel",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    let channels = Channel::ALL
        .iter()
        .map(|c| {
            let mut s = ChannelStats { channel: c.as_str().to_string(), ..Default::default() };
            if let Some((_, conversations, inbound, outbound, p50, p95)) = messages.iter().find(|m| m.0 == c.as_str()) {
                s.conversations = *conversations;
                s.messages_in = *inbound;
                s.messages_out = *outbound;
                s.latency_p50_ms = *p50;
                s.latency_p95_ms = *p95;
            }
            if let Some((_, total, escalated)) = turns.iter().find(|t| t.0 == c.as_str()) {
                s.agent_turns = *total;
                s.escalations = *escalated;
                s.escalation_rate = if *total > 0 { *escalated as f64 / *total as f64 } else { 0.0 };
            }
            s
        })
        .collect();
    Ok(Json(ChannelReport { window_hours: 24, channels }))
}
