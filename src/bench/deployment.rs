//! The deployment a bench run measures: a scratch database (migrated, one
//! tenant, the sample knowledge base) and an `fte worker` process of this
//! same binary on the real broker, under a topic prefix of its own. The
//! harness owns the process so the restart scenario can SIGKILL it and
//! start it again; everything is removed at the end. For the HTTP ingress
//! and webhook acknowledgement scenarios it also starts an `fte api`
//! process with channel accounts of the tenant's on Twilio (a WhatsApp
//! number), Slack, Meta (a WhatsApp Cloud API number) and the web form,
//! their secrets in the process's environment, so messages can arrive as
//! signed webhooks.

use crate::crm::{MergePolicy, NewTenant, create_tenant};
use crate::domain::TenantId;
use crate::kafka::{KafkaConnection, Topics};
use sqlx::{Connection, PgConnection, PgPool};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(String),
    #[error("tenant: {0}")]
    Tenant(#[from] crate::crm::CrmError),
    #[error("cannot run {what}: {source}")]
    Spawn { what: String, source: std::io::Error },
    #[error("{0}")]
    Failed(String),
}

/// How the worker under test runs.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// `agent` (the local brain) or `echo`.
    pub brain: String,
    /// `minilm` or `hashing`.
    pub embedder: String,
    /// The sample knowledge base to ingest.
    pub kb_dir: PathBuf,
}

pub struct Deployment {
    base_url: String,
    database: String,
    pub database_url: String,
    pub pool: PgPool,
    pub tenant: TenantId,
    pub kafka: KafkaConnection,
    pub topics: Topics,
    /// The harness's producer (customers' messages), shared by every plan.
    pub producer: crate::kafka::KafkaProducer,
    /// The `api` process's Twilio number, once started.
    pub twilio: Option<TwilioIngress>,
    /// The `api` process's webhook ingress, once started.
    ingress: Option<Ingress>,
    settings: WorkerSettings,
    /// This binary, resolved once (a rebuild replaces the file under a
    /// running process).
    exe: PathBuf,
    worker: Option<Child>,
    http_port: u16,
    api: Option<Child>,
}

/// The tenant's Twilio WhatsApp number in a bench run, and where the
/// `api` process takes its webhooks.
#[derive(Clone, Debug)]
pub struct TwilioIngress {
    /// `http://127.0.0.1:<port>/webhooks/twilio/whatsapp`: what Twilio signs.
    pub url: String,
    pub account_sid: String,
    pub auth_token: String,
    pub business: String,
}

/// The tenant's Slack workspace in a bench run.
#[derive(Clone, Debug)]
pub struct SlackIngress {
    pub team_id: String,
    pub api_app_id: String,
    /// The app's bot user (the account's `bot_user_id`).
    pub bot_user_id: String,
    pub signing_secret: String,
}

/// The tenant's Meta WhatsApp Cloud API number in a bench run.
#[derive(Clone, Debug)]
pub struct MetaIngress {
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub app_secret: String,
}

/// Where the `api` process takes webhooks, and the tenant's account on
/// each provider (Gmail is left out: its push makes the `api` process
/// sync the mailbox from Google's API, which the bench does not fake).
#[derive(Clone, Debug)]
pub struct Ingress {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub twilio: TwilioIngress,
    pub slack: SlackIngress,
    pub meta: MetaIngress,
    /// The web form's widget key.
    pub widget_key: String,
}

/// The environment variables the channel accounts name for their secrets.
const TWILIO_TOKEN_ENV: &str = "FTE_BENCH_TWILIO_TOKEN";
const SLACK_SECRET_ENV: &str = "FTE_BENCH_SLACK_SECRET";
const SLACK_TOKEN_ENV: &str = "FTE_BENCH_SLACK_TOKEN";
const META_SECRET_ENV: &str = "FTE_BENCH_META_SECRET";
const META_VERIFY_ENV: &str = "FTE_BENCH_META_VERIFY";
const META_TOKEN_ENV: &str = "FTE_BENCH_META_TOKEN";

/// A fresh random secret (32 hex digits).
fn secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Ingress {
    /// New accounts and secrets; `base` is set once the process listens.
    fn generate() -> Self {
        Self {
            base: String::new(),
            twilio: TwilioIngress {
                url: String::new(),
                account_sid: format!("AC{}", secret()),
                auth_token: secret(),
                business: "+15550100100".into(),
            },
            slack: SlackIngress {
                team_id: "T0BENCH".into(),
                api_app_id: "A0BENCH".into(),
                bot_user_id: "U0BENCHBOT".into(),
                signing_secret: secret(),
            },
            meta: MetaIngress {
                phone_number_id: "106540352242922".into(),
                display_phone_number: "15550100200".into(),
                app_secret: secret(),
            },
            widget_key: "bench-form".into(),
        }
    }

    /// The `api` process's environment: the secrets its accounts name
    /// (the bot and access tokens are never used: the dispatcher is not
    /// part of the run).
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (TWILIO_TOKEN_ENV, self.twilio.auth_token.clone()),
            (SLACK_SECRET_ENV, self.slack.signing_secret.clone()),
            (SLACK_TOKEN_ENV, "xoxb-bench-unused".into()),
            (META_SECRET_ENV, self.meta.app_secret.clone()),
            (META_VERIFY_ENV, secret()),
            (META_TOKEN_ENV, "EAAbenchunused".into()),
            ("FTE_WEBFORM_SECRET", format!("{}{}", secret(), secret())),
        ]
    }

    /// Each account's provider, address and settings. The dispatcher is
    /// not part of the run: replies stop at the outbound topic, so the
    /// providers' API bases are never called.
    fn accounts(&self) -> [(crate::domain::Provider, &str, serde_json::Value); 4] {
        use crate::domain::Provider;
        let nowhere = "http://127.0.0.1:9";
        [
            (
                Provider::Twilio,
                &self.twilio.business,
                serde_json::json!({
                    "account_sid": self.twilio.account_sid,
                    "auth_token_env": TWILIO_TOKEN_ENV,
                    "base_url": nowhere,
                }),
            ),
            (
                Provider::Slack,
                &self.slack.team_id,
                serde_json::json!({
                    "signing_secret_env": SLACK_SECRET_ENV,
                    "bot_token_env": SLACK_TOKEN_ENV,
                    "base_url": nowhere,
                    "bot_user_id": self.slack.bot_user_id,
                }),
            ),
            (
                Provider::Meta,
                &self.meta.phone_number_id,
                serde_json::json!({
                    "app_secret_env": META_SECRET_ENV,
                    "verify_token_env": META_VERIFY_ENV,
                    "access_token_env": META_TOKEN_ENV,
                    "base_url": nowhere,
                }),
            ),
            // No reply by email: the run has no Gmail account.
            (Provider::Webform, &self.widget_key, serde_json::json!({ "reply_by_email": false })),
        ]
    }
}

fn with_database(base: &str, name: &str) -> Result<String, DeploymentError> {
    let (head, tail) =
        base.rsplit_once('/').ok_or_else(|| DeploymentError::Failed("DATABASE_URL has no database name".into()))?;
    let query = tail.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    Ok(format!("{head}/{name}{query}"))
}

fn free_port() -> Result<u16, DeploymentError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|source| DeploymentError::Spawn { what: "a local port".into(), source })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| DeploymentError::Spawn { what: "a local port".into(), source })
}

/// Waits until the process at `addr` answers `/ready` with 200; an error
/// when it exits first or is not ready within `within`.
async fn wait_ready(
    child: &mut Option<Child>,
    addr: &str,
    what: &str,
    within: Duration,
) -> Result<(), DeploymentError> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + within;
    loop {
        if let Some(c) = child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            return Err(DeploymentError::Failed(format!("{what} exited at start-up: {status}")));
        }
        if client.get(format!("http://{addr}/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(DeploymentError::Failed(format!("{what} was not ready within {} s", within.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Deployment {
    pub async fn create(
        base_url: &str,
        kafka: &KafkaConnection,
        settings: WorkerSettings,
    ) -> Result<Self, DeploymentError> {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("fte_bench_{}", &run[..12]);
        let mut admin = PgConnection::connect(base_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}"))).execute(&mut admin).await?;
        eprintln!("scratch database {database}");
        let database_url = with_database(base_url, &database)?;
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(&database_url).await?;
        crate::db::migrate(&pool).await.map_err(|e| DeploymentError::Migrate(e.to_string()))?;
        let tenant = create_tenant(
            &pool,
            &NewTenant { slug: "bench".into(), name: "Bench".into(), merge_policy: MergePolicy::Auto },
        )
        .await?
        .id;
        let topics = Topics { prefix: format!("bench{}.", &run[..8]), ..Topics::default() };
        let exe = std::env::current_exe().map_err(|source| DeploymentError::Spawn { what: "fte".into(), source })?;
        let mut deployment = Self {
            base_url: base_url.to_string(),
            database,
            database_url,
            pool,
            tenant,
            kafka: kafka.clone(),
            topics,
            producer: crate::kafka::KafkaProducer::new(kafka)
                .map_err(|e| DeploymentError::Failed(format!("producer: {e}")))?,
            settings,
            exe,
            worker: None,
            http_port: free_port()?,
            api: None,
            twilio: None,
            ingress: None,
        };
        deployment.ingest_kb()?;
        Ok(deployment)
    }

    fn command(&self, args: &[&str]) -> Result<Command, DeploymentError> {
        let mut cmd = Command::new(&self.exe);
        cmd.args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("KAFKA_BROKERS", self.kafka.bootstrap())
            .envs(self.kafka.security_env())
            .env("KAFKA_TOPIC_PREFIX", &self.topics.prefix)
            .env("KB_EMBEDDER", &self.settings.embedder)
            .env("FTE_BRAIN", &self.settings.brain)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn");
        Ok(cmd)
    }

    fn ingest_kb(&mut self) -> Result<(), DeploymentError> {
        let dir = self.settings.kb_dir.display().to_string();
        let tenant = self.tenant.to_string();
        let out = self
            .command(&["kb", "ingest", "--tenant", &tenant, &dir])?
            .stdout(Stdio::null())
            .output()
            .map_err(|source| DeploymentError::Spawn { what: "fte kb ingest".into(), source })?;
        if !out.status.success() {
            return Err(DeploymentError::Failed(format!(
                "fte kb ingest failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Starts the worker and waits until it is ready (`/ready` is 200).
    pub async fn start_worker(&mut self) -> Result<Duration, DeploymentError> {
        let started = Instant::now();
        let addr = format!("127.0.0.1:{}", self.http_port);
        let child = self
            .command(&["worker"])?
            .env("HTTP_ADDR", &addr)
            // Every answer goes out (no drafts wait for a human).
            .env("APPROVAL_THRESHOLD", "0")
            // The shortest session the broker accepts: a killed worker's
            // partitions move on sooner.
            .env("KAFKA_SESSION_TIMEOUT_MS", "6000")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| DeploymentError::Spawn { what: "fte worker".into(), source })?;
        self.worker = Some(child);
        wait_ready(&mut self.worker, &addr, "the worker", Duration::from_secs(120)).await?;
        Ok(started.elapsed())
    }

    /// The `api` process's webhook ingress, starting the process (and
    /// adding the tenant's channel accounts) on first use.
    pub async fn api(&mut self) -> Result<Ingress, DeploymentError> {
        if let Some(ingress) = &self.ingress {
            return Ok(ingress.clone());
        }
        let ingress = self.start_api().await?;
        self.twilio = Some(ingress.twilio.clone());
        self.ingress = Some(ingress.clone());
        Ok(ingress)
    }

    /// Adds the tenant's channel accounts, starts an `fte api` process
    /// (webhook ingress onto the inbound topics) with their secrets in its
    /// environment, and waits until it is ready. Its inbound rate limit is
    /// lifted: the bench sets the pace.
    async fn start_api(&mut self) -> Result<Ingress, DeploymentError> {
        let ingress = Ingress::generate();
        for (provider, address, config) in ingress.accounts() {
            crate::crm::upsert_account(&self.pool, self.tenant, provider, address, &config).await?;
        }
        let addr = format!("127.0.0.1:{}", free_port()?);
        let child = self
            .command(&["api"])?
            .env("HTTP_ADDR", &addr)
            .envs(ingress.env())
            .env("INBOUND_RATE_PER_SEC", "1000000")
            .env("INBOUND_BURST", "1000000")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| DeploymentError::Spawn { what: "fte api".into(), source })?;
        self.api = Some(child);
        wait_ready(&mut self.api, &addr, "the api process", Duration::from_secs(60)).await?;
        let base = format!("http://{addr}");
        let twilio = TwilioIngress { url: format!("{base}/webhooks/twilio/whatsapp"), ..ingress.twilio };
        Ok(Ingress { base, twilio, ..ingress })
    }

    /// SIGKILLs the worker (no drain, no goodbye).
    pub fn kill_worker(&mut self) {
        if let Some(mut w) = self.worker.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }

    fn kill_api(&mut self) {
        if let Some(mut api) = self.api.take() {
            let _ = api.kill();
            let _ = api.wait();
        }
    }

    /// The worker's count and total seconds of customer turns (message
    /// taken → decision committed) so far, from its `/metrics`.
    pub async fn turn_totals(&self) -> Option<(f64, f64)> {
        let text =
            reqwest::get(format!("http://127.0.0.1:{}/metrics", self.http_port)).await.ok()?.text().await.ok()?;
        let sum_of = |name: &str| -> f64 {
            text.lines()
                .filter(|l| l.starts_with(name))
                .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
                .sum()
        };
        Some((sum_of("fte_turn_duration_seconds_count"), sum_of("fte_turn_duration_seconds_sum")))
    }

    /// The worker's resident set size.
    pub fn worker_rss_bytes(&self) -> Option<u64> {
        let pid = self.worker.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    }

    /// Stops the worker and drops the scratch database.
    pub async fn destroy(mut self) -> Result<(), DeploymentError> {
        self.kill_worker();
        self.kill_api();
        self.pool.close().await;
        let mut admin = PgConnection::connect(&self.base_url).await?;
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
        // A server process that is not ours (autovacuum, say) can hold the
        // database for a moment, and this role may not terminate it.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match sqlx::query(sqlx::AssertSqlSafe(drop.clone())).execute(&mut admin).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt < 10 => {
                    tracing::debug!(error = %e, attempt, "scratch database still in use; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.kill_worker();
        self.kill_api();
    }
}
