//! The `serve` and `migrate` roles as an operator meets them: `/health`
//! reports PostgreSQL and the broker, `/ready` flips off on shutdown, the
//! binary stops cleanly on SIGTERM, and refuses a database role that would
//! switch tenant isolation off.

use crate::common::{TestDb, kafka_brokers};
use fte::app::App;
use fte::config::ServeSettings;
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// `serve`'s settings as the command line would give them (defaults for
/// everything not named here; flags win over the environment). Topics get a
/// prefix of their own.
fn settings(db: &TestDb, kafka: Option<String>) -> ServeSettings {
    let kafka = kafka.unwrap_or_default();
    let prefix = format!("s{}.", uuid::Uuid::new_v4().simple());
    let args = [
        "--database-url",
        &db.url,
        "--http-addr",
        "127.0.0.1:0",
        "--kafka-brokers",
        &kafka,
        "--kafka-topic-prefix",
        &prefix,
        "--health-check-timeout-ms",
        "1500",
        "--shutdown-timeout-secs",
        "5",
    ];
    crate::common::serve_settings(&args)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let resp = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn health_reports_postgres_and_the_broker() {
    let db = TestDb::new().await;
    let crate::common::RunningApp { addr, stop, task: server } =
        crate::common::start_app(&settings(&db, Some(kafka_brokers()))).await;

    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["postgres"]["status"], "ok");
    assert!(body["checks"]["postgres"]["detail"]["server_version"].as_str().unwrap().starts_with("18"));
    assert_eq!(body["checks"]["kafka"]["status"], "ok", "{body}");
    assert!(body["checks"]["kafka"]["detail"]["brokers"].as_u64().unwrap() >= 1);

    let (status, body) = get(addr, "/ready").await;
    assert_eq!((status, &body["ready"]), (200, &Value::Bool(true)));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(reqwest::get(format!("http://{addr}/health")).await.is_err(), "still listening after shutdown");
}

#[tokio::test]
async fn health_without_a_broker_says_not_configured() {
    let db = TestDb::new().await;
    let running = crate::common::start_app(&settings(&db, None)).await;
    let addr = running.addr;
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["kafka"]["status"], "not_configured");
}

#[tokio::test]
async fn health_is_503_when_the_broker_is_unreachable() {
    let db = TestDb::new().await;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let running = crate::common::start_app(&settings(&db, Some(closed.to_string()))).await;
    let addr = running.addr;
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["postgres"]["status"], "ok");
    assert_eq!(body["checks"]["kafka"]["status"], "error");
    assert!(body["checks"]["kafka"]["error"].as_str().unwrap().contains("metadata"), "{body}");
}

#[tokio::test]
async fn health_is_503_when_postgres_goes_away() {
    let db = TestDb::new().await;
    let running = crate::common::start_app(&settings(&db, None)).await;
    let addr = running.addr;
    assert_eq!(get(addr, "/health").await.0, 200);
    // The database disappears under the running service.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&crate::common::database_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {} WITH (FORCE)", db.name)))
        .execute(&mut admin)
        .await
        .unwrap();
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["postgres"]["status"], "error");
    let (status, _) = get(addr, "/ready").await;
    assert_eq!(status, 503);
    // The liveness probe checks no dependency: the process itself is fine.
    let (status, body) = get(addr, "/live").await;
    assert_eq!((status, &body["live"]), (200, &Value::Bool(true)));
}

#[tokio::test]
async fn the_binary_serves_and_stops_cleanly_on_sigterm() {
    let db = TestDb::new().await;
    let (mut child, addr) = crate::common::spawn_serve(&db.url, &[]);
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    // The image's HEALTHCHECK: `fte probe` exits 0 on a 2xx answer, 1 otherwise.
    let probe = |path: &str| {
        Command::new(env!("CARGO_BIN_EXE_fte"))
            .args(["probe", "--http-addr", &addr.to_string(), "--path", path])
            .output()
            .unwrap()
    };
    let ready = probe("/ready");
    assert!(ready.status.success(), "{ready:?}");
    assert_eq!(String::from_utf8_lossy(&ready.stdout).trim(), "HTTP 200");
    let missing = probe("/no-such-route");
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("HTTP 404"), "{missing:?}");
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = crate::common::wait_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn the_migrate_subcommand_applies_every_migration() {
    let db = TestDb::empty().await;
    let out = Command::new(env!("CARGO_BIN_EXE_fte"))
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(&db.pool).await.unwrap();
    assert_eq!(applied as usize, fte::db::MIGRATOR.iter().count());
}

#[tokio::test]
async fn a_bad_database_url_is_a_clear_error_with_the_password_hidden() {
    let out = Command::new(env!("CARGO_BIN_EXE_fte"))
        .arg("migrate")
        .env("DATABASE_URL", "postgres://fte:s3cret-pw@127.0.0.1:1/nowhere")
        .env("DATABASE_ACQUIRE_TIMEOUT_SECS", "2")
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(all.contains("cannot connect to PostgreSQL at postgres://fte:***@127.0.0.1:1/nowhere"), "{all}");
    assert!(!all.contains("s3cret-pw"), "password leaked: {all}");
}

#[tokio::test]
async fn serve_refuses_a_role_that_bypasses_row_level_security() {
    let superuser =
        std::env::var("FTE_PG_SUPERUSER_URL").expect("FTE_PG_SUPERUSER_URL is not set: run the tests with `make test`");
    let db = TestDb::new().await;
    let role = format!("bypass_{}", uuid::Uuid::new_v4().simple());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&superuser).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN BYPASSRLS PASSWORD 'pw'")))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = db.url.replacen("://fte:", &format!("://{role}:"), 1);
    let url = match url.split_once('@') {
        Some((user, rest)) => format!("{}:pw@{rest}", user.rsplit_once(':').unwrap().0),
        None => panic!("unexpected DATABASE_URL shape"),
    };
    let mut settings = settings(&db, None);
    settings.database.database_url = fte::secret::Secret::new(url);
    let err = App::build(&settings).await.err().expect("a BYPASSRLS role must be refused");
    assert!(err.to_string().contains("bypasses row-level security"), "{err}");
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE {role}"))).execute(&mut admin).await.unwrap();
}
