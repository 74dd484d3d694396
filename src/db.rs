//! PostgreSQL access: the connection pool, the embedded migrations, the
//! start-up check that the service's role cannot bypass row-level security,
//! and tenant-scoped transactions. Every query on tenant data runs inside a
//! transaction opened by `begin_tenant`, which sets `app.tenant_id` for that
//! transaction only; the RLS policies in `migrations/` read it.

use crate::config::DatabaseSettings;
use crate::domain::TenantId;
use crate::secret::redact_url;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid DATABASE_URL ({url}): {source}")]
    Url { url: String, source: sqlx::Error },
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error(
        "database role {role:?} is a superuser or bypasses row-level security; \
         tenant isolation would be off. Connect as an ordinary role (NOSUPERUSER NOBYPASSRLS)"
    )]
    PrivilegedRole { role: String },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Opens the pool (lazily: connections are made on first use, so a
/// database that is down at start-up shows in `/health` instead of
/// crashing the process).
pub fn pool(settings: &DatabaseSettings) -> Result<PgPool, DbError> {
    let url = settings.database_url.expose();
    let options = PgConnectOptions::from_str(url).map_err(|source| DbError::Url { url: redact_url(url), source })?;
    Ok(PgPoolOptions::new()
        .max_connections(settings.database_max_connections)
        .acquire_timeout(settings.acquire_timeout())
        .connect_lazy_with(options.application_name("fte")))
}

/// Connects eagerly: for commands that cannot do anything without the
/// database (`migrate`).
pub async fn connect(settings: &DatabaseSettings) -> Result<PgPool, DbError> {
    let pool = pool(settings)?;
    pool.acquire()
        .await
        .map_err(|source| DbError::Connect { url: redact_url(settings.database_url.expose()), source })?;
    Ok(pool)
}

/// Connects like [`connect`], waiting for a database that is away (not
/// started yet, restarting, unreachable) instead of failing: a process
/// started during an outage serves once the database is back. A refusal
/// that would repeat (bad credentials, no such database) fails at once.
pub async fn connect_waiting(settings: &DatabaseSettings) -> Result<PgPool, DbError> {
    let mut patience = Patience::new(std::time::Duration::from_millis(250));
    loop {
        match connect(settings).await {
            Err(DbError::Connect { url, source }) if is_transient(&source) => {
                tracing::warn!(%url, error = %source, retry_in_ms = patience.next().as_millis() as u64, "PostgreSQL unavailable; waiting");
                patience.wait().await;
            }
            other => return other,
        }
    }
}

/// The wait between attempts at a database step that waits out an
/// outage: doubling from the first, at most 5 s.
pub struct Patience {
    next: std::time::Duration,
}

impl Patience {
    pub fn new(first: std::time::Duration) -> Self {
        Self { next: first }
    }

    /// The wait the next [`Patience::wait`] sleeps.
    pub fn next(&self) -> std::time::Duration {
        self.next
    }

    /// Sleeps, then doubles the next wait (up to 5 s).
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(std::time::Duration::from_secs(5));
    }
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Fails if the connected role would not be subject to row-level security.
pub async fn ensure_unprivileged_role(pool: &PgPool) -> Result<(), DbError> {
    let (role, superuser, bypass): (String, bool, bool) =
        sqlx::query_as("SELECT rolname::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(pool)
            .await?;
    if superuser || bypass {
        return Err(DbError::PrivilegedRole { role });
    }
    Ok(())
}

/// Begins a transaction in which only `tenant`'s rows are visible or
/// writable (the setting is transaction-local, so a pooled connection never
/// carries it into someone else's transaction).
pub async fn begin_tenant(pool: &PgPool, tenant: TenantId) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(tenant.to_string()).execute(&mut *tx).await?;
    Ok(tx)
}

/// The runtime's background jobs that work across tenants. Each has a
/// row-level-security policy of its own that grants exactly what it needs
/// (see `migrations/*_conversation_runtime.sql`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemJob {
    /// Reads and marks every tenant's outbox rows.
    OutboxRelay,
    /// Reads conversations to find inactive ones.
    InactivitySweeper,
    /// Webhook ingress: finds the tenant owning a channel account.
    ChannelRouting,
    /// The dispatcher at start-up: finds replies committed but never sent.
    DispatcherRecovery,
    /// The admin API: finds an API key by its prefix, creates keys.
    ApiAuth,
    /// `/health`: per-channel message aggregates across tenants (read-only).
    HealthProbe,
    /// The admin API: lists every tenant for a global admin key (read-only).
    TenantDirectory,
    /// Embedded mode at start-up: reads the messages a crash left in the
    /// intake (read-only).
    IntakeRecovery,
}

impl SystemJob {
    fn as_str(&self) -> &'static str {
        match self {
            SystemJob::OutboxRelay => "outbox_relay",
            SystemJob::InactivitySweeper => "inactivity_sweeper",
            SystemJob::ChannelRouting => "channel_routing",
            SystemJob::DispatcherRecovery => "dispatcher_recovery",
            SystemJob::ApiAuth => "api_auth",
            SystemJob::HealthProbe => "health_probe",
            SystemJob::TenantDirectory => "tenant_directory",
            SystemJob::IntakeRecovery => "intake_recovery",
        }
    }
}

/// Begins a transaction for a system job (no tenant set).
pub async fn begin_system_job(pool: &PgPool, job: SystemJob) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('app.system_job', $1, true)").bind(job.as_str()).execute(&mut *tx).await?;
    Ok(tx)
}

/// Whether a database failure is worth waiting out: the server or the
/// network is away or busy (pool time-outs, lost connections, a server
/// shutting down or starting, too many connections, serialization or
/// deadlock aborts). Anything else (a constraint, a type, a bug in a
/// statement) fails the same way again on a healthy server.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_sqlstate(&code)),
        _ => false,
    }
}

/// SQLSTATE classes and codes of failures that pass: 08 connection
/// exception, 53 insufficient resources, 57P01–57P03 shutdown / cannot
/// connect now, 40001 serialization failure, 40P01 deadlock, 55P03 lock not
/// available, 57014 query cancelled (a statement time-out).
fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40003" | "40P01" | "55P03" | "57014")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_transient_and_bad_statements_are_not() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
        for code in ["08006", "08001", "53300", "57P01", "57P03", "40001", "40P01"] {
            assert!(transient_sqlstate(code), "{code}");
        }
        for code in ["22021", "23505", "42P01", "42703", "XX000"] {
            assert!(!transient_sqlstate(code), "{code}");
        }
    }
}
