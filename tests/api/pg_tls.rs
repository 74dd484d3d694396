//! TLS to PostgreSQL (`db::connect` with `sslmode` from the URL or from
//! `DATABASE_SSL_MODE` / `DATABASE_SSL_ROOT_CERT`), against a cluster of
//! the test's own: `ssl=on`, a server certificate for `localhost` and
//! 127.0.0.1 signed by a CA the test makes with the `openssl` CLI, and TCP
//! logins over TLS only (`hostssl` in pg_hba.conf). `verify-full` with that
//! CA connects encrypted; with another CA it is refused as a certificate
//! problem, at once by `connect_waiting` too; `disable` is refused by the
//! server; `require` where the server offers no TLS (its Unix socket)
//! fails.
//!
//! The embedded wheel's PostgreSQL (`FTE_PG_BIN`) is built without
//! OpenSSL, so the cluster runs on the first installation built with it:
//! `FTE_PG_BIN`'s if it is, else Debian's (`/usr/lib/postgresql/<major>`,
//! which `make setup` installs when missing).

use crate::common::own_postgres::{as_pg, check, free_port};
use fte::config::{DatabaseSettings, DatabaseSslMode};
use fte::db::{self, DbError};
use fte::secret::Secret;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The login role `start` creates.
const ROLE: &str = "fte_tls";
const PASSWORD: &str = "fte-tls-pw";

/// The cluster, its certificates and its socket in one temporary
/// directory; stopped and removed on drop (a failed test included).
struct TlsPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    running: bool,
}

/// The first PostgreSQL installation (its `bin` directory) built with
/// OpenSSL: `FTE_PG_BIN`, then Debian's, newest first.
fn bin_with_openssl() -> PathBuf {
    let embedded =
        PathBuf::from(std::env::var("FTE_PG_BIN").expect("FTE_PG_BIN is not set: run the tests with `make test`"));
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin")))
        })
        .collect();
    debian.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    let candidates: Vec<PathBuf> = std::iter::once(embedded).chain(debian.into_iter().map(|(_, bin)| bin)).collect();
    let with_openssl = |bin: &PathBuf| {
        std::process::Command::new(bin.join("pg_config")).arg("--configure").output().is_ok_and(|o| {
            let configure = String::from_utf8_lossy(&o.stdout);
            configure.contains("--with-openssl") || configure.contains("--with-ssl=openssl")
        }) && bin.join("postgres").exists()
    };
    candidates.iter().find(|bin| with_openssl(bin)).cloned().unwrap_or_else(|| {
        panic!(
            "no PostgreSQL built with OpenSSL among {candidates:?}: install Debian's \
             (`apt-get install postgresql`, which `make setup` does)"
        )
    })
}

impl TlsPostgres {
    async fn start() -> Self {
        let bin = bin_with_openssl();
        let mktemp = check("mktemp", as_pg(Path::new("/usr/bin/mktemp"), &["-d", "/tmp/fte-pg-tls-XXXXXX"]));
        let dir = PathBuf::from(String::from_utf8(mktemp.stdout).unwrap().trim());
        let mut pg = Self { bin, dir, port: free_port(), running: false };
        pg.make_certificates();

        let data = pg.path("data");
        check(
            "initdb",
            as_pg(
                &pg.bin.join("initdb"),
                &["-D", &data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"],
            ),
        );
        // The superuser over the socket; over TCP, TLS and a password only.
        std::fs::write(
            pg.dir.join("data/pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();

        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            pg.port,
            pg.dir.display(),
            pg.path("server.crt"),
            pg.path("server.key"),
        );
        let log = pg.path("postgres.log");
        let started =
            as_pg(&pg.bin.join("pg_ctl"), &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start"]);
        pg.running = true;
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}{}\n{}",
            String::from_utf8_lossy(&started.stdout),
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );

        let admin = format!(
            "postgres://postgres@localhost/postgres?host={}&port={}&sslmode=disable",
            pg.dir.display(),
            pg.port
        );
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.expect("connect as postgres");
        sqlx::query("CREATE ROLE fte_tls LOGIN PASSWORD 'fte-tls-pw' NOSUPERUSER NOBYPASSRLS")
            .execute(&mut conn)
            .await
            .unwrap();
        pg
    }

    /// A CA, the server's key and certificate (for `localhost` and
    /// 127.0.0.1) signed by it, and a second CA that signed nothing; made
    /// as the PostgreSQL user, who must own the key.
    fn make_certificates(&self) {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
        for ca in ["ca", "other-ca"] {
            let (key, crt) = (self.path(&format!("{ca}.key")), self.path(&format!("{ca}.crt")));
            let subject = format!("/CN=fte test {ca}");
            let mut args = vec!["req", "-x509", "-keyout", &key, "-out", &crt, "-subj", &subject];
            args.extend(ec);
            args.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
            check(&format!("openssl ({ca})"), as_pg(Path::new("openssl"), &args));
        }
        let (key, crt, ca_crt, ca_key) =
            (self.path("server.key"), self.path("server.crt"), self.path("ca.crt"), self.path("ca.key"));
        let mut args = vec!["req", "-x509", "-keyout", &key, "-out", &crt, "-subj", "/CN=localhost"];
        args.extend(ec);
        args.extend(["-CA", &ca_crt, "-CAkey", &ca_key]);
        args.extend([
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "keyUsage=critical,digitalSignature",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]);
        check("openssl (server)", as_pg(Path::new("openssl"), &args));
        check("chmod", as_pg(Path::new("/bin/chmod"), &["600", &key]));
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// The role's URL over TCP to `host`, with `query` appended.
    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://{ROLE}:{PASSWORD}@{host}:{}/postgres{query}", self.port)
    }

    /// The role's URL over the Unix socket.
    fn socket_url(&self) -> String {
        format!("postgres://{ROLE}:{PASSWORD}@localhost/postgres?host={}&port={}", self.dir.display(), self.port)
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        if self.running {
            let _ = as_pg(&self.bin.join("pg_ctl"), &["-D", &self.path("data"), "-m", "immediate", "-w", "stop"]);
        }
        let _ = as_pg(Path::new("/bin/rm"), &["-rf", self.dir.to_str().unwrap_or("/nonexistent")]);
    }
}

fn settings(url: String, mode: Option<DatabaseSslMode>, root_cert: Option<String>) -> DatabaseSettings {
    DatabaseSettings {
        database_url: Secret::new(url),
        database_max_connections: 1,
        database_acquire_timeout_secs: 5,
        database_ssl_mode: mode,
        database_ssl_root_cert: root_cert.map(PathBuf::from),
    }
}

/// `connect` fails, and `connect_waiting` fails as fast (a refusal that
/// repeats, not an outage); the error's text.
async fn refused(settings: &DatabaseSettings) -> String {
    let error = match db::connect(settings).await {
        Err(e @ DbError::Connect { .. }) => e.to_string(),
        Err(e) => panic!("not a connection error: {e:?}"),
        Ok(_) => panic!("connected with {settings:?}"),
    };
    let waited = tokio::time::timeout(Duration::from_secs(10), db::connect_waiting(settings))
        .await
        .unwrap_or_else(|_| panic!("connect_waiting waits out a refusal that repeats: {error}"));
    assert!(matches!(waited, Err(DbError::Connect { .. })), "{waited:?}");
    eprintln!("refused as expected: {error}");
    error
}

#[tokio::test]
async fn verify_full_connects_encrypted_and_refuses_what_it_should() {
    let pg = TlsPostgres::start().await;
    let ca = pg.path("ca.crt");

    // verify-full from the URL, by host name.
    let query = format!("?sslmode=verify-full&sslrootcert={ca}");
    let pool = db::connect(&settings(pg.url("localhost", &query), None, None)).await.expect("verify-full with the CA");
    let ssl: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetch_one(&pool).await.unwrap();
    assert!(ssl, "the server sees no TLS on the connection");
    pool.close().await;

    // verify-full from the settings, over a URL that says `disable`, by IP
    // address.
    let by_settings =
        settings(pg.url("127.0.0.1", "?sslmode=disable"), Some(DatabaseSslMode::VerifyFull), Some(ca.clone()));
    let pool = db::connect(&by_settings).await.expect("verify-full from the settings");
    let ssl: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetch_one(&pool).await.unwrap();
    assert!(ssl, "the settings did not win over the URL's sslmode");
    pool.close().await;

    // Another CA: the server's certificate is not trusted.
    let other = settings(pg.url("localhost", ""), Some(DatabaseSslMode::VerifyFull), Some(pg.path("other-ca.crt")));
    let error = refused(&other).await;
    assert!(error.contains("certificate"), "not said to be a certificate problem: {error}");

    // No TLS: the server admits TCP logins over TLS only.
    let error = refused(&settings(pg.url("127.0.0.1", "?sslmode=disable"), None, None)).await;
    assert!(error.contains("pg_hba.conf"), "not refused by the server's rules: {error}");

    // `require` where the server offers no TLS (its Unix socket).
    let error = refused(&settings(pg.socket_url(), Some(DatabaseSslMode::Require), None)).await;
    assert!(error.contains("does not support TLS"), "{error}");
}
