//! `/health`: the state of every dependency (PostgreSQL, and the broker
//! when one is configured), 200 when all are ok, 503 otherwise; and each
//! channel's last inbound and outbound message and recent delivery error
//! rate (informational: a provider's outage is not this process's, so it
//! never turns the answer into a 503 that would restart healthy pods).
//! `/ready`: 200 only while this process accepts traffic and its database
//! answers, so a load balancer stops sending work during shutdown.
//! `/live`: 200 whenever the HTTP server answers at all, checking no
//! dependency: the liveness probe, so that an outage of PostgreSQL or the
//! broker (which `/health` and `/ready` report) never restarts healthy pods.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    pub status: &'static str,
    pub version: &'static str,
    pub checks: Checks,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Checks {
    pub postgres: Check,
    pub kafka: Check,
    /// Per channel, over the last 24 hours (empty when the database
    /// cannot be read).
    pub channels: Vec<ChannelHealth>,
}

/// Deliveries in the last hour above this failure rate mark a channel
/// degraded (with at least [`MIN_ATTEMPTS`] of them).
const DEGRADED_ERROR_RATE: f64 = 0.5;
const MIN_ATTEMPTS: i64 = 3;

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ChannelHealth {
    pub channel: String,
    /// `ok`, `degraded` (most deliveries of the last hour failed) or
    /// `idle` (no traffic in 24 hours).
    #[sqlx(skip)]
    pub status: &'static str,
    pub last_inbound_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_outbound_at: Option<chrono::DateTime<chrono::Utc>>,
    pub sent_24h: i64,
    pub failed_24h: i64,
    pub sent_1h: i64,
    pub failed_1h: i64,
    /// Replies committed but still unsettled (neither accepted by the
    /// provider nor failed) 30 seconds or more after their commit: the
    /// dispatcher is waiting out an outage, or the stuck-reply sweeper has
    /// them next.
    pub stuck_replies: i64,
    /// Failed / settled deliveries in the last hour.
    #[sqlx(skip)]
    pub error_rate_1h: f64,
}

async fn check_channels(state: &AppState) -> Vec<ChannelHealth> {
    let read = async {
        let mut tx = crate::db::begin_system_job(&state.pool, crate::db::SystemJob::HealthProbe).await?;
        let rows: Vec<ChannelHealth> = sqlx::query_as(
            "SELECT channel,
                    max(created_at) FILTER (WHERE direction = 'inbound') AS last_inbound_at,
                    max(updated_at) FILTER (WHERE direction = 'outbound' AND delivery_status IN ('sent', 'delivered', 'read'))
                        AS last_outbound_at,
                    count(*) FILTER (WHERE direction = 'outbound' AND delivery_status IN ('queued', 'sent', 'delivered', 'read'))
                        AS sent_24h,
                    count(*) FILTER (WHERE direction = 'outbound' AND delivery_status IN ('failed', 'undelivered'))
                        AS failed_24h,
                    count(*) FILTER (WHERE direction = 'outbound' AND created_at > now() - interval '1 hour'
                                       AND delivery_status IN ('queued', 'sent', 'delivered', 'read')) AS sent_1h,
                    count(*) FILTER (WHERE direction = 'outbound' AND created_at > now() - interval '1 hour'
                                       AND delivery_status IN ('failed', 'undelivered')) AS failed_1h,
                    count(*) FILTER (WHERE direction = 'outbound' AND delivery_status = 'pending'
                                       AND created_at < now() - interval '30 seconds') AS stuck_replies
               FROM messages WHERE created_at > now() - interval '24 hours'
              GROUP BY channel",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(rows)
    };
    let rows = match tokio::time::timeout(state.health_timeout, read).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read channel health");
            return Vec::new();
        }
        Err(_) => return Vec::new(),
    };
    crate::domain::Channel::ALL
        .iter()
        .map(|c| {
            let mut h = rows.iter().find(|r| r.channel == c.as_str()).map_or_else(
                || ChannelHealth {
                    channel: c.as_str().to_string(),
                    status: "idle",
                    last_inbound_at: None,
                    last_outbound_at: None,
                    sent_24h: 0,
                    failed_24h: 0,
                    sent_1h: 0,
                    failed_1h: 0,
                    stuck_replies: 0,
                    error_rate_1h: 0.0,
                },
                |r| ChannelHealth { channel: r.channel.clone(), ..*r },
            );
            let attempts = h.sent_1h + h.failed_1h;
            h.error_rate_1h = if attempts > 0 { h.failed_1h as f64 / attempts as f64 } else { 0.0 };
            h.status = if attempts >= MIN_ATTEMPTS && h.error_rate_1h > DEGRADED_ERROR_RATE {
                "degraded"
            } else if h.last_inbound_at.is_none() && h.last_outbound_at.is_none() && h.sent_24h + h.failed_24h == 0 {
                "idle"
            } else {
                "ok"
            };
            h
        })
        .collect()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `ok`, `error` or `not_configured`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, required = false)]
    pub detail: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub error: Option<String>,
}

impl Check {
    fn ok(started: Instant, detail: Option<serde_json::Value>) -> Self {
        Self { status: "ok", latency_ms: Some(elapsed_ms(started)), detail, error: None }
    }

    fn failed(started: Instant, error: String) -> Self {
        Self { status: "error", latency_ms: Some(elapsed_ms(started)), detail: None, error: Some(error) }
    }

    fn is_healthy(&self) -> bool {
        self.status != "error"
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn check_postgres(state: &AppState) -> Check {
    let started = Instant::now();
    let ping = sqlx::query_scalar::<_, String>("SELECT current_setting('server_version')").fetch_one(&state.pool);
    match tokio::time::timeout(state.health_timeout, ping).await {
        Ok(Ok(version)) => Check::ok(started, Some(serde_json::json!({ "server_version": version }))),
        Ok(Err(e)) => Check::failed(started, e.to_string()),
        Err(_) => Check::failed(started, format!("no answer within {:?}", state.health_timeout)),
    }
}

async fn check_kafka(state: &AppState) -> Check {
    let Some(probe) = &state.broker else {
        return Check { status: "not_configured", latency_ms: None, detail: None, error: None };
    };
    let started = Instant::now();
    match probe.check(state.health_timeout).await {
        Ok(status) => Check::ok(started, serde_json::to_value(status).ok()),
        Err(e) => Check::failed(started, e.to_string()),
    }
}

/// Every dependency's state (200 when all are ok, 503 otherwise) and each
/// channel's recent traffic.
#[utoipa::path(get, path = "/health", tag = "observability",
    responses((status = 200, body = HealthReport), (status = 503, body = HealthReport)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let (postgres, kafka, channels) = tokio::join!(check_postgres(&state), check_kafka(&state), check_channels(&state));
    let healthy = postgres.is_healthy() && kafka.is_healthy();
    let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let report = HealthReport {
        status: if healthy { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        checks: Checks { postgres, kafka, channels },
    };
    (code, Json(report))
}

/// Whether this process takes traffic now (200) or not (503: starting,
/// shutting down, or what it needs is unreachable: the database; for the
/// `api` role with Kafka, the broker, and the database only until the
/// channel accounts are first loaded).
#[utoipa::path(get, path = "/ready", tag = "observability",
    responses((status = 200, body = serde_json::Value), (status = 503, body = serde_json::Value)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    if !state.ready.get() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "ready": false, "reason": "not accepting traffic" })),
        );
    }
    // The `api` role with Kafka takes webhooks with the broker and the
    // channel accounts it holds in memory: PostgreSQL away is degraded
    // (`/health`), not unready.
    if state.publisher.is_some() {
        let kafka = check_kafka(&state).await;
        if !kafka.is_healthy() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "ready": false, "reason": "broker unavailable", "error": kafka.error })),
            );
        }
        if state.accounts.is_loaded() {
            return (StatusCode::OK, Json(serde_json::json!({ "ready": true })));
        }
    }
    let postgres = check_postgres(&state).await;
    if !postgres.is_healthy() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "ready": false, "reason": "database unavailable", "error": postgres.error })),
        );
    }
    (StatusCode::OK, Json(serde_json::json!({ "ready": true })))
}

/// The process answers HTTP (always 200; no dependency is checked).
#[utoipa::path(get, path = "/live", tag = "observability", responses((status = 200, body = serde_json::Value)))]
pub async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "live": true }))
}

pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(health))
        .routes(utoipa_axum::routes!(ready))
        .routes(utoipa_axum::routes!(live))
}
