//! The load harness's report: what one `fte bench` run measured —
//! the machine, the same-run baselines (the machine's own ceilings), and
//! each scenario's throughput, latency percentiles and histogram, progress
//! over time and extra figures — written as JSON, and rendered as HTML by
//! [`super::html`].

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// RFC 3339, when the run started.
    pub started_at: String,
    pub machine: Machine,
    pub baselines: Baselines,
    /// The history seeded before the scenarios (`--history`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HistorySeeded>,
    pub scenarios: Vec<ScenarioResult>,
    /// The performance targets and whether this run met them.
    pub targets: Vec<TargetCheck>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub memory_bytes: u64,
    pub kernel: String,
    /// `release` or `debug`: the build the harness and the runtime run.
    pub profile: String,
    pub postgres_version: String,
    /// The broker the run used (its bootstrap address).
    pub broker: String,
}

/// What `--history` seeded, and how long it took.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistorySeeded {
    pub customers: u64,
    pub messages: u64,
    pub seconds: f64,
}

/// The machine's own ceilings, measured in the same run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Baselines {
    /// Single-row INSERT, one commit each, `synchronous_commit=on`, 1 client.
    pub pg_commits_1: Option<Rate>,
    /// The same with 32 concurrent clients.
    pub pg_commits_32: Option<Rate>,
    /// Raw broker round trip: records produced (idempotent, acks=all, the
    /// runtime's producer settings) and consumed back, per second.
    pub broker_roundtrip: Option<Rate>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub per_sec: f64,
    /// Operations counted.
    pub operations: u64,
    pub seconds: f64,
    /// Latency of one operation, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Percentiles>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// The percentiles of `h`, whose values are in units of which `unit_per_ms`
/// make one millisecond (1000.0 for a histogram of microseconds). An empty
/// histogram gives all zeros.
pub fn percentiles(h: &hdrhistogram::Histogram<u64>, unit_per_ms: f64) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let at = |q: f64| h.value_at_quantile(q) as f64 / unit_per_ms;
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        max: h.max() as f64 / unit_per_ms,
        mean: h.mean() / unit_per_ms,
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// `steady`, `burst`, `idle_customers`, `restart`, `cross_channel`, …
    pub name: String,
    /// What was asked: e.g. "200 customers × 5 messages, closed loop, 64 in flight".
    pub description: String,
    pub customers: u64,
    pub messages_sent: u64,
    pub replies_received: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Replies per second over the measured window.
    pub throughput_per_sec: f64,
    /// End to end: inbound produced → its reply seen.
    pub latency_ms: Option<Percentiles>,
    /// Latency histogram: (upper bound in ms, count) per bucket.
    pub histogram: Vec<(f64, u64)>,
    /// One point per second of the run.
    pub timeline: Vec<TimelinePoint>,
    /// Scenario-specific figures (RSS per resident actor, recovery time, …).
    #[serde(default)]
    pub figures: Vec<Figure>,
    /// End-to-end latency split into the pipeline's hops (see
    /// [`super::hops`]).
    #[serde(default)]
    pub hops: Vec<HopLatency>,
}

/// One hop of the pipeline, over the replies whose stamps covered it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HopLatency {
    pub hop: String,
    pub replies: u64,
    pub latency_ms: Percentiles,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the scenario started.
    pub t: f64,
    /// Replies received during this second.
    pub replies: u64,
    /// p99 latency (ms) of the replies received during this second.
    pub p99_ms: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    pub target: String,
    /// The measured value, in words and numbers ("412/s = 61% of 676/s").
    pub measured: String,
    /// None when the run could not measure it.
    pub met: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_in_milliseconds_and_ordered() {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap(); // 1 ms … 1000 ms, in µs
        }
        let p = percentiles(&h, 1000.0);
        assert!((p.p50 - 500.0).abs() < 1.0, "{p:?}");
        assert!((p.p99 - 990.0).abs() < 1.0, "{p:?}");
        assert!((p.max - 1000.0).abs() < 1.0, "{p:?}");
        assert!((p.mean - 500.5).abs() < 1.0, "{p:?}");
        assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max, "{p:?}");
    }

    #[test]
    fn an_empty_histogram_gives_zeros() {
        let h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        assert_eq!(percentiles(&h, 1000.0), Percentiles::default());
    }
}
