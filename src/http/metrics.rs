//! `/metrics` (Prometheus text format) and the middleware that counts
//! every routed request by its route template, method and status, with its
//! latency.

use super::AppState;
use crate::db::{SystemJob, begin_system_job};
use crate::domain::TenantId;
use crate::metrics::{Gauges, label};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
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

/// Tenant slugs by id (the `tenant` label of spend metrics).
async fn tenant_slugs(state: &AppState) -> HashMap<TenantId, String> {
    let ids: Vec<uuid::Uuid> = state.metrics.spending_tenants().into_iter().map(|t| t.as_uuid()).collect();
    if ids.is_empty() {
        return HashMap::new();
    }
    let read = async {
        let mut tx = begin_system_job(&state.pool, SystemJob::TenantDirectory).await?;
        let rows: Vec<(uuid::Uuid, String)> =
            sqlx::query_as("SELECT id, slug FROM tenants WHERE id = ANY($1)").bind(&ids).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(rows)
    };
    match read.await {
        Ok(rows) => rows.into_iter().map(|(id, slug)| (TenantId::from_uuid(id), slug)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read tenant slugs for /metrics");
            HashMap::new()
        }
    }
}

/// Prometheus text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "observability",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn scrape(State(state): State<AppState>) -> Response {
    let mut g = Gauges::default();
    if let Some(runtime) = &state.runtime {
        let s = runtime.stats();
        let none = String::new;
        g.add(
            "fte_actors_resident",
            "gauge",
            "Conversation actors resident in this process.",
            none(),
            s.resident as f64,
        );
        g.add(
            "fte_actors_spawned_total",
            "counter",
            "Conversation actors spawned (each one rehydrated).",
            none(),
            s.spawned as f64,
        );
        g.add(
            "fte_actors_passivated_total",
            "counter",
            "Conversation actors passivated when idle.",
            none(),
            s.passivated as f64,
        );
        g.add(
            "fte_actors_evicted_total",
            "counter",
            "Conversation actors evicted over the resident cap.",
            none(),
            s.evicted as f64,
        );
        g.add(
            "fte_actors_failed_total",
            "counter",
            "Conversation actors that stopped on a failure.",
            none(),
            s.failed as f64,
        );
        g.add(
            "fte_actor_rehydration_p95_seconds",
            "gauge",
            "p95 time to rehydrate an actor.",
            none(),
            s.rehydration_p95_ms / 1e3,
        );
    }
    if let Some(backlog) = outbox_backlog(&state).await {
        g.add("fte_outbox_backlog", "gauge", "Outbox rows committed and not yet published.", String::new(), backlog);
    }
    if let Some(probe) = &state.broker {
        match probe.check(state.health_timeout).await {
            Ok(status) => {
                for p in &status.partition_lag {
                    let labels = format!(
                        "{},{},{}",
                        label("group", &p.group),
                        label("topic", &p.topic),
                        label("partition", &p.partition.to_string())
                    );
                    g.add(
                        "fte_consumer_lag",
                        "gauge",
                        "Records not yet processed, per consumer group and partition.",
                        labels,
                        p.lag as f64,
                    );
                }
                if let Some(n) = status.dlq_records {
                    g.add("fte_dlq_records", "gauge", "Records in the dead-letter topic.", String::new(), n as f64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read consumer lag for /metrics"),
        }
    }
    let slugs = tenant_slugs(&state).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(&g, &slugs))
        .into_response()
}

pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(scrape))
}
