//! PostgreSQL access: the connection pool (with TLS as `sslmode` says: the
//! URL's, or `DATABASE_SSL_MODE` over it), the embedded migrations, the
//! start-up check that the service's role cannot bypass row-level security,
//! and tenant-scoped transactions. Every query on tenant data runs inside a
//! transaction opened by `begin_tenant`, which sets `app.tenant_id` for that
//! transaction only; the RLS policies in `migrations/` read it.

use crate::config::{DatabaseSettings, DatabaseSslMode};
use crate::domain::TenantId;
use crate::secret::redact_url;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres, Transaction};
use std::path::{Path, PathBuf};
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
        "cannot use {} as the certificate authorities of PostgreSQL's TLS \
         (DATABASE_SSL_ROOT_CERT or the URL's sslrootcert): {reason}",
        path.display()
    )]
    RootCert { path: PathBuf, reason: String },
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
    let options = connect_options(settings)?;
    Ok(PgPoolOptions::new()
        .max_connections(settings.database_max_connections)
        .acquire_timeout(settings.acquire_timeout())
        .connect_lazy_with(options.application_name("fte")))
}

/// The URL's connection options with the TLS settings over its `sslmode`
/// and `sslrootcert`. When the mode checks the server's certificate, the
/// CA file must hold a certificate now: read at connection time, a missing
/// file would look like an outage and be waited out.
fn connect_options(settings: &DatabaseSettings) -> Result<PgConnectOptions, DbError> {
    let url = settings.database_url.expose();
    let mut options =
        PgConnectOptions::from_str(url).map_err(|source| DbError::Url { url: redact_url(url), source })?;
    if let Some(mode) = settings.database_ssl_mode {
        options = options.ssl_mode(pg_ssl_mode(mode));
    }
    let root_cert = match &settings.database_ssl_root_cert {
        Some(path) => {
            options = options.ssl_root_cert(path);
            Some(path.clone())
        }
        None => url_root_cert(url),
    };
    if matches!(options.get_ssl_mode(), PgSslMode::VerifyCa | PgSslMode::VerifyFull)
        && let Some(path) = root_cert
    {
        check_root_cert(&path)?;
    }
    Ok(options)
}

fn pg_ssl_mode(mode: DatabaseSslMode) -> PgSslMode {
    match mode {
        DatabaseSslMode::Disable => PgSslMode::Disable,
        DatabaseSslMode::Prefer => PgSslMode::Prefer,
        DatabaseSslMode::Require => PgSslMode::Require,
        DatabaseSslMode::VerifyCa => PgSslMode::VerifyCa,
        DatabaseSslMode::VerifyFull => PgSslMode::VerifyFull,
    }
}

/// The CA file a URL names (`sslrootcert`, or sqlx's spellings
/// `ssl-root-cert` and `ssl-ca`; the last one counts, as in sqlx).
fn url_root_cert(url: &str) -> Option<PathBuf> {
    let (_, query) = url.split_once('?')?;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| matches!(&**key, "sslrootcert" | "ssl-root-cert" | "ssl-ca"))
        .map(|(_, value)| PathBuf::from(&*value))
        .last()
}

/// Fails unless `path` is a readable PEM file with at least one certificate.
fn check_root_cert(path: &Path) -> Result<(), DbError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let fail = |reason: String| DbError::RootCert { path: path.to_path_buf(), reason };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in it".to_string()));
    }
    Ok(())
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
/// that would repeat (bad credentials, no such database, a server
/// certificate that is not trusted, no TLS where the mode requires it)
/// fails at once.
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
    /// The runtime: finds customers erased, to stop their actors (read-only).
    ErasureWatch,
    /// The retention purge: deletes what is past each tenant's retention.
    Retention,
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
            SystemJob::ErasureWatch => "erasure_watch",
            SystemJob::Retention => "retention",
        }
    }
}

/// Begins a transaction for a system job (no tenant set).
pub async fn begin_system_job(pool: &PgPool, job: SystemJob) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    mark_system_job(&mut tx, job).await?;
    Ok(tx)
}

/// Marks the open transaction on `conn` as the system job's.
pub async fn mark_system_job(conn: &mut sqlx::PgConnection, job: SystemJob) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('app.system_job', $1, true)").bind(job.as_str()).execute(conn).await?;
    Ok(())
}

/// Whether a database failure is worth waiting out: the server or the
/// network is away or busy (pool time-outs, lost connections, a server
/// shutting down or starting, too many connections, serialization or
/// deadlock aborts). Anything else (a constraint, a type, a bug in a
/// statement, TLS that cannot be set up) fails the same way again on a
/// healthy server.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Io(io) => !is_tls_refusal(io),
        sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_sqlstate(&code)),
        _ => false,
    }
}

/// Whether an I/O error is the TLS handshake refused: the server's
/// certificate is not trusted or not for this host, or the two sides share
/// no protocol or cipher. (`sqlx::Error::Tls` covers the rest of TLS set-up:
/// a server without TLS where the mode requires it, a CA file that does not
/// parse.)
fn is_tls_refusal(error: &std::io::Error) -> bool {
    use rustls::Error as Tls;
    error.get_ref().and_then(|e| e.downcast_ref::<Tls>()).is_some_and(|e| {
        matches!(
            e,
            Tls::InvalidCertificate(_)
                | Tls::NoCertificatesPresented
                | Tls::UnsupportedNameType
                | Tls::InvalidCertRevocationList(_)
                | Tls::PeerIncompatible(_)
                | Tls::AlertReceived(_)
        )
    })
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

    #[test]
    fn tls_that_cannot_be_set_up_is_not_transient() {
        let untrusted = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, untrusted);
        assert!(!is_transient(&sqlx::Error::Io(io)));
        assert!(!is_transient(&sqlx::Error::Tls("server does not support TLS".into())));
        let garbled = std::io::Error::new(std::io::ErrorKind::InvalidData, "garbled");
        assert!(is_transient(&sqlx::Error::Io(garbled)));
    }

    fn settings(url: &str, mode: Option<DatabaseSslMode>, root_cert: Option<&str>) -> DatabaseSettings {
        DatabaseSettings {
            database_url: url.parse().unwrap(),
            database_max_connections: 1,
            database_acquire_timeout_secs: 1,
            database_ssl_mode: mode,
            database_ssl_root_cert: root_cert.map(PathBuf::from),
        }
    }

    #[test]
    fn the_ssl_settings_override_the_url() {
        let url = "postgres://u:p@db.example/fte?sslmode=require&application_name=x";
        let mode = |s: &DatabaseSettings| connect_options(s).unwrap().get_ssl_mode();
        assert!(matches!(mode(&settings("postgres://u:p@db.example/fte", None, None)), PgSslMode::Prefer));
        assert!(matches!(mode(&settings(url, None, None)), PgSslMode::Require));
        assert!(matches!(mode(&settings(url, Some(DatabaseSslMode::Disable), None)), PgSslMode::Disable));
        let err = connect_options(&settings("postgres://u:p@db.example/fte?sslmode=sometimes", None, None));
        assert!(matches!(err, Err(DbError::Url { .. })), "{err:?}");
    }

    #[test]
    fn a_ca_file_that_verification_needs_must_hold_a_certificate() {
        let missing = "/nonexistent/fte-ca.pem";
        let err =
            connect_options(&settings("postgres://db.example/fte", Some(DatabaseSslMode::VerifyFull), Some(missing)))
                .unwrap_err()
                .to_string();
        assert!(err.contains(missing) && err.contains("DATABASE_SSL_ROOT_CERT"), "{err}");
        let url = format!("postgres://db.example/fte?sslmode=verify-ca&sslrootcert={missing}");
        assert!(matches!(connect_options(&settings(&url, None, None)), Err(DbError::RootCert { .. })));
        // Not read by a mode that does not verify.
        assert!(connect_options(&settings(&url, Some(DatabaseSslMode::Require), None)).is_ok());
        let not_pem = std::env::temp_dir().join(format!("fte-not-a-ca-{}.pem", std::process::id()));
        std::fs::write(&not_pem, "hello").unwrap();
        let err =
            connect_options(&settings("postgres://db.example/fte", Some(DatabaseSslMode::VerifyCa), not_pem.to_str()));
        std::fs::remove_file(&not_pem).unwrap();
        assert!(
            matches!(err, Err(DbError::RootCert { ref reason, .. }) if reason.contains("no PEM certificate")),
            "{err:?}"
        );
    }

    #[test]
    fn the_url_names_its_ca_file() {
        assert_eq!(
            url_root_cert("postgres://h/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"),
            Some("/etc/ca.pem".into())
        );
        assert_eq!(url_root_cert("postgres://h/d?ssl-ca=/a&sslrootcert=/b"), Some("/b".into()));
        assert_eq!(url_root_cert("postgres://h/d?sslmode=require"), None);
        assert_eq!(url_root_cert("postgres://h/d"), None);
    }
}
