//! Prometheus metrics (names
//! `fte_<name>_<unit>`, no ids as labels): counters and histograms kept in
//! process, rendered in the text exposition format at `/metrics`; gauges
//! that other parts own (resident actors, the outbox backlog) are read at
//! scrape time. HTTP routes are labelled by their template (`/api/v1/
//! conversations/{id}`), never by the ids in a path.

use crate::domain::TenantId;
use dashmap::DashMap;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histograms.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, le) in BUCKETS.iter().enumerate() {
            let n = self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = |s: &str| if s.is_empty() { String::new() } else { format!("{{{s}}}") };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

/// Escapes a label value (backslash, quote, newline).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[derive(Default)]
pub struct Metrics {
    /// (route, method, status) → requests.
    requests: DashMap<(String, String, u16), AtomicU64>,
    /// route → latency.
    latency: DashMap<String, Histogram>,
    /// (channel, direction) → messages.
    messages: DashMap<(&'static str, &'static str), AtomicU64>,
    /// (channel, outcome) → sends that ended as `outcome`.
    sends: DashMap<(&'static str, &'static str), AtomicU64>,
    /// channel → customer turns (message in → committed decision).
    turns: DashMap<&'static str, Histogram>,
    /// reason → conversations handed to humans.
    escalations: DashMap<&'static str, AtomicU64>,
    /// tenant → model tokens and cost (micro-USD), labelled by the
    /// tenant's slug at scrape time.
    spend: DashMap<TenantId, (AtomicU64, AtomicU64)>,
    /// Replies found unsettled past the stuck threshold by the last sweep.
    stuck_replies: AtomicU64,
    /// Stuck replies the sweeper delivered.
    redriven: AtomicU64,
    /// table → rows the retention job deleted.
    purged: DashMap<String, AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Metrics read at scrape time from their owners, grouped by name: kind,
/// help, and one value per label set.
#[derive(Default)]
pub struct Gauges(BTreeMap<&'static str, Family>);

/// One metric family: its type, its help, and its samples (labels, value).
struct Family {
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

impl Gauges {
    pub fn add(&mut self, name: &'static str, kind: &'static str, help: &'static str, labels: String, value: f64) {
        self.0.entry(name).or_insert(Family { kind, help, samples: Vec::new() }).samples.push((labels, value));
    }

    fn render(&self, out: &mut String) {
        for (name, Family { kind, help, samples }) in &self.0 {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let labels = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        }
    }
}

/// A label pair, its value escaped.
pub fn label(name: &str, value: &str) -> String {
    format!("{name}=\"{}\"", esc(value))
}

impl Metrics {
    pub fn http(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests
            .entry((route.to_string(), method.to_string(), status))
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
        self.latency.entry(route.to_string()).or_default().observe(took);
    }

    /// A customer message taken in, or a reply accepted by a provider.
    pub fn message(&self, channel: &'static str, direction: &'static str) {
        self.messages.entry((channel, direction)).or_default().fetch_add(1, Ordering::Relaxed);
    }

    /// A delivery settled: `sent` or `failed`.
    pub fn send(&self, channel: &'static str, outcome: &'static str) {
        self.sends.entry((channel, outcome)).or_default().fetch_add(1, Ordering::Relaxed);
    }

    /// A customer turn committed on `channel`.
    pub fn turn(&self, channel: &'static str, took: Duration) {
        self.turns.entry(channel).or_default().observe(took);
    }

    /// What the last stuck-reply sweep found.
    pub fn set_stuck_replies(&self, count: u64) {
        self.stuck_replies.store(count, Ordering::Relaxed);
    }

    pub fn stuck_replies(&self) -> u64 {
        self.stuck_replies.load(Ordering::Relaxed)
    }

    /// A stuck reply delivered by the sweeper.
    pub fn redriven(&self) {
        self.redriven.fetch_add(1, Ordering::Relaxed);
    }

    /// Rows of `table` the retention job deleted.
    pub fn purged(&self, table: &str, rows: u64) {
        self.purged.entry(table.to_string()).or_default().fetch_add(rows, Ordering::Relaxed);
    }

    /// A conversation handed to humans.
    pub fn escalation(&self, reason: &'static str) {
        self.escalations.entry(reason).or_default().fetch_add(1, Ordering::Relaxed);
    }

    /// Model tokens and their estimated cost, for `tenant`.
    pub fn spend(&self, tenant: TenantId, tokens: u64, cost_usd: f64) {
        let entry = self.spend.entry(tenant).or_default();
        entry.0.fetch_add(tokens, Ordering::Relaxed);
        entry.1.fetch_add((cost_usd.max(0.0) * 1e6).round() as u64, Ordering::Relaxed);
    }

    /// Tenants with spend recorded in this process.
    pub fn spending_tenants(&self) -> Vec<TenantId> {
        self.spend.iter().map(|e| *e.key()).collect()
    }

    /// The text exposition of the in-process metrics, then `extra`
    /// (read at scrape time); `slugs` names the tenants.
    pub fn render(&self, extra: &Gauges, slugs: &HashMap<TenantId, String>) -> String {
        let mut out = String::new();
        out.push_str("# HELP fte_http_requests_total HTTP requests by route template, method and status.\n");
        out.push_str("# TYPE fte_http_requests_total counter\n");
        for e in self.requests.iter() {
            let (route, method, status) = e.key();
            let _ = writeln!(
                out,
                "fte_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {}",
                esc(route),
                esc(method),
                e.value().load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP fte_http_request_duration_seconds HTTP request latency by route template.\n");
        out.push_str("# TYPE fte_http_request_duration_seconds histogram\n");
        for e in self.latency.iter() {
            e.value().render(&mut out, "fte_http_request_duration_seconds", &format!("route=\"{}\"", esc(e.key())));
        }
        out.push_str("# HELP fte_channel_messages_total Customer messages in and replies accepted out, per channel.\n");
        out.push_str("# TYPE fte_channel_messages_total counter\n");
        for e in self.messages.iter() {
            let (channel, direction) = e.key();
            let _ = writeln!(
                out,
                "fte_channel_messages_total{{channel=\"{channel}\",direction=\"{direction}\"}} {}",
                e.value().load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP fte_deliveries_total Replies settled by the dispatcher, per channel and outcome.\n");
        out.push_str("# TYPE fte_deliveries_total counter\n");
        for e in self.sends.iter() {
            let (channel, outcome) = e.key();
            let _ = writeln!(
                out,
                "fte_deliveries_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} {}",
                e.value().load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP fte_stuck_replies Replies unsettled past the stuck threshold at the last sweep.\n");
        out.push_str("# TYPE fte_stuck_replies gauge\n");
        let _ = writeln!(out, "fte_stuck_replies {}", self.stuck_replies());
        out.push_str("# HELP fte_redriven_replies_total Stuck replies the sweeper delivered.\n");
        out.push_str("# TYPE fte_redriven_replies_total counter\n");
        let _ = writeln!(out, "fte_redriven_replies_total {}", self.redriven.load(Ordering::Relaxed));
        out.push_str(
            "# HELP fte_turn_duration_seconds Customer turns, message taken to decision committed, per channel.\n",
        );
        out.push_str("# TYPE fte_turn_duration_seconds histogram\n");
        for e in self.turns.iter() {
            e.value().render(&mut out, "fte_turn_duration_seconds", &label("channel", e.key()));
        }
        out.push_str("# HELP fte_escalations_total Conversations handed to humans, by reason.\n");
        out.push_str("# TYPE fte_escalations_total counter\n");
        for e in self.escalations.iter() {
            let _ = writeln!(
                out,
                "fte_escalations_total{{{}}} {}",
                label("reason", e.key()),
                e.value().load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP fte_retention_purged_rows_total Rows the retention job deleted, by table.\n");
        out.push_str("# TYPE fte_retention_purged_rows_total counter\n");
        for e in self.purged.iter() {
            let _ = writeln!(
                out,
                "fte_retention_purged_rows_total{{{}}} {}",
                label("table", e.key()),
                e.value().load(Ordering::Relaxed)
            );
        }
        let tenant = |id: &TenantId| label("tenant", slugs.get(id).map_or("unknown", String::as_str));
        out.push_str("# HELP fte_agent_tokens_total Model tokens (prompt + completion) used, per tenant.\n");
        out.push_str("# TYPE fte_agent_tokens_total counter\n");
        for e in self.spend.iter() {
            let _ =
                writeln!(out, "fte_agent_tokens_total{{{}}} {}", tenant(e.key()), e.value().0.load(Ordering::Relaxed));
        }
        out.push_str("# HELP fte_agent_cost_usd_total Estimated model cost in USD, per tenant.\n");
        out.push_str("# TYPE fte_agent_cost_usd_total counter\n");
        for e in self.spend.iter() {
            let usd = e.value().1.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "fte_agent_cost_usd_total{{{}}} {usd}", tenant(e.key()));
        }
        extra.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::default();
        m.http("/api/v1/conversations/{id}", "GET", 200, Duration::from_millis(20));
        m.http("/api/v1/conversations/{id}", "GET", 200, Duration::from_millis(700));
        m.message("email", "inbound");
        m.turn("whatsapp", Duration::from_millis(40));
        m.escalation("human_requested");
        let t = TenantId::new();
        m.spend(t, 120, 0.0015);
        let mut g = Gauges::default();
        g.add("fte_actors_resident", "gauge", "Resident actors.", String::new(), 3.0);
        g.add("fte_consumer_lag", "gauge", "Lag.", format!("{},{}", label("group", "g"), label("partition", "0")), 2.0);
        g.add("fte_consumer_lag", "gauge", "Lag.", format!("{},{}", label("group", "g"), label("partition", "1")), 0.0);
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
            )
        );
        assert!(
            text.contains(
                r#"fte_http_request_duration_seconds_bucket{route="/api/v1/conversations/{id}",le="+Inf"} 2"#
            )
        );
        assert!(text.contains(r#"fte_channel_messages_total{channel="email",direction="inbound"} 1"#));
        assert!(text.contains("fte_actors_resident 3"));
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
