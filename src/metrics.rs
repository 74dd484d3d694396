//! Prometheus metrics (names `fte_<name>_<unit>`, no ids as labels), kept
//! in process with `prometheus-client` and encoded in the Prometheus text
//! format (0.0.4) at `/metrics`: HTTP requests and their latency, messages,
//! deliveries, customer turns, escalations and purged rows, each a label
//! family; the stuck-reply sweeper's gauge and counter; model spend per
//! tenant, labelled by the tenant's slug at scrape time. Metrics that other
//! parts own (resident actors, the outbox backlog, consumer lag) are read at
//! scrape time into [`Gauges`]. HTTP routes are labelled by their template
//! (`/api/v1/conversations/{id}`), never by the ids in a path.
//!
//! The library appends `_total` to counter names and the unit to names
//! registered with one, so counters are registered without `_total` and
//! `fte_turn_duration` with [`Unit::Seconds`] exposes
//! `fte_turn_duration_seconds`; it also ends every help text with a period,
//! and leaves out a label family that has nothing counted yet.

use crate::domain::TenantId;
use dashmap::DashMap;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the latency histograms.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Metrics read at scrape time from their owners (the actor runtime, the
/// outbox, the broker), registered just before encoding and encoded after
/// [`Metrics`]' own.
pub type Gauges = Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Traffic {
    channel: &'static str,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Delivery {
    channel: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Channel {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Table {
    table: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Tenant {
    tenant: String,
}

/// One tenant's model tokens and cost (micro-USD).
#[derive(Default)]
struct Spend {
    tokens: Counter,
    micro_usd: Counter,
}

pub struct Metrics {
    /// The in-process metrics below, in the order they are encoded.
    registry: Registry,
    requests: Family<Request, Counter>,
    latency: Family<Route, Histogram>,
    messages: Family<Traffic, Counter>,
    deliveries: Family<Delivery, Counter>,
    /// Replies found unsettled past the stuck threshold by the last sweep.
    stuck_replies: Gauge<u64, AtomicU64>,
    /// Stuck replies the sweeper delivered.
    redriven: Counter,
    /// Customer turns (message in → committed decision).
    turns: Family<Channel, Histogram>,
    escalations: Family<Reason, Counter>,
    purged: Family<Table, Counter>,
    /// Kept by tenant id, encoded by the tenant's slug (read at scrape
    /// time), so it is not in `registry`.
    spend: DashMap<TenantId, Spend>,
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            messages: Family::default(),
            deliveries: Family::default(),
            stuck_replies: Gauge::default(),
            redriven: Counter::default(),
            turns: Family::new_with_constructor(latency_histogram),
            escalations: Family::default(),
            purged: Family::default(),
            spend: DashMap::new(),
        };
        let mut r = Registry::default();
        r.register("fte_http_requests", "HTTP requests by route template, method and status", m.requests.clone());
        r.register_with_unit(
            "fte_http_request_duration",
            "HTTP request latency by route template",
            Unit::Seconds,
            m.latency.clone(),
        );
        r.register(
            "fte_channel_messages",
            "Customer messages in and replies accepted out, per channel",
            m.messages.clone(),
        );
        r.register(
            "fte_deliveries",
            "Replies settled by the dispatcher, per channel and outcome",
            m.deliveries.clone(),
        );
        r.register(
            "fte_stuck_replies",
            "Replies unsettled past the stuck threshold at the last sweep",
            m.stuck_replies.clone(),
        );
        r.register("fte_redriven_replies", "Stuck replies the sweeper delivered", m.redriven.clone());
        r.register_with_unit(
            "fte_turn_duration",
            "Customer turns, message taken to decision committed, per channel",
            Unit::Seconds,
            m.turns.clone(),
        );
        r.register("fte_escalations", "Conversations handed to humans, by reason", m.escalations.clone());
        r.register("fte_retention_purged_rows", "Rows the retention job deleted, by table", m.purged.clone());
        Metrics { registry: r, ..m }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn http(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests.get_or_create(&Request { route: route.to_string(), method: method.to_string(), status }).inc();
        self.latency.get_or_create(&Route { route: route.to_string() }).observe(took.as_secs_f64());
    }

    /// A customer message taken in, or a reply accepted by a provider.
    pub fn message(&self, channel: &'static str, direction: &'static str) {
        self.messages.get_or_create(&Traffic { channel, direction }).inc();
    }

    /// A delivery settled: `sent` or `failed`.
    pub fn send(&self, channel: &'static str, outcome: &'static str) {
        self.deliveries.get_or_create(&Delivery { channel, outcome }).inc();
    }

    /// A customer turn committed on `channel`.
    pub fn turn(&self, channel: &'static str, took: Duration) {
        self.turns.get_or_create(&Channel { channel }).observe(took.as_secs_f64());
    }

    /// What the last stuck-reply sweep found.
    pub fn set_stuck_replies(&self, count: u64) {
        self.stuck_replies.set(count);
    }

    /// A stuck reply delivered by the sweeper.
    pub fn redriven(&self) {
        self.redriven.inc();
    }

    /// Rows of `table` the retention job deleted.
    pub fn purged(&self, table: &str, rows: u64) {
        self.purged.get_or_create(&Table { table: table.to_string() }).inc_by(rows);
    }

    /// A conversation handed to humans.
    pub fn escalation(&self, reason: &'static str) {
        self.escalations.get_or_create(&Reason { reason }).inc();
    }

    /// Model tokens and their estimated cost, for `tenant`.
    pub fn spend(&self, tenant: TenantId, tokens: u64, cost_usd: f64) {
        let spend = self.spend.entry(tenant).or_default();
        spend.tokens.inc_by(tokens);
        spend.micro_usd.inc_by((cost_usd.max(0.0) * 1e6).round() as u64);
    }

    /// Tenants with spend recorded in this process.
    pub fn spending_tenants(&self) -> Vec<TenantId> {
        self.spend.iter().map(|e| *e.key()).collect()
    }

    /// Spend per tenant slug (`unknown` for a tenant missing from `slugs`).
    fn spend_by_slug(&self, slugs: &HashMap<TenantId, String>) -> Registry {
        let tokens = Family::<Tenant, Counter>::default();
        let cost = Family::<Tenant, Counter<f64, AtomicU64>>::default();
        for e in self.spend.iter() {
            let tenant = Tenant { tenant: slugs.get(e.key()).map_or("unknown", String::as_str).to_string() };
            tokens.get_or_create(&tenant).inc_by(e.tokens.get());
            cost.get_or_create(&tenant).inc_by(e.micro_usd.get() as f64 / 1e6);
        }
        let mut r = Registry::default();
        r.register("fte_agent_tokens", "Model tokens (prompt + completion) used, per tenant", tokens);
        r.register_with_unit(
            "fte_agent_cost",
            "Estimated model cost in USD, per tenant",
            Unit::Other("usd".to_string()),
            cost,
        );
        r
    }

    /// The text exposition of the in-process metrics, then `extra`
    /// (read at scrape time); `slugs` names the tenants.
    pub fn render(&self, extra: &Gauges, slugs: &HashMap<TenantId, String>) -> String {
        let mut out = String::new();
        for registry in [&self.registry, &self.spend_by_slug(slugs), extra] {
            // Writing to a String does not fail; a label that cannot be
            // encoded ends the text where it stands.
            if let Err(e) = prometheus_text::encode(&mut out, registry) {
                tracing::error!(error = %e, "cannot encode the metrics");
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::gauge::ConstGauge;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Partition {
        group: &'static str,
        partition: i32,
    }

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::default();
        m.http("/api/v1/conversations/{id}", "GET", 200, Duration::from_millis(20));
        m.http("/api/v1/conversations/{id}", "GET", 200, Duration::from_millis(700));
        m.message("email", "inbound");
        m.turn("whatsapp", Duration::from_millis(40));
        m.escalation("human_requested");
        m.purged("a\"b\\c\nd", 1);
        let t = TenantId::new();
        m.spend(t, 120, 0.0015);
        let mut g = Gauges::default();
        g.register("fte_actors_resident", "Resident actors", ConstGauge::new(3_i64));
        let lag = Family::<Partition, Gauge>::default();
        lag.get_or_create(&Partition { group: "g", partition: 0 }).set(2);
        lag.get_or_create(&Partition { group: "g", partition: 1 }).set(0);
        g.register("fte_consumer_lag", "Lag", lag);
        let text = m.render(&g, &HashMap::from([(t, "tallyloom".to_string())]));
        assert_eq!(text.matches("# TYPE fte_consumer_lag gauge").count(), 1, "{text}");
        assert!(text.contains(r#"fte_consumer_lag{group="g",partition="1"} 0"#), "{text}");
        assert!(text.contains(r#"fte_turn_duration_seconds_bucket{channel="whatsapp",le="0.05"} 1"#), "{text}");
        assert!(text.contains(r#"fte_escalations_total{reason="human_requested"} 1"#), "{text}");
        assert!(text.contains(r#"fte_agent_tokens_total{tenant="tallyloom"} 120"#), "{text}");
        assert!(text.contains(r#"fte_agent_cost_usd_total{tenant="tallyloom"} 0.0015"#), "{text}");
        assert!(
            text.contains(r#"fte_http_requests_total{route="/api/v1/conversations/{id}",method="GET",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"fte_http_request_duration_seconds_bucket{route="/api/v1/conversations/{id}",le="0.025"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"fte_http_request_duration_seconds_bucket{route="/api/v1/conversations/{id}",le="+Inf"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"fte_channel_messages_total{channel="email",direction="inbound"} 1"#), "{text}");
        assert!(text.contains("fte_actors_resident 3"), "{text}");
        // Label values escape backslash, quote and newline.
        assert!(text.contains(r#"fte_retention_purged_rows_total{table="a\"b\\c\nd"} 1"#), "{text}");
    }

    #[test]
    fn histograms_keep_their_buckets_and_sum() {
        let m = Metrics::default();
        m.turn("email", Duration::from_millis(1000));
        m.turn("email", Duration::from_millis(1500));
        let text = m.render(&Gauges::default(), &HashMap::new());
        let bounds: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix(r#"fte_turn_duration_seconds_bucket{channel="email",le=""#))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(
            bounds,
            ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf"]
        );
        assert!(text.contains(r#"fte_turn_duration_seconds_bucket{channel="email",le="1"} 1"#), "{text}");
        assert!(text.contains(r#"fte_turn_duration_seconds_bucket{channel="email",le="2.5"} 2"#), "{text}");
        assert!(text.contains(r#"fte_turn_duration_seconds_sum{channel="email"} 2.5"#), "{text}");
        assert!(text.contains(r#"fte_turn_duration_seconds_count{channel="email"} 2"#), "{text}");
    }

    #[test]
    fn tenants_without_a_slug_are_unknown() {
        let m = Metrics::default();
        m.spend(TenantId::new(), 10, 0.25);
        m.spend(TenantId::new(), 5, 0.5);
        let text = m.render(&Gauges::default(), &HashMap::new());
        assert!(text.contains(r#"fte_agent_tokens_total{tenant="unknown"} 15"#), "{text}");
        assert!(text.contains(r#"fte_agent_cost_usd_total{tenant="unknown"} 0.75"#), "{text}");
    }
}
