//! Runtime configuration (12-factor): every setting is a flag that can also
//! come from the environment. Secrets are `Secret<String>` and never print.
//! The configuration table in docs/configuration.md mirrors this file.
//!
//! Plain data only: this module depends on nothing in the crate but
//! [`crate::secret`]. The modules that own the types built from these
//! settings convert them (`kafka::Topics::from_settings`,
//! `kafka::KafkaConnection::from_settings`,
//! `runtime::RuntimeConfig::from_settings`,
//! `agent::settings::build_embedder`).

use crate::secret::Secret;
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
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

    /// TLS to PostgreSQL, over the URL's `sslmode`. Unset: the URL's
    /// `sslmode`, else `prefer`.
    #[arg(long, env = "DATABASE_SSL_MODE", value_enum)]
    pub database_ssl_mode: Option<DatabaseSslMode>,

    /// PEM file of the certificate authorities that `verify-ca` and
    /// `verify-full` trust (besides the system's), over the URL's
    /// `sslrootcert`.
    #[arg(long, env = "DATABASE_SSL_ROOT_CERT")]
    pub database_ssl_root_cert: Option<PathBuf>,
}

/// Whether and how the connection to PostgreSQL is encrypted (libpq's
/// `sslmode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatabaseSslMode {
    /// Plain text.
    Disable,
    /// TLS when the server offers it, plain text otherwise; the certificate
    /// is not checked.
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS with a certificate signed by a trusted authority.
    VerifyCa,
    /// As `verify-ca`, and the certificate names the host connected to.
    VerifyFull,
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

    /// Bearer token that enables `POST /api/v1/inbound` (inject a customer
    /// message without a provider: tests, load tests, smoke checks). Unset:
    /// the route does not exist.
    #[arg(long, env = "INJECT_API_TOKEN", hide_env_values = true)]
    pub inject_api_token: Option<Secret<String>>,

    #[command(flatten)]
    pub runtime: RuntimeSettings,

    #[command(flatten)]
    pub kafka: KafkaSettings,

    #[command(flatten)]
    pub agent: AgentSettings,

    #[command(flatten)]
    pub channels: ChannelSettings,
}

/// Webhook ingress and delivery knobs (DESIGN.md §6).
#[derive(Clone, Debug, Args)]
pub struct ChannelSettings {
    /// The URL providers reach this service at (e.g.
    /// `https://support.example.com`). Twilio signs the URL it posts to, so
    /// behind a proxy this must be set; unset, the request's `Host` is used.
    /// Also the base of Twilio status callbacks and web-form status links.
    #[arg(long, env = "FTE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Secret that signs web-form status links. Unset: a random one per
    /// process (links stop working on restart; set it in production).
    #[arg(long, env = "FTE_WEBFORM_SECRET", hide_env_values = true)]
    pub webform_secret: Option<Secret<String>>,

    /// Inbound messages per second per tenant and channel (token bucket);
    /// beyond it webhooks answer 429 and providers retry later.
    #[arg(long, env = "INBOUND_RATE_PER_SEC", default_value_t = 50.0)]
    pub inbound_rate_per_sec: f64,
    #[arg(long, env = "INBOUND_BURST", default_value_t = 200.0)]
    pub inbound_burst: f64,

    /// Outbound sends per second per tenant and channel; beyond it the
    /// dispatcher waits.
    #[arg(long, env = "OUTBOUND_RATE_PER_SEC", default_value_t = 20.0)]
    pub outbound_rate_per_sec: f64,
    #[arg(long, env = "OUTBOUND_BURST", default_value_t = 40.0)]
    pub outbound_burst: f64,

    /// Attempts at sending one reply before it is failed and flagged.
    #[arg(long, env = "SEND_MAX_ATTEMPTS", default_value_t = 6)]
    pub send_max_attempts: u32,
    /// First retry delay; doubled each attempt, with full jitter.
    #[arg(long, env = "SEND_BACKOFF_BASE_MS", default_value_t = 500)]
    pub send_backoff_base_ms: u64,
    #[arg(long, env = "SEND_BACKOFF_MAX_MS", default_value_t = 30_000)]
    pub send_backoff_max_ms: u64,
    /// Milliseconds one provider request may take.
    #[arg(long, env = "SEND_TIMEOUT_MS", default_value_t = 10_000)]
    pub send_timeout_ms: u64,

    /// A reply still unsettled this many seconds after its commit is
    /// delivered by the stuck-reply sweeper (its outbound record was lost).
    #[arg(long, env = "STUCK_REPLY_SECS", default_value_t = 30)]
    pub stuck_reply_secs: u64,
    /// Seconds between two sweeps for stuck replies.
    #[arg(long, env = "STUCK_REPLY_SWEEP_SECS", default_value_t = 10)]
    pub stuck_reply_sweep_secs: u64,
    /// Seconds between two reloads of the channel accounts webhook
    /// ingress keeps in memory (how long a changed or disabled account may
    /// still be served as it was).
    #[arg(long, env = "CHANNEL_ACCOUNTS_RELOAD_SECS", default_value_t = 10)]
    pub channel_accounts_reload_secs: u64,
}

/// Topic layout, consumer and security settings (used when `KAFKA_BROKERS`
/// is set).
#[derive(Clone, Debug, Args)]
pub struct KafkaSettings {
    /// Prefix of every topic and consumer-group name (isolates deployments
    /// or test runs sharing a cluster).
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "")]
    pub kafka_topic_prefix: String,

    /// Partitions of every topic except `fte.tickets.incoming`.
    #[arg(long, env = "KAFKA_PARTITIONS", default_value_t = 3)]
    pub kafka_partitions: i32,

    /// Partitions of `fte.tickets.incoming` (the most workers that share
    /// the actors).
    #[arg(long, env = "KAFKA_TICKETS_PARTITIONS", default_value_t = 12)]
    pub kafka_tickets_partitions: i32,

    /// Replication factor of created topics; -1 takes the broker's default.
    #[arg(long, env = "KAFKA_REPLICATION_FACTOR", default_value_t = -1, allow_negative_numbers = true)]
    pub kafka_replication_factor: i32,

    /// Consumer-group session timeout: how soon a dead worker's partitions
    /// move to the others. 6 s is the least Apache Kafka accepts by default
    /// (`group.min.session.timeout.ms`); lower it on the broker to go lower.
    #[arg(long, env = "KAFKA_SESSION_TIMEOUT_MS", default_value_t = 6_000)]
    pub kafka_session_timeout_ms: u32,

    /// Longest pause between two polls of a consumer before the group
    /// considers it stuck (librdkafka's `max.poll.interval.ms`).
    #[arg(long, env = "KAFKA_MAX_POLL_INTERVAL_MS", default_value_t = 300_000)]
    pub kafka_max_poll_interval_ms: u32,

    #[command(flatten)]
    pub security: KafkaSecuritySettings,
}

/// `security.protocol` of every Kafka client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KafkaSecurityProtocol {
    /// Plain TCP, no authentication.
    #[value(name = "PLAINTEXT")]
    Plaintext,
    /// TLS, no SASL (with a client certificate: mutual TLS).
    #[value(name = "SSL")]
    Ssl,
    /// SASL over plain TCP.
    #[value(name = "SASL_PLAINTEXT")]
    SaslPlaintext,
    /// SASL over TLS.
    #[value(name = "SASL_SSL")]
    SaslSsl,
}

/// SASL mechanism of the `SASL_*` protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KafkaSaslMechanism {
    #[value(name = "PLAIN")]
    Plain,
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

/// Transport security of every Kafka client (producers, consumers, the
/// admin client, the health probe). `kafka::KafkaConnection::from_settings`
/// checks the combination at start-up.
#[derive(Clone, Debug, Args)]
pub struct KafkaSecuritySettings {
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    #[arg(long, env = "KAFKA_SECURITY_PROTOCOL", value_enum, ignore_case = true, default_value_t = KafkaSecurityProtocol::Plaintext)]
    pub kafka_security_protocol: KafkaSecurityProtocol,

    /// SASL mechanism (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`); the
    /// `SASL_*` protocols need it.
    #[arg(long, env = "KAFKA_SASL_MECHANISM", value_enum, ignore_case = true)]
    pub kafka_sasl_mechanism: Option<KafkaSaslMechanism>,

    /// SASL user name.
    #[arg(long, env = "KAFKA_SASL_USERNAME")]
    pub kafka_sasl_username: Option<String>,

    /// SASL password.
    #[arg(long, env = "KAFKA_SASL_PASSWORD", hide_env_values = true)]
    pub kafka_sasl_password: Option<Secret<String>>,

    /// PEM file of the CA certificates that sign the brokers' certificates
    /// (`SSL`, `SASL_SSL`). Unset: the system's trust store.
    #[arg(long, env = "KAFKA_SSL_CA_FILE")]
    pub kafka_ssl_ca_file: Option<PathBuf>,

    /// PEM client certificate for mutual TLS (with `KAFKA_SSL_KEY_FILE`).
    #[arg(long, env = "KAFKA_SSL_CERT_FILE")]
    pub kafka_ssl_cert_file: Option<PathBuf>,

    /// PEM private key (unencrypted) of the client certificate.
    #[arg(long, env = "KAFKA_SSL_KEY_FILE")]
    pub kafka_ssl_key_file: Option<PathBuf>,
}

/// The conversation runtime's knobs.
#[derive(Clone, Debug, Args)]
pub struct RuntimeSettings {
    /// Partitions of the in-process `fte.tickets.incoming` topic (one
    /// router each).
    #[arg(long, env = "RUNTIME_PARTITIONS", default_value_t = 12)]
    pub runtime_partitions: usize,

    /// Seconds without a message before a conversation actor is passivated.
    #[arg(long, env = "ACTOR_IDLE_TIMEOUT_SECS", default_value_t = 600)]
    pub actor_idle_timeout_secs: u64,

    /// Resident conversation actors beyond which the least recently used
    /// are passivated.
    #[arg(long, env = "MAX_ACTIVE_ACTORS", default_value_t = 100_000)]
    pub max_active_actors: usize,

    /// Seconds a customer may stay silent before an open conversation that
    /// waits on them is resolved.
    #[arg(long, env = "INACTIVITY_TIMEOUT_SECS", default_value_t = 86_400)]
    pub inactivity_timeout_secs: u64,

    /// Snapshot a conversation's state every N events.
    #[arg(long, env = "SNAPSHOT_EVERY", default_value_t = 100)]
    pub snapshot_every: u64,

    /// Replies with a lower confidence wait for human approval (0..1).
    #[arg(long, env = "APPROVAL_THRESHOLD", default_value_t = 0.65, value_parser = unit_interval)]
    pub approval_threshold: f32,

    /// Attempts at a message before it is given up.
    #[arg(long, env = "MAX_DELIVERY_ATTEMPTS", default_value_t = 5)]
    pub max_delivery_attempts: u32,

    /// Turns in progress at once in this process (default: the database
    /// pool's size). Raise it for a slow model: a turn waiting on the
    /// model holds no connection.
    #[arg(long, env = "TURN_CONCURRENCY")]
    pub turn_concurrency: Option<usize>,

    /// Seconds between two runs of the retention job, which deletes what
    /// is older than each tenant's `retention_days` (0: never).
    #[arg(long, env = "FTE_RETENTION_INTERVAL_SECS", default_value_t = 3600)]
    pub retention_interval_secs: u64,
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

/// Which brain the conversation actors call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BrainKind {
    /// The agent: rules, tools, knowledge base, models per tenant.
    Agent,
    /// A deterministic acknowledger for exercising the runtime.
    Echo,
}

/// Which embedder the knowledge base uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EmbedderKind {
    /// all-MiniLM-L6-v2 on the CPU, from local files (the default).
    Minilm,
    /// Feature hashing: no model, less accurate.
    Hashing,
    /// An OpenAI-compatible `/embeddings` endpoint.
    Openai,
}

/// The knowledge base's embedder (`agent::settings::build_embedder` builds
/// it).
#[derive(Clone, Debug, Args)]
pub struct EmbedderSettings {
    /// Embedder of the knowledge base (vectors of different embedders are
    /// never compared; re-ingest after changing it).
    #[arg(long, env = "KB_EMBEDDER", value_enum, default_value_t = EmbedderKind::Minilm)]
    pub embedder: EmbedderKind,
    /// Directory with the MiniLM model files (default: the setup cache).
    #[arg(long, env = "FTE_MINILM_DIR")]
    pub minilm_dir: Option<PathBuf>,
    /// Base URL of the OpenAI-compatible embeddings API.
    #[arg(long, env = "OPENAI_BASE_URL", default_value = "https://api.openai.com/v1")]
    pub openai_base_url: String,
    #[arg(long, env = "OPENAI_EMBEDDING_MODEL", default_value = "text-embedding-3-small")]
    pub openai_embedding_model: String,
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<Secret<String>>,
}

/// Process-wide agent settings: which brain the conversation actors call
/// and which embedder the knowledge base uses.
#[derive(Clone, Debug, Args)]
pub struct AgentSettings {
    /// The brain the conversation actors call.
    #[arg(long, env = "FTE_BRAIN", value_enum, default_value_t = BrainKind::Agent)]
    pub brain: BrainKind,
    #[command(flatten)]
    pub embedder: EmbedderSettings,
}

/// A number between 0 and 1 (inclusive).
fn unit_interval(raw: &str) -> Result<f32, String> {
    let v: f32 = raw.trim().parse().map_err(|e| format!("{raw:?} is not a number: {e}"))?;
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(format!("{v} is not between 0 and 1")) }
}
