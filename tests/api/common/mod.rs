//! Test support: a fresh PostgreSQL database per test (created with the
//! service's own unprivileged role from `DATABASE_URL`, migrated, dropped
//! afterwards), tenants, and the sample tickets.
#![allow(dead_code)]

pub mod fake_provider;
pub mod hostile;
pub mod own_postgres;
pub mod twilio;
pub mod webdriver;

use fte::config::DatabaseSettings;
use fte::crm::{MergePolicy, NewTenant, Tenant, create_tenant};
use fte::secret::Secret;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use std::path::PathBuf;

/// The broker `make test` started. Tests that need it fail without it:
/// they are never skipped.
pub fn kafka_brokers() -> String {
    std::env::var("KAFKA_BROKERS")
        .expect("KAFKA_BROKERS is not set: run the tests with `make test` (it starts the broker and exports it)")
}

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run the tests with `make test` (it starts PostgreSQL and exports it)")
}

/// A database of its own for one test.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    pub name: String,
}

impl TestDb {
    /// Creates and migrates a new database.
    pub async fn new() -> Self {
        let db = Self::empty().await;
        fte::db::migrate(&db.pool).await.expect("migrations apply to an empty database");
        db
    }

    /// Creates a new database and leaves it empty.
    pub async fn empty() -> Self {
        let base = database_url();
        let name = format!("fte_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&base).await.expect("connect to DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = with_database(&base, &name);
        let pool = PgPoolOptions::new().max_connections(10).connect(&url).await.expect("connect to test database");
        Self { pool, url, name }
    }

    /// Settings for the service pointing at this database.
    pub fn settings(&self) -> DatabaseSettings {
        DatabaseSettings {
            database_url: Secret::new(self.url.clone()),
            database_max_connections: 5,
            database_acquire_timeout_secs: 5,
            database_ssl_mode: None,
            database_ssl_root_cert: None,
        }
    }

    pub async fn tenant(&self, slug: &str, policy: MergePolicy) -> Tenant {
        create_tenant(
            &self.pool,
            &NewTenant { slug: slug.into(), name: format!("Tenant {slug}"), merge_policy: policy },
        )
        .await
        .expect("create tenant")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let base = database_url();
        let name = self.name.clone();
        // Drop may run inside the test's runtime, which is blocked while we
        // wait: use a runtime of our own on a thread of our own, and let
        // `WITH (FORCE)` end the pool's connections server-side (closing the
        // pool from here would wait on the blocked runtime).
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                let mut admin = PgConnection::connect(&base).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// `base` with its database name replaced.
pub fn with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let prefix = match head.rfind('/') {
        Some(i) if head[..i].contains("://") && i > head.find("://").map(|j| j + 2).unwrap_or(0) => &head[..i],
        _ => head,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// The repository's copy of the sample company's data.
pub fn context_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("context")
}

pub fn sample_tickets() -> Vec<serde_json::Value> {
    let raw = std::fs::read_to_string(context_dir().join("sample-tickets.json")).expect("read sample tickets");
    serde_json::from_str(&raw).expect("sample tickets are JSON")
}

/// A runtime on this database with the deterministic brain (or another).
pub async fn runtime_with(
    db: &TestDb,
    brain: std::sync::Arc<dyn fte::brain::Brain>,
    config: fte::runtime::RuntimeConfig,
) -> std::sync::Arc<fte::runtime::Runtime> {
    fte::runtime::Runtime::start(db.pool.clone(), brain, config).await.expect("runtime starts")
}

/// An email from `address` with the provider id `external_id`.
pub fn email(
    tenant: fte::domain::TenantId,
    address: &str,
    external_id: &str,
    body: &str,
) -> fte::domain::InboundMessage {
    fte::domain::InboundMessage {
        tenant_id: tenant,
        channel: fte::domain::Channel::Email,
        external_id: external_id.to_string(),
        sender: fte::domain::Identifier::Email(fte::domain::EmailAddress::parse(address).unwrap()),
        identifiers: vec![],
        display_name: None,
        subject: Some("Help".into()),
        body: body.to_string(),
        received_at: chrono::Utc::now(),
        metadata: serde_json::Value::Null,
    }
}

/// A pool with room for many concurrent actors.
pub async fn wide_pool(db: &TestDb, size: u32) -> sqlx::PgPool {
    PgPoolOptions::new().max_connections(size).connect(&db.url).await.expect("connect to test database")
}

/// Starts `fte serve` on a free port against `db_url` (no broker), with
/// extra environment; returns the child and the address it logged.
/// (`KAFKA_BROKERS` in `env` switches it to Kafka mode.)
pub fn spawn_serve(db_url: &str, env: &[(&str, &str)]) -> (std::process::Child, std::net::SocketAddr) {
    spawn_role("serve", db_url, env)
}

/// Starts `fte <role>` (serve, api, worker, dispatcher) like `spawn_serve`.
pub fn spawn_role(role: &str, db_url: &str, env: &[(&str, &str)]) -> (std::process::Child, std::net::SocketAddr) {
    spawn_role_keeping(role, db_url, env, None)
}

/// Every line a process logged, from its first; complete once the process
/// has exited and `done` is true.
#[derive(Clone, Default)]
pub struct LogLines {
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl LogLines {
    /// Waits (after the process was killed) until its last line was read.
    pub fn all(&self, within: std::time::Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + within;
        while !self.done.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(std::time::Instant::now() < deadline, "the process's log did not end in {within:?}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.lines.lock().unwrap().clone()
    }
}

/// `spawn_serve` that also keeps every line the process logs.
pub fn spawn_serve_logged(db_url: &str, env: &[(&str, &str)]) -> (std::process::Child, std::net::SocketAddr, LogLines) {
    let logs = LogLines::default();
    let (child, addr) = spawn_role_keeping("serve", db_url, env, Some(logs.clone()));
    (child, addr, logs)
}

fn spawn_role_keeping(
    role: &str,
    db_url: &str,
    env: &[(&str, &str)],
    keep: Option<LogLines>,
) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::{BufRead, BufReader};
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fte"));
    cmd.arg(role)
        .env("DATABASE_URL", db_url)
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        // The runtime's tests count replies: the deterministic brain
        // answers every message (tests of the agent set FTE_BRAIN=agent).
        .env("FTE_BRAIN", "echo")
        .env_remove("KAFKA_BROKERS")
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::piped());
    // With the echo brain, the cheap hashing embedder (the KB routes need
    // one; nothing needs the sentence model).
    if !env.iter().any(|(k, _)| *k == "FTE_BRAIN" || *k == "KB_EMBEDDER") {
        cmd.env("KB_EMBEDDER", "hashing");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start fte serve");
    let logs = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(logs).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited before listening").expect("read serve's log");
        if let Some(keep) = &keep {
            keep.lines.lock().unwrap().push(line.clone());
        }
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("log line is not JSON: {line}"));
        if v["fields"]["message"] == "serving" {
            break v["fields"]["addr"].as_str().expect("addr logged").parse().expect("addr parses");
        }
    };
    // Keep draining the logs so the child never blocks on a full pipe;
    // warnings and errors go to the test's output (shown when it fails).
    let pid = child.id();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("\"WARN\"") || line.contains("\"ERROR\"") || line.contains("partitions") {
                eprintln!("[serve {pid}] {line}");
            }
            if let Some(keep) = &keep {
                keep.lines.lock().unwrap().push(line);
            }
        }
        if let Some(keep) = &keep {
            keep.done.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (child, addr)
}

/// Waits for a child to exit, failing the test after `within`.
pub fn wait_exit(child: &mut std::process::Child, within: std::time::Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "process did not exit in {within:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Asserts that every customer's replies (outbound messages, in creation
/// order) answer their messages `c<i>-m0`, `c<i>-m1`, … in order, and that
/// there are `customers` of them with `messages` each.
pub async fn assert_replies_in_order(pool: &PgPool, tenant: fte::domain::TenantId, customers: usize, messages: usize) {
    let mut tx = fte::db::begin_tenant(pool, tenant).await.expect("begin");
    let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "SELECT o.customer_id, i.external_id FROM messages o JOIN messages i ON i.id = o.in_reply_to
          WHERE o.direction = 'outbound' ORDER BY o.customer_id, o.id",
    )
    .fetch_all(&mut *tx)
    .await
    .expect("replies");
    tx.commit().await.expect("commit");
    let mut per_customer: std::collections::BTreeMap<uuid::Uuid, Vec<usize>> = Default::default();
    for (customer, ext) in rows {
        let index = ext.rsplit_once("-m").and_then(|(_, m)| m.parse().ok()).expect("external id c<i>-m<j>");
        per_customer.entry(customer).or_default().push(index);
    }
    assert_eq!(per_customer.len(), customers, "customers with replies");
    for indexes in per_customer.values() {
        assert_eq!(indexes, &(0..messages).collect::<Vec<_>>(), "replies out of order");
    }
}

/// `serve`'s settings as these command-line flags give them (defaults for
/// everything else; flags win over the environment).
pub fn serve_settings(flags: &[&str]) -> fte::config::ServeSettings {
    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        serve: fte::config::ServeSettings,
    }
    // The deterministic brain unless the test picks one; with it, the cheap
    // hashing embedder (for the knowledge-base routes) unless the test
    // picks one, so no app loads the sentence model it does not use.
    let brain: &[&str] = if flags.contains(&"--brain") { &[] } else { &["--brain", "echo"] };
    let embedder: &[&str] =
        if flags.contains(&"--brain") || flags.contains(&"--embedder") { &[] } else { &["--embedder", "hashing"] };
    let args = std::iter::once("fte")
        .chain(brain.iter().copied())
        .chain(embedder.iter().copied())
        .chain(flags.iter().copied());
    <Wrapper as clap::Parser>::parse_from(args).serve
}

/// A running in-process `serve`: its address, a switch that stops it, and
/// the task that ends when it has stopped.
pub struct RunningApp {
    pub addr: std::net::SocketAddr,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<Result<(), fte::app::StartupError>>,
}

/// Builds and starts `serve` in this process.
pub async fn start_app(settings: &fte::config::ServeSettings) -> RunningApp {
    let app = fte::app::App::build(settings).await.expect("app builds");
    let addr = app.local_addr().expect("bound");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    RunningApp { addr, stop, task }
}

/// Outbound messages (replies) stored for the tenant.
pub async fn replies(db: &TestDb, tenant: fte::domain::TenantId) -> i64 {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let n = sqlx::query_scalar("SELECT count(*) FROM messages WHERE direction = 'outbound'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

/// Starts the independent producer (tests/clients/produce_inbound.py):
/// `customers` × `messages` emails; its output says how many were acked.
pub fn produce_inbound(
    brokers: &str,
    prefix: &str,
    tenant: fte::domain::TenantId,
    customers: usize,
    messages: usize,
) -> tokio::task::JoinHandle<std::io::Result<std::process::Output>> {
    let python = std::env::var("FTE_PYTHON").expect("FTE_PYTHON is not set: run the tests with `make test`");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/produce_inbound.py");
    let args = [
        script.to_string(),
        brokers.to_string(),
        prefix.to_string(),
        tenant.to_string(),
        customers.to_string(),
        messages.to_string(),
    ];
    tokio::task::spawn_blocking(move || std::process::Command::new(python).args(args).output())
}

/// Waits until `count` reaches `want`, failing after `within`.
pub async fn wait_until_replies(db: &TestDb, tenant: fte::domain::TenantId, want: i64, within: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let n = replies(db, tenant).await;
        if n >= want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "stuck at {n} of {want} replies");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Every inbound message stored once and answered exactly once.
pub async fn assert_each_answered_once(db: &TestDb, tenant: fte::domain::TenantId, total: i64) {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let inbound: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE direction = 'inbound'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let answered_once: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT in_reply_to FROM messages WHERE direction = 'outbound'
           GROUP BY in_reply_to HAVING count(*) = 1) x",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((inbound, answered_once), (total, total), "each message stored once with exactly one reply");
}

/// A tansu broker of a test's own on tansu's PostgreSQL storage engine (a
/// fresh database with `scripts/tansu/postgres-schema.sql`), so it keeps its
/// log across restarts and reports watermarks from SQL.
pub struct OwnBroker {
    pub port: u16,
    pub storage_url: String,
    pub storage_db: String,
    log: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnBroker {
    pub async fn start() -> Self {
        let storage_db = format!("tansu_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&database_url()).await.expect("connect to DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {storage_db}"))).execute(&mut admin).await.unwrap();
        admin.close().await.ok();
        let storage_url = with_database(&database_url(), &storage_db);
        let schema =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tansu/postgres-schema.sql")).unwrap();
        let mut conn = PgConnection::connect(&storage_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(schema)).execute(&mut conn).await.expect("tansu schema applies");
        conn.close().await.ok();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::env::temp_dir().join(format!("{storage_db}.log"));
        let mut broker = Self { port, storage_url, storage_db, log, child: None };
        broker.restart();
        broker
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker (again) on the same port and storage.
    pub fn restart(&mut self) {
        let bin = std::env::var("FTE_TANSU_BIN").expect("FTE_TANSU_BIN is not set: run the tests with `make test`");
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = std::process::Command::new(bin)
            .args(["broker", "--cluster-id", "fte-test", "--listener-url", &listener])
            .args(["--advertised-listener-url", &listener, "--storage-engine", &self.storage_url])
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "tansu did not open port {}", self.port);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The tenant's latest reply, if any: its provider id, delivery status and
/// metadata.
pub async fn find_latest_reply(
    db: &TestDb,
    tenant: fte::domain::TenantId,
) -> Option<(Option<String>, String, serde_json::Value)> {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let row = sqlx::query_as(
        "SELECT external_id, delivery_status, metadata FROM messages WHERE direction = 'outbound'
          ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row
}

/// The tenant's latest reply (there must be one).
pub async fn latest_reply(db: &TestDb, tenant: fte::domain::TenantId) -> (Option<String>, String, serde_json::Value) {
    find_latest_reply(db, tenant).await.expect("the tenant has a reply")
}

/// Waits (10 s at most) until the tenant's latest reply has status `want`
/// (a webhook is acknowledged before its turn runs: the reply may not
/// exist yet).
pub async fn wait_reply_status(
    db: &TestDb,
    tenant: fte::domain::TenantId,
    want: &str,
) -> (Option<String>, String, serde_json::Value) {
    for _ in 0..200 {
        if let Some(row) = find_latest_reply(db, tenant).await
            && row.1 == want
        {
            return row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the reply never reached {want}: {:?}", find_latest_reply(db, tenant).await);
}

/// A count over the tenant's rows.
pub async fn tenant_count(db: &TestDb, tenant: fte::domain::TenantId, sql: &'static str) -> i64 {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// Waits until `sql` (a count or a value, read as the tenant) gives
/// `expected`; fails after `within`, naming what it read last.
pub async fn wait_tenant_count(
    db: &TestDb,
    tenant: fte::domain::TenantId,
    sql: &'static str,
    expected: i64,
    within: std::time::Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let n = tenant_count(db, tenant, sql).await;
        if n == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{sql}: {n} after {within:?}, expected {expected}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An in-process `serve` on `db` (no broker, the echo brain) whose inject
/// API takes `token`; `extra` flags are added.
pub async fn start_injectable(db: &TestDb, token: &str, extra: &[&str]) -> RunningApp {
    let mut flags = vec![
        "--database-url",
        &db.url,
        "--http-addr",
        "127.0.0.1:0",
        "--kafka-brokers",
        "",
        "--inject-api-token",
        token,
    ];
    flags.extend_from_slice(extra);
    start_app(&serve_settings(&flags)).await
}

/// Posts a customer message to the inject API; asserts it was committed.
pub async fn inject(
    addr: std::net::SocketAddr,
    token: &str,
    tenant: fte::domain::TenantId,
    channel: &str,
    from: &str,
    external_id: &str,
    body: &str,
) {
    let message = serde_json::json!({"tenant_id": tenant.to_string(), "channel": channel, "external_id": external_id,
                                     "from": from, "body": body});
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/inbound"))
        .bearer_auth(token)
        .json(&message)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// One API request (with the key, the JSON body and the request id when
/// given): the status and the JSON body (null when there is none).
pub async fn api_call(
    addr: std::net::SocketAddr,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<serde_json::Value>,
    request_id: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().request(method, format!("http://{addr}{path}"));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(id) = request_id {
        req = req.header("x-request-id", id);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Scans of `index` reported so far.
pub async fn index_scans(db: &TestDb, index: &str) -> i64 {
    sqlx::query_scalar("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = $1")
        .bind(index)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// Scans of `index` once they have grown past `before`, or after 5 s (a
/// backend reports its statistics when it ends, not at once).
pub async fn index_scans_after(db: &TestDb, index: &str, before: i64) -> i64 {
    let mut after = index_scans(db, index).await;
    for _ in 0..50 {
        if after > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = index_scans(db, index).await;
    }
    after
}
