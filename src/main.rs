//! The `fte` binary: parses the command line and hands over to `cli::run`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    fte::kb::threads::pin_before_any_thread();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
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
    })
}
