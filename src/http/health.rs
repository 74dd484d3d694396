//! `/health`: the state of every dependency (PostgreSQL, and the broker
//! when one is configured), 200 when all are ok, 503 otherwise.
//! `/ready`: 200 only while this process accepts traffic and its database
//! answers, so a load balancer stops sending work during shutdown.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct HealthReport {
    pub status: &'static str,
    pub version: &'static str,
    pub checks: Checks,
}

#[derive(Debug, Serialize)]
pub struct Checks {
    pub postgres: Check,
    pub kafka: Check,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
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

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let (postgres, kafka) = tokio::join!(check_postgres(&state), check_kafka(&state));
    let healthy = postgres.is_healthy() && kafka.is_healthy();
    let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let report = HealthReport {
        status: if healthy { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        checks: Checks { postgres, kafka },
    };
    (code, Json(report))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    if !state.ready.get() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "ready": false, "reason": "not accepting traffic" })),
        );
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
