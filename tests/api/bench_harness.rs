//! `fte bench` end to end, small: the same-run baselines, the closed-loop
//! maximum, an open-loop load, the cross-channel customers and the SIGKILL
//! restart, WhatsApp messages as signed Twilio webhooks through an `fte
//! api` process, against a worker of this binary on the real broker and a
//! scratch database, the webhook acknowledgement per channel (Twilio,
//! Slack, Meta, the web form) and the knowledge-base search on a grown
//! corpus. Every message must be answered once, its latency split into the
//! pipeline's hops, every webhook acknowledged, the report must
//! parse back as the harness's own types with every figure present, the
//! scratch database must be gone afterwards, and the HTML report must hold
//! its plots.

use fte::bench::report::Report;
use std::process::Command;

/// Runs `fte bench` with `args` against the test stack, its report in a
/// fresh temporary directory: that directory and what the process left.
async fn bench(args: &[&[&str]]) -> (std::path::PathBuf, std::process::Output) {
    let out = std::env::temp_dir().join(format!("fte-bench-{}", uuid::Uuid::new_v4().simple()));
    let args: Vec<String> = args.iter().flat_map(|a| a.iter().map(|s| s.to_string())).collect();
    let dir = out.display().to_string();
    let run = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_fte"))
            .arg("bench")
            .args(&args)
            .args(["--out", &dir])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DATABASE_URL", crate::common::database_url())
            .env("KAFKA_BROKERS", crate::common::kafka_brokers())
            .env("LOG_FORMAT", "json")
            .output()
            .expect("run fte bench")
    })
    .await
    .unwrap();
    (out, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_bench_run_measures_every_scenario_and_writes_its_report() {
    let (out, run) = bench(&[
        &["--brain", "echo", "--embedder", "hashing"],
        &["--scenarios", "baselines,max,steady,cross_channel,http_ingress,webhook_ack,restart,kb_search"],
        &["--kb-chunks", "1500", "--kb-searches", "40"],
        &["--customers", "16", "--messages", "2", "--in-flight", "8", "--steady-secs", "2"],
        &["--restart-customers", "12", "--baseline-secs", "1", "--reply-timeout-secs", "20"],
    ])
    .await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "fte bench failed:\n{stdout}\n{stderr}");

    let report: Report = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let pg1 = report.baselines.pg_commits_1.as_ref().expect("1-client commit baseline");
    let pg32 = report.baselines.pg_commits_32.as_ref().expect("32-client commit baseline");
    assert!(pg1.per_sec > 0.0 && pg32.per_sec > 0.0, "{:?}", report.baselines);
    assert!(report.baselines.broker_roundtrip.as_ref().is_some_and(|r| r.per_sec > 0.0));
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["max", "steady", "cross_channel", "http_ingress", "webhook_ack", "restart", "kb_search"]);
    let load = report.scenarios.iter().filter(|s| !["webhook_ack", "kb_search"].contains(&s.name.as_str()));
    for s in load {
        assert_eq!(s.errors, 0, "{}: {s:?}", s.name);
        assert_eq!(s.replies_received, s.messages_sent, "{}: every message answered once", s.name);
        let p = s.latency_ms.as_ref().expect("latency measured");
        assert!(p.p50 > 0.0 && p.p50 <= p.p99 && p.p99 <= p.max, "{}: {p:?}", s.name);
        assert!(!s.histogram.is_empty() && !s.timeline.is_empty(), "{}", s.name);
        assert_eq!(s.histogram.iter().map(|(_, n)| n).sum::<u64>(), s.replies_received, "{}", s.name);
        let hops: Vec<&str> = s.hops.iter().map(|h| h.hop.as_str()).collect();
        assert_eq!(hops, ["routed", "turn", "relayed", "delivered"], "{}", s.name);
        for h in &s.hops {
            assert!(h.replies > 0 && h.replies <= s.replies_received, "{}: {h:?}", s.name);
            assert!(h.latency_ms.p50 <= p.max, "{}: a hop is part of the whole: {h:?} vs {p:?}", s.name);
        }
    }
    let kb = &report.scenarios[6];
    let figure = |name: &str| kb.figures.iter().find(|f| f.name == name).map(|f| f.value);
    assert_eq!(figure("chunks"), Some(1500.0), "{kb:?}");
    assert_eq!((kb.replies_received, kb.errors), (40, 0), "every search found something: {kb:?}");
    assert!(figure("search p95").is_some_and(|v| v > 0.0), "{kb:?}");
    assert_eq!(report.scenarios[0].messages_sent, 32);
    assert_eq!(report.scenarios[2].messages_sent, 16, "4 customers × 4 messages across email and WhatsApp");
    assert_eq!(report.scenarios[3].messages_sent, 8, "4 WhatsApp customers × 2 webhooks");
    let restart = &report.scenarios[5];
    let served = restart.figures.iter().find(|f| f.name == "all served again after kill -9").expect("recovery time");
    assert!(served.value > 0.0);
    webhook_acks_are_measured_per_channel(&report.scenarios[4]);
    assert_eq!(report.targets.len(), 6);
    assert!(report.targets[4].measured.contains("at 1500 chunks"), "{:?}", report.targets[4]);
    assert_eq!(report.targets[4].met, Some(false), "1,500 chunks cannot meet a 100,000-chunk target");
    assert!(report.targets[0].met.is_some(), "throughput is set against the commit ceiling: {:?}", report.targets[0]);
    assert!(stdout.contains("throughput ≥ 50%"), "{stdout}");
    let acks = &report.targets[5];
    assert_eq!(acks.target, "Slack and Meta webhooks acknowledged within 1 s p99");
    assert!(acks.measured.contains("Slack p99") && acks.measured.contains("Meta WhatsApp p99"), "{acks:?}");
    assert!(acks.met.is_some(), "{acks:?}");

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3 * report.scenarios.len(), "three plots per scenario");
    assert!(html.contains("Scenario: webhook_ack") && html.contains("<th>Slack ack p99</th>"), "per-channel figures");

    // The scratch database is gone.
    let scratch = stderr
        .split_whitespace()
        .find(|w| w.starts_with("fte_bench_"))
        .expect("the harness names its scratch database")
        .to_string();
    let leftover: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&scratch)
        .fetch_one(&crate::common::TestDb::new().await.pool)
        .await
        .unwrap();
    assert_eq!(leftover, 0, "fte bench left {scratch} behind");
    let _ = std::fs::remove_dir_all(&out);
}

/// 16 customers / 4 = 4 webhooks on each of the 4 channels, every one
/// acknowledged, with the ack's percentiles per channel.
fn webhook_acks_are_measured_per_channel(s: &fte::bench::report::ScenarioResult) {
    assert_eq!(s.name, "webhook_ack");
    assert_eq!((s.messages_sent, s.replies_received, s.errors), (16, 16, 0), "{s:?}");
    let p = s.latency_ms.as_ref().expect("ack latency measured");
    assert!(p.p50 > 0.0 && p.p50 <= p.p99 && p.p99 <= p.max, "{p:?}");
    assert_eq!(s.histogram.iter().map(|(_, n)| n).sum::<u64>(), 16, "{s:?}");
    assert!(!s.timeline.is_empty());
    let figure = |name: &str| s.figures.iter().find(|f| f.name == name).map(|f| f.value);
    for channel in ["Twilio WhatsApp", "Slack", "Meta WhatsApp", "web form"] {
        let [p50, p95, p99, max] = ["p50", "p95", "p99", "max"]
            .map(|q| figure(&format!("{channel} ack {q}")).unwrap_or_else(|| panic!("{channel} ack {q}: {s:?}")));
        assert!(p50 > 0.0 && p50 <= p95 && p95 <= p99 && p99 <= max, "{channel}: {p50} {p95} {p99} {max}");
        assert_eq!(figure(&format!("{channel} ack errors")), Some(0.0), "{channel}: {s:?}");
    }
    assert!(figure("worker took every acknowledged message in").is_some(), "the worker drained: {s:?}");
}

/// The `llm` scenario on a seeded history, small: the agent brain against
/// the harness's fake model (1 s ± 0.1 s, two rounds per turn) at two
/// rates, after 2,000 customers' history is seeded into the scratch
/// database. Every message is answered through the model, and the report
/// gives the highest rate within the p99 limit and what was seeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_scenario_finds_the_highest_rate_on_a_seeded_history() {
    let (out, run) = bench(&[
        &["--brain", "agent", "--embedder", "hashing", "--scenarios", "llm"],
        &["--history", "--history-customers", "2000", "--history-messages", "6"],
        &["--llm-delay-ms", "1000", "--llm-jitter-ms", "100", "--llm-rates", "2,4", "--llm-step-secs", "3"],
        &["--reply-timeout-secs", "20"],
    ])
    .await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "fte bench failed:\n{}\n{stderr}", String::from_utf8_lossy(&run.stdout));

    let report: Report = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let history = report.history.as_ref().expect("the seeded history is reported");
    assert_eq!((history.customers, history.messages), (2000, 12_000));
    let [llm] = report.scenarios.as_slice() else { panic!("one scenario: {:?}", report.scenarios) };
    assert_eq!(llm.name, "llm");
    let figure = |name: &str| llm.figures.iter().find(|f| f.name == name).map(|f| f.value);
    let rate = figure("highest rate within the p99 limit").expect("the rate is reported");
    assert!(rate == 2.0 || rate == 4.0, "a 1 s model keeps a p99 under 3 s at a few messages/s: {llm:?}");
    assert_eq!(llm.errors, 0, "{llm:?}");
    assert_eq!(llm.replies_received, llm.messages_sent, "{llm:?}");
    assert!(figure("p99 at 2/s offered").is_some_and(|ms| ms >= 1800.0), "two model rounds of ≥ 0.9 s: {llm:?}");
    assert!(figure("model calls in flight at that rate (peak)").is_some_and(|n| n >= 1.0), "{llm:?}");
    // Two rounds per turn, for the first step's 6 messages at least.
    assert!(figure("model requests in all").is_some_and(|n| n >= 12.0), "every turn went through the model: {llm:?}");
    let _ = std::fs::remove_dir_all(&out);
}
