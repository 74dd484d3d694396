//! Issue #5's acceptance figures, kept from regressing: `fte eval` on the
//! 60 sample tickets with the offline default (local brain, MiniLM) meets
//! action ≥ 0.95, reason ≥ 0.95 (on escalations), answer ≥ 0.90 off WhatsApp
//! (≥ 0.50 on WhatsApp, whose answers #6 cuts to 297 characters), no format
//! violation and every returning customer recognised. The eval runs the
//! live path against its own scratch database, which it drops afterwards.

use crate::common::{context_dir, database_url};
use fte::config::{DatabaseSettings, EmbedderKind, EmbedderSettings};
use fte::eval::{self, EvalArgs};
use fte::secret::Secret;

#[tokio::test]
async fn sample_tickets_meet_the_acceptance_figures() {
    let args = EvalArgs {
        database: DatabaseSettings {
            database_url: Secret::new(database_url()),
            database_max_connections: 4,
            database_acquire_timeout_secs: 10,
            database_ssl_mode: None,
            database_ssl_root_cert: None,
        },
        tickets: context_dir().join("sample-tickets.json"),
        kb: context_dir().join("product-docs"),
        json: true,
        keep_db: false,
        retrieval: false,
        embedder: EmbedderSettings {
            embedder: EmbedderKind::Minilm,
            minilm_dir: None,
            openai_base_url: "http://127.0.0.1:9/v1".into(),
            openai_embedding_model: "unused".into(),
            openai_api_key: None,
        },
    };
    let report = eval::run(&args).await.expect("eval runs");
    report.print_lines();
    let s = &report.summary;
    assert_eq!(s.tickets, 60);
    assert!(s.action_accuracy >= 0.95, "action accuracy {}", s.action_accuracy);
    assert!(s.reason_accuracy >= 0.95, "reason accuracy {}", s.reason_accuracy);
    // WhatsApp answers are cut to 297 characters since #6 (seed 000 IX),
    // so a WhatsApp ticket whose expected facts span more than one short
    // message misses some (the customer is offered "Reply for more help").
    // The other channels keep #5's bar; WhatsApp has its own floor.
    let share = |whatsapp: bool| {
        let lines: Vec<_> = report.lines.iter().filter(|l| (l.channel == "whatsapp") == whatsapp).collect();
        lines.iter().filter(|l| l.answer_ok).count() as f64 / lines.len().max(1) as f64
    };
    assert!(share(false) >= 0.90, "answer accuracy off WhatsApp {}", share(false));
    assert!(share(true) >= 0.50, "answer accuracy on WhatsApp {}", share(true));
    assert!(s.answer_accuracy >= 0.80, "answer accuracy {}", s.answer_accuracy);
    assert_eq!(s.format_violations, 0);
    assert!(s.returning_customers > 0);
    assert_eq!(s.identity_accuracy, 1.0);
}
