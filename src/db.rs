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
        }
    }
}

/// Begins a transaction for a system job (no tenant set).
pub async fn begin_system_job(pool: &PgPool, job: SystemJob) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('app.system_job', $1, true)").bind(job.as_str()).execute(&mut *tx).await?;
    Ok(tx)
}
