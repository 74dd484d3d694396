//! Logging set-up: `tracing` with an `RUST_LOG` filter, JSON lines when not
//! on a terminal (collectors parse them), readable text on a terminal.
//! Spans carry `tenant_id`, `customer_id`, `conversation_id` and `channel`
//! where known; JSON output includes the current span's fields. Logs go to
//! standard error, so a command's own output (standard output) stays clean.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, from `main`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.init();
    }
}
