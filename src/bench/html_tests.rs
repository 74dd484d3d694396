//! Tests of the HTML report: the page's structure, number formatting,
//! escaping of every string from the data, and that empty or non-finite
//! data never panics nor puts `NaN`/`inf` into the page.

use super::*;
use crate::bench::report::{HistorySeeded, HopLatency, Machine, Rate, TimelinePoint};

const HOSTILE: &str = "<script>alert(1)</script>";

fn percentiles(base: f64) -> Percentiles {
    Percentiles { p50: base, p90: base * 2.0, p99: base * 4.0, p999: base * 8.0, max: base * 16.0, mean: base * 1.2 }
}

fn steady() -> ScenarioResult {
    ScenarioResult {
        name: "steady".into(),
        description: "1200 customers × 5 messages, closed loop, 64 in flight".into(),
        customers: 1200,
        messages_sent: 6000,
        replies_received: 5998,
        errors: 2,
        seconds: 15.0,
        throughput_per_sec: 400.0,
        latency_ms: Some(percentiles(12.5)),
        histogram: vec![
            (1.0, 3),
            (2.0, 40),
            (5.0, 900),
            (10.0, 3000),
            (20.0, 1500),
            (50.0, 500),
            (100.0, 50),
            (250.0, 5),
        ],
        timeline: (0..15u64)
            .map(|i| TimelinePoint { t: i as f64, replies: 380 + i * 3, p99_ms: Some(40.0 + i as f64) })
            .collect(),
        figures: vec![Figure { name: "RSS per resident conversation".into(), value: 5321.7, unit: "bytes".into() }],
        hops: vec![HopLatency { hop: "turn".into(), replies: 5998, latency_ms: percentiles(9.0) }],
    }
}

fn hostile() -> ScenarioResult {
    ScenarioResult {
        name: HOSTILE.into(),
        description: "a & b \"quoted\" 'single' <b>".into(),
        customers: 10,
        messages_sent: 10,
        replies_received: 9,
        errors: 1,
        seconds: 4.0,
        throughput_per_sec: 2.25,
        latency_ms: Some(percentiles(3.0)),
        histogram: vec![(8.0, 0), (4.0, 5), (16.0, 4)],
        timeline: vec![
            TimelinePoint { t: 0.0, replies: 3, p99_ms: Some(5.0) },
            TimelinePoint { t: 1.0, replies: 2, p99_ms: Some(7.0) },
            TimelinePoint { t: 2.0, replies: 0, p99_ms: None },
            TimelinePoint { t: 3.0, replies: 4, p99_ms: Some(9.0) },
        ],
        figures: vec![Figure { name: HOSTILE.into(), value: 1.0, unit: "<u>".into() }],
        hops: vec![HopLatency { hop: HOSTILE.into(), replies: 9, latency_ms: percentiles(1.0) }],
    }
}

fn report() -> Report {
    Report {
        started_at: "2025-06-01T12:00:00Z".into(),
        machine: Machine {
            cpus: 2,
            memory_bytes: 8 << 30,
            kernel: "Linux 6.8 <x>".into(),
            profile: "release".into(),
            postgres_version: "16.3".into(),
            broker: "localhost:9092".into(),
        },
        baselines: Baselines {
            pg_commits_1: Some(Rate {
                per_sec: 250.0,
                operations: 2500,
                seconds: 10.0,
                latency_ms: Some(percentiles(3.9)),
            }),
            pg_commits_32: Some(Rate { per_sec: 800.0, operations: 8000, seconds: 10.0, latency_ms: None }),
            broker_roundtrip: None,
        },
        history: Some(HistorySeeded { customers: 200_000, messages: 2_000_000, seconds: 71.5 }),
        scenarios: vec![steady(), hostile()],
        targets: vec![
            TargetCheck {
                target: "throughput ≥ 50% of ceiling".into(),
                measured: "400/s = 50%".into(),
                met: Some(true),
            },
            TargetCheck { target: "p99 < 100 ms".into(), measured: "120 ms".into(), met: Some(false) },
            TargetCheck { target: "restart < 10 s".into(), measured: HOSTILE.into(), met: None },
        ],
    }
}

fn assert_finite_text(html: &str) {
    assert!(!html.contains("NaN"), "NaN in the page");
    assert!(!html.contains("inf"), "inf in the page");
}

#[test]
fn renders_one_self_contained_page() {
    let html = render(&report());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.ends_with("</html>\n"));
    for external in ["<script", "<link", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(external), "page contains {external}");
    }
    assert!(html.contains("2025-06-01T12:00:00Z"));
    assert!(html.contains("only comparable to the baselines"));
}

#[test]
fn draws_three_plots_per_scenario() {
    let html = render(&report());
    assert_eq!(html.matches("<section>").count(), 2);
    assert_eq!(html.matches("<svg").count(), 6);
    for title in ["Latency histogram", "Throughput over time", "p99 latency over time"] {
        assert_eq!(html.matches(&format!(">{title}</text>")).count(), 2, "{title}");
    }
    // 8 + 2 non-empty buckets; the hostile p99 line is broken by its gap.
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 10);
    assert_eq!(html.matches("<polyline").count(), 2 + 2);
    assert!(html.contains("<circle"));
    assert!(html.contains("latency, ms (log scale)"));
}

#[test]
fn formats_numbers() {
    let html = render(&report());
    for expected in [
        "<td>1,200</td>",
        "<td>6,000</td>",
        "<td>5,998</td>",
        "<td>400 replies/s</td>",
        "<td>50.0% of 800/s</td>",
        "<td>0.28% of 800/s</td>",
        "<td>12.5 ms</td>",
        "<td>200 ms</td>",
        "<td class=\"n\">5,322</td>",
        "<td>8.00 GiB</td>",
        "250 commits/s",
        "<td class=\"n\">2,500</td>",
        "<td class=\"n\">3.90</td>",
    ] {
        assert!(html.contains(expected), "missing {expected}");
    }
}

#[test]
fn escapes_every_string_from_the_data() {
    let html = render(&report());
    assert!(!html.contains(HOSTILE));
    assert!(!html.contains("<u>") && !html.contains("<x>") && !html.contains("<b>"));
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    // Scenario heading, figure name, hop name, target's measured value.
    assert_eq!(html.matches(escaped).count(), 4);
    assert!(html.contains("a &amp; b &quot;quoted&quot; &#39;single&#39; &lt;b&gt;"));
    assert!(html.contains("Linux 6.8 &lt;x&gt;"));
    assert!(html.contains("&lt;u&gt;"));
}

#[test]
fn shows_targets_and_missing_baselines() {
    let html = render(&report());
    assert!(html.contains("<td class=\"ok\" title=\"met\">✓</td>"));
    assert!(html.contains("<td class=\"bad\" title=\"missed\">✗</td>"));
    assert!(html.contains("<td class=\"none\" title=\"not measured\">—</td>"));
    assert_eq!(html.matches(">not measured</td>").count(), 1, "only the broker baseline is missing");
}

#[test]
fn says_which_history_was_seeded() {
    assert!(render(&report()).contains("200,000 customers, 2,000,000 messages (seeded in 71.5 s)"));
    assert!(render(&Report::default()).contains("none seeded"));
}

#[test]
fn empty_report_renders() {
    let html = render(&Report::default());
    assert_eq!(html.matches(">not measured</td>").count(), 3);
    assert!(html.contains("No scenario ran."));
    assert!(html.contains("No target was checked."));
    assert!(!html.contains("<svg"));
    assert_finite_text(&html);
}

#[test]
fn empty_scenario_shows_no_data_frames() {
    let report = Report { scenarios: vec![ScenarioResult::default()], ..Report::default() };
    let html = render(&report);
    assert_eq!(html.matches("<svg").count(), 3);
    assert_eq!(html.matches(">no data</text>").count(), 3);
    assert!(html.contains("32-client commit baseline not measured"));
    assert_finite_text(&html);
}

#[test]
fn non_finite_data_never_reaches_the_page() {
    let bad = Percentiles { p50: f64::NAN, p90: f64::INFINITY, p99: f64::NEG_INFINITY, ..Percentiles::default() };
    let rate = Rate { per_sec: f64::NAN, operations: 1, seconds: f64::INFINITY, latency_ms: Some(bad.clone()) };
    let scenario = ScenarioResult {
        name: "bad".into(),
        seconds: f64::INFINITY,
        throughput_per_sec: f64::NAN,
        latency_ms: Some(bad),
        histogram: vec![(f64::INFINITY, 5), (f64::NAN, 3), (1.0, u64::MAX), (1e300, 1)],
        timeline: vec![
            TimelinePoint { t: f64::NAN, replies: 1, p99_ms: Some(1.0) },
            TimelinePoint { t: 1.0, replies: u64::MAX, p99_ms: Some(f64::INFINITY) },
            TimelinePoint { t: 2.0, replies: 0, p99_ms: Some(f64::NAN) },
        ],
        figures: vec![Figure { name: "x".into(), value: f64::NEG_INFINITY, unit: "s".into() }],
        ..ScenarioResult::default()
    };
    let report = Report {
        baselines: Baselines {
            pg_commits_1: Some(rate.clone()),
            pg_commits_32: Some(Rate { per_sec: f64::INFINITY, ..rate }),
            broker_roundtrip: None,
        },
        scenarios: vec![scenario],
        ..Report::default()
    };
    let html = render(&report);
    assert_finite_text(&html);
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(html.contains("32-client commit baseline not measured"), "an infinite ceiling is no ceiling");
}

#[test]
fn single_points_and_single_buckets_render() {
    let scenario = ScenarioResult {
        histogram: vec![(0.0, 4)],
        timeline: vec![TimelinePoint { t: 7.0, replies: 0, p99_ms: Some(0.0) }],
        ..ScenarioResult::default()
    };
    let html = render(&Report { scenarios: vec![scenario], ..Report::default() });
    assert_eq!(html.matches("<circle").count(), 2);
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 1);
    assert!(html.contains("latency, ms</text>"), "a zero bound forces a linear axis");
    assert_finite_text(&html);
}

#[test]
fn formats_helpers() {
    assert_eq!(num(0.0), "0.00");
    assert_eq!(num(1.23456), "1.23");
    assert_eq!(num(12.345), "12.3");
    assert_eq!(num(412.4), "412");
    assert_eq!(num(1234.4), "1,234");
    assert_eq!(num(-1234567.0), "-1,234,567");
    assert_eq!(num(f64::NAN), "—");
    assert_eq!(count(0), "0");
    assert_eq!(count(999), "999");
    assert_eq!(count(1000), "1,000");
    assert_eq!(short(0.0), "0");
    assert_eq!(short(0.005), "0.005");
    assert_eq!(short(0.2), "0.2");
    assert_eq!(short(2.5), "2.5");
    assert_eq!(short(40.0), "40");
    assert_eq!(short(1500.0), "1.5k");
    assert_eq!(short(2e6), "2M");
    assert_eq!(short(f64::INFINITY), "—");
    assert_eq!(esc("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
}

/// Writes the sample page to `target/bench-report-sample.html` for a human
/// to open.
#[test]
fn writes_a_sample_page() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir).unwrap();
    let mut report = report();
    report.baselines.broker_roundtrip =
        Some(Rate { per_sec: 5120.0, operations: 51200, seconds: 10.0, latency_ms: Some(percentiles(1.1)) });
    report.scenarios.push(ScenarioResult { name: "idle_customers".into(), ..ScenarioResult::default() });
    std::fs::write(dir.join("bench-report-sample.html"), render(&report)).unwrap();
}
