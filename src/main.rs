//! The `fte` binary: parses the command line and hands over to `cli::run`.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = fte::cli::Cli::parse();
    fte::telemetry::init(cli.log_format);
    match fte::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "fatal");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
