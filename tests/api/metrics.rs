//! `/metrics` in the Prometheus text format, read by the official Python
//! client's parser: request counts and latency by route template (never by
//! the ids in a path), messages per channel, turn latency per channel,
//! escalations by reason, the actors' gauges and the outbox backlog; and
//! `/health`'s per-channel section.

use crate::common::TestDb;
use fte::crm::MergePolicy;
use serde_json::Value;

fn parse(text: &str) -> Vec<Value> {
    use std::io::Write;
    let python = std::env::var("FTE_PYTHON").expect("FTE_PYTHON is not set: run the tests with `make test`");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/parse_metrics.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the parser refused the exposition: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text() {
    let db = TestDb::new().await;
    let tenant = db.tenant("metrics", MergePolicy::Manual).await.id;
    let app = crate::common::start_injectable(&db, "tok", &[]).await;
    let addr = app.addr;
    let client = reqwest::Client::new();
    crate::common::inject(addr, "tok", tenant, "email", "m@example.com", "m-1", "hi").await;
    crate::common::inject(addr, "tok", tenant, "whatsapp", "+14155550100", "m-2", "I want a human").await;

    // /health: every channel listed; the two that had traffic are not idle.
    let health: Value = client.get(format!("http://{addr}/health")).send().await.unwrap().json().await.unwrap();
    let channels = health["checks"]["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 4, "{health}");
    let channel = |name: &str| channels.iter().find(|c| c["channel"] == name).unwrap().clone();
    assert_eq!(channel("slack")["status"], "idle");
    assert!(channel("email")["last_inbound_at"].is_string(), "{health}");
    assert!(channel("whatsapp")["last_inbound_at"].is_string(), "{health}");
    assert_ne!(channel("email")["status"], "idle");
    let id = uuid::Uuid::now_v7();
    for _ in 0..2 {
        client.get(format!("http://{addr}/api/v1/conversations/{id}")).send().await.unwrap();
    }
    let r = client.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let samples = parse(&r.text().await.unwrap());
    let find = |name: &str, label: Option<(&str, &str)>| -> Option<f64> {
        samples
            .iter()
            .find(|s| s["name"] == name && label.is_none_or(|(k, v)| s["labels"][k] == v))
            .map(|s| s["value"].as_f64().unwrap())
    };
    // Routes by template: the unknown conversation's id never becomes a label.
    let by_template = samples
        .iter()
        .find(|s| s["name"] == "fte_http_requests_total" && s["labels"]["route"] == "/api/v1/conversations/{id}")
        .expect("requests by route template");
    assert_eq!(by_template["labels"]["status"], "401");
    assert_eq!(by_template["value"], 2.0);
    assert!(!samples.iter().any(|s| s["labels"].to_string().contains(&id.to_string())), "an id became a label");
    assert_eq!(find("fte_http_request_duration_seconds_count", Some(("route", "/health"))), Some(1.0));
    assert_eq!(find("fte_turn_duration_seconds_count", Some(("channel", "email"))), Some(1.0));
    assert_eq!(find("fte_turn_duration_seconds_count", Some(("channel", "whatsapp"))), Some(1.0));
    assert_eq!(find("fte_escalations_total", Some(("reason", "human_requested"))), Some(1.0));
    // Spend is labelled by the tenant's slug (the echo brain uses no tokens).
    assert_eq!(find("fte_agent_tokens_total", Some(("tenant", "metrics"))), Some(0.0));
    assert_eq!(find("fte_agent_cost_usd_total", Some(("tenant", "metrics"))), Some(0.0));
    assert!(find("fte_http_request_duration_seconds_bucket", Some(("le", "+Inf"))).is_some());
    assert_eq!(find("fte_actors_resident", None), Some(2.0));
    assert!(find("fte_actors_spawned_total", None).unwrap() >= 1.0);
    assert!(find("fte_outbox_backlog", None).is_some());
    let families: std::collections::HashSet<(&str, &str)> =
        samples.iter().map(|s| (s["family"].as_str().unwrap(), s["type"].as_str().unwrap())).collect();
    assert!(families.contains(&("fte_http_requests", "counter")), "{families:?}");
    assert!(families.contains(&("fte_http_request_duration_seconds", "histogram")));
    assert!(families.contains(&("fte_turn_duration_seconds", "histogram")), "{families:?}");
    assert!(families.contains(&("fte_escalations", "counter")), "{families:?}");
    let _ = app.stop.send(());
    let _ = app.task.await;
}
