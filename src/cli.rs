//! The command line: one binary, a subcommand per role. Every flag can also
//! be given through the environment variable named in `--help`.

use crate::app::{self, StartupError};
use crate::config::{DatabaseSettings, LogFormat, ServeSettings};
use crate::db;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "fte", version, about = "Customer-success agent runtime")]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every role in one process: HTTP API and health endpoints (more
    /// roles arrive with the actor runtime and the Kafka pipeline).
    Serve(ServeSettings),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseSettings),
}

pub async fn run(cli: Cli) -> Result<(), StartupError> {
    match cli.command {
        Command::Serve(settings) => app::serve(settings).await,
        Command::Migrate(settings) => {
            let pool = db::connect(&settings).await?;
            db::migrate(&pool).await?;
            tracing::info!(applied = db::MIGRATOR.iter().count(), "migrations up to date");
            Ok(())
        }
    }
}
