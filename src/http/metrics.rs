//! `/metrics` (Prometheus text format) and the middleware that counts
//! every routed request by its route template, method and status, with its
//! latency.

use super::AppState;
use crate::db::{SystemJob, begin_system_job};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    if let Some(route) = route {
        state.metrics.http(&route, &method, response.status().as_u16(), started.elapsed());
    }
    response
}

/// Replies committed but not yet published (the outbox relay's backlog).
async fn outbox_backlog(state: &AppState) -> Option<f64> {
    let mut tx = begin_system_job(&state.pool, SystemJob::OutboxRelay).await.ok()?;
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetch_one(&mut *tx).await.ok()?;
    tx.commit().await.ok()?;
    Some(n as f64)
}

pub async fn scrape(State(state): State<AppState>) -> Response {
    let mut extra: Vec<(&str, &str, &str, f64)> = Vec::new();
    if let Some(runtime) = &state.runtime {
        let s = runtime.stats();
        extra.extend([
            ("fte_actors_resident", "gauge", "Conversation actors resident in this process.", s.resident as f64),
            ("fte_actors_spawned_total", "counter", "Conversation actors spawned (rehydrated).", s.spawned as f64),
            (
                "fte_actors_passivated_total",
                "counter",
                "Conversation actors passivated when idle.",
                s.passivated as f64,
            ),
            (
                "fte_actors_evicted_total",
                "counter",
                "Conversation actors evicted over the resident cap.",
                s.evicted as f64,
            ),
            ("fte_actors_failed_total", "counter", "Conversation actors that stopped on a failure.", s.failed as f64),
            (
                "fte_actor_rehydration_p95_seconds",
                "gauge",
                "p95 time to rehydrate an actor.",
                s.rehydration_p95_ms / 1e3,
            ),
        ]);
    }
    if let Some(backlog) = outbox_backlog(&state).await {
        extra.push(("fte_outbox_backlog", "gauge", "Outbox rows committed and not yet published.", backlog));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(&extra)).into_response()
}
