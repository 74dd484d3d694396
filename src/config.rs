//! Runtime configuration (12-factor): every setting is a flag that can also
//! come from the environment. Secrets are `Secret<String>` and never print.
//! The README's configuration table mirrors this file.

use crate::secret::Secret;
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, readable text when it is.
    Auto,
    Json,
    Pretty,
}

/// Connection to PostgreSQL (the CRM and the actors' state).
#[derive(Clone, Debug, Args)]
pub struct DatabaseSettings {
    /// PostgreSQL connection URL. The role must not be a superuser and must
    /// not bypass row-level security.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Secret<String>,

    /// Maximum connections in the pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 20)]
    pub database_max_connections: u32,

    /// Seconds to wait for a pooled connection before failing.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub database_acquire_timeout_secs: u64,
}

impl DatabaseSettings {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.database_acquire_timeout_secs)
    }
}

/// Settings of the `serve` role.
#[derive(Clone, Debug, Args)]
pub struct ServeSettings {
    #[command(flatten)]
    pub database: DatabaseSettings,

    /// Address the HTTP server listens on (port 0 picks a free port).
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,

    /// Kafka bootstrap servers (`host:port,…`). Unset: the embedded
    /// in-process bus, everything in one process.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,

    /// Milliseconds a health check waits for each dependency.
    #[arg(long, env = "HEALTH_CHECK_TIMEOUT_MS", default_value_t = 2000)]
    pub health_check_timeout_ms: u64,

    /// Seconds to drain in-flight work on SIGTERM before exiting.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    /// Run pending migrations before serving.
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = false)]
    pub migrate_on_start: bool,
}

impl ServeSettings {
    pub fn health_check_timeout(&self) -> Duration {
        Duration::from_millis(self.health_check_timeout_ms)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// The configured brokers, or `None` for the embedded bus (an empty
    /// value counts as unset).
    pub fn kafka_brokers(&self) -> Option<&str> {
        self.kafka_brokers.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
}
