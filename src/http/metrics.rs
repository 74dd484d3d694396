//! `/metrics` (Prometheus text format) and the middleware that counts
//! every routed request by its route template, method and status, with its
//! latency.

use super::AppState;
use crate::actors::StatsSnapshot;
use crate::db::{SystemJob, begin_system_job};
use crate::domain::TenantId;
use crate::kafka::BrokerStatus;
use crate::metrics::{CONTENT_TYPE, Gauges};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Unit;
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
async fn outbox_backlog(state: &AppState) -> Option<i64> {
    let mut tx = begin_system_job(&state.pool, SystemJob::OutboxRelay).await.ok()?;
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetch_one(&mut *tx).await.ok()?;
    tx.commit().await.ok()?;
    Some(n)
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

/// The labels of `fte_consumer_lag`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Partition {
    group: String,
    topic: String,
    partition: i32,
}

/// The metrics read at scrape time: the actor runtime's, the outbox
/// backlog, and the broker's lag and dead letters (each when known).
fn scraped(actors: Option<&StatsSnapshot>, backlog: Option<i64>, broker: Option<&BrokerStatus>) -> Gauges {
    let mut g = Gauges::default();
    if let Some(s) = actors {
        g.register("fte_actors_resident", "Conversation actors resident in this process", ConstGauge::new(s.resident));
        g.register(
            "fte_actors_spawned",
            "Conversation actors spawned (each one rehydrated)",
            ConstCounter::new(s.spawned),
        );
        g.register(
            "fte_actors_passivated",
            "Conversation actors passivated when idle",
            ConstCounter::new(s.passivated),
        );
        g.register(
            "fte_actors_evicted",
            "Conversation actors evicted over the resident cap",
            ConstCounter::new(s.evicted),
        );
        g.register("fte_actors_failed", "Conversation actors that stopped on a failure", ConstCounter::new(s.failed));
        g.register_with_unit(
            "fte_actor_rehydration_p95",
            "p95 time to rehydrate an actor",
            Unit::Seconds,
            ConstGauge::new(s.rehydration_p95_ms / 1e3),
        );
    }
    if let Some(n) = backlog {
        g.register("fte_outbox_backlog", "Outbox rows committed and not yet published", ConstGauge::new(n));
    }
    if let Some(status) = broker {
        let lag = Family::<Partition, Gauge>::default();
        for p in &status.partition_lag {
            let labels = Partition { group: p.group.clone(), topic: p.topic.clone(), partition: p.partition };
            lag.get_or_create(&labels).set(p.lag);
        }
        g.register("fte_consumer_lag", "Records not yet processed, per consumer group and partition", lag);
        if let Some(n) = status.dlq_records {
            g.register("fte_dlq_records", "Records in the dead-letter topic", ConstGauge::new(n));
        }
    }
    g
}

/// Prometheus text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "observability",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn scrape(State(state): State<AppState>) -> Response {
    let actors = state.runtime.as_ref().map(|runtime| runtime.stats());
    let backlog = outbox_backlog(&state).await;
    let broker = match &state.broker {
        Some(probe) => match probe.check(state.health_timeout).await {
            Ok(status) => Some(status),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read consumer lag for /metrics");
                None
            }
        },
        None => None,
    };
    let g = scraped(actors.as_ref(), backlog, broker.as_ref());
    let slugs = tenant_slugs(&state).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], state.metrics.render(&g, &slugs)).into_response()
}

pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(scrape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::PartitionLag;
    use crate::metrics::Metrics;
    use std::time::Duration;

    /// Every family `/metrics` serves: name, type and help as dashboards
    /// and alerts know them.
    const FAMILIES: [(&str, &str, &str); 20] = [
        ("fte_http_requests_total", "counter", "HTTP requests by route template, method and status."),
        ("fte_http_request_duration_seconds", "histogram", "HTTP request latency by route template."),
        ("fte_channel_messages_total", "counter", "Customer messages in and replies accepted out, per channel."),
        ("fte_deliveries_total", "counter", "Replies settled by the dispatcher, per channel and outcome."),
        ("fte_stuck_replies", "gauge", "Replies unsettled past the stuck threshold at the last sweep."),
        ("fte_redriven_replies_total", "counter", "Stuck replies the sweeper delivered."),
        ("fte_turn_duration_seconds", "histogram", "Customer turns, message taken to decision committed, per channel."),
        ("fte_escalations_total", "counter", "Conversations handed to humans, by reason."),
        ("fte_retention_purged_rows_total", "counter", "Rows the retention job deleted, by table."),
        ("fte_agent_tokens_total", "counter", "Model tokens (prompt + completion) used, per tenant."),
        ("fte_agent_cost_usd_total", "counter", "Estimated model cost in USD, per tenant."),
        ("fte_actors_resident", "gauge", "Conversation actors resident in this process."),
        ("fte_actors_spawned_total", "counter", "Conversation actors spawned (each one rehydrated)."),
        ("fte_actors_passivated_total", "counter", "Conversation actors passivated when idle."),
        ("fte_actors_evicted_total", "counter", "Conversation actors evicted over the resident cap."),
        ("fte_actors_failed_total", "counter", "Conversation actors that stopped on a failure."),
        ("fte_actor_rehydration_p95_seconds", "gauge", "p95 time to rehydrate an actor."),
        ("fte_outbox_backlog", "gauge", "Outbox rows committed and not yet published."),
        ("fte_consumer_lag", "gauge", "Records not yet processed, per consumer group and partition."),
        ("fte_dlq_records", "gauge", "Records in the dead-letter topic."),
    ];

    #[test]
    fn every_family_keeps_its_name_type_and_help() {
        let m = Metrics::default();
        m.http("/health", "GET", 200, Duration::from_millis(3));
        m.message("email", "inbound");
        m.send("email", "sent");
        m.set_stuck_replies(2);
        m.redriven();
        m.turn("email", Duration::from_millis(40));
        m.escalation("human_requested");
        m.purged("messages", 4);
        let tenant = TenantId::new();
        m.spend(tenant, 120, 0.0015);
        let actors = StatsSnapshot {
            resident: 3,
            spawned: 5,
            passivated: 1,
            restarted: 0,
            evicted: 0,
            failed: 2,
            spawn_failures: 0,
            rehydration_p50_ms: 4.0,
            rehydration_p95_ms: 12.5,
        };
        let broker = BrokerStatus {
            brokers: 1,
            topics: 4,
            consumer_lag: Default::default(),
            partition_lag: vec![PartitionLag {
                group: "fte-actors".into(),
                topic: "fte.tickets.incoming".into(),
                partition: 0,
                lag: 7,
            }],
            dlq_records: Some(1),
        };
        let g = scraped(Some(&actors), Some(9), Some(&broker));
        let text = m.render(&g, &HashMap::from([(tenant, "tallyloom".to_string())]));

        let described: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        let expected: Vec<String> = FAMILIES
            .iter()
            .flat_map(|(name, kind, help)| [format!("# HELP {name} {help}"), format!("# TYPE {name} {kind}")])
            .collect();
        assert_eq!(described, expected, "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = FAMILIES.iter().find(|(family, kind, _)| match *kind {
                "histogram" => ["_bucket", "_sum", "_count"].iter().any(|s| name == format!("{family}{s}")),
                _ => name == *family,
            });
            assert!(family.is_some(), "{line} is in no family:\n{text}");
        }
        assert!(text.contains("fte_actors_resident 3\n"), "{text}");
        assert!(text.contains("fte_actors_spawned_total 5\n"), "{text}");
        assert!(text.contains("fte_actor_rehydration_p95_seconds 0.0125\n"), "{text}");
        assert!(text.contains("fte_outbox_backlog 9\n"), "{text}");
        assert!(
            text.contains(r#"fte_consumer_lag{group="fte-actors",topic="fte.tickets.incoming",partition="0"} 7"#),
            "{text}"
        );
        assert!(text.contains("fte_dlq_records 1\n"), "{text}");
    }
}
