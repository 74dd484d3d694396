//! Wiring of the `serve` role: database pool (checked to be subject to
//! row-level security), optional broker probe, HTTP server, and graceful
//! shutdown (stop accepting, report not-ready, drain in-flight requests
//! within the deadline).

use crate::agent::AgentBrain;
use crate::agent::settings::build_embedder;
use crate::brain::{Brain, EchoBrain};
use crate::bus::OutboundRecord;
use crate::config::{BrainKind, KafkaSaslMechanism, ServeSettings};
use crate::db::{self, DbError};
use crate::delivery::dispatch::{DeadLetters, Dispatcher, Outcome, run_dispatcher};
use crate::domain::{Channel, OutboundMessage, topics};
use crate::http::{self, AppState, ChannelIngress, Readiness};
use crate::kafka::{
    BrokerProbe, KafkaConnection, KafkaError, KafkaProducer, KafkaSecurity, LoggedRebalance, Topics, group_consumer,
};
use crate::kb::{Embedder, KbSearch};
use crate::pipeline::InboundPublisher;
use crate::runtime::{KafkaTransport, Runtime, RuntimeConfig, RuntimeError, Transport};
use crate::shutdown;
use sqlx::PgPool;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Why the process could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{0}")]
    Command(String),
}

/// A built, bound, not yet running `serve` process.
pub struct App {
    listener: TcpListener,
    state: AppState,
    shutdown_timeout: Duration,
    /// Role tasks outside the runtime (the dispatcher's consumer).
    background: Vec<tokio::task::JoinHandle<()>>,
    background_stop: watch::Sender<bool>,
}

/// Which part of the system this process runs (DESIGN.md §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything in one process (`serve`).
    All,
    /// HTTP ingress: webhooks and the inject route, publishing to Kafka.
    Api,
    /// Identity routing, the conversation actors, the outbox relay.
    Worker,
    /// Outbound topics to the providers.
    Dispatcher,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::All => "serve",
            Role::Api => "api",
            Role::Worker => "worker",
            Role::Dispatcher => "dispatcher",
        }
    }
}

impl App {
    /// Connects to the database (and checks the role), applies migrations
    /// if asked, prepares the broker probe and binds the HTTP listener.
    /// Builds the `serve` role: everything in one process.
    pub async fn build(settings: &ServeSettings) -> Result<Self, StartupError> {
        Self::build_role(settings, Role::All).await
    }

    /// Builds one role. `api`, `worker` and `dispatcher` need Kafka (they
    /// talk to each other only through it).
    pub async fn build_role(settings: &ServeSettings, role: Role) -> Result<Self, StartupError> {
        if role != Role::All && settings.kafka_brokers().is_none() {
            return Err(StartupError::Command(format!(
                "the {} role needs KAFKA_BROKERS (without a broker, run `serve`)",
                role.as_str()
            )));
        }
        let connection = kafka_connection(settings)?;
        let pool = open_database(settings).await?;
        let broker = broker_probe(settings, connection.as_ref(), role)?;
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .map_err(|source| StartupError::Bind { addr: settings.http_addr, source })?;
        let kafka = connection.map(|connection| kafka_transport(settings, connection));
        let (background_stop, background_rx) = watch::channel(false);
        let mut wiring = Wiring {
            settings,
            pool,
            metrics: Arc::new(crate::metrics::Metrics::default()),
            stop: background_rx,
            background: Vec::new(),
        };
        let runs_agent = matches!(role, Role::All | Role::Worker) && settings.agent.brain == BrainKind::Agent;
        let embedder = kb_embedder(settings, runs_agent)?;
        let kb_search = Arc::new(KbSearch::new());
        let runtime = if matches!(role, Role::All | Role::Worker) {
            Some(wiring.start_runtime(kafka.as_ref(), &embedder, &kb_search).await?)
        } else {
            None
        };
        if let Some(k) = kafka.as_ref().filter(|_| matches!(role, Role::All | Role::Dispatcher)) {
            wiring.start_kafka_dispatcher(k)?;
        }
        let publisher = match (&kafka, role) {
            (Some(k), Role::Api) => Some(Arc::new(InboundPublisher {
                producer: KafkaProducer::new(&k.connection)?,
                topics: k.topics.clone(),
            })),
            _ => None,
        };
        let (gmail, accounts) = wiring.start_ingress(role)?;
        let Wiring { pool, metrics, background, .. } = wiring;
        let state = AppState {
            pool,
            accounts,
            broker,
            health_timeout: settings.health_check_timeout(),
            ready: Readiness::default(),
            runtime,
            publisher,
            inject_token: settings.inject_api_token.clone().filter(|_| matches!(role, Role::All | Role::Api)),
            channels: Arc::new(ChannelIngress::new(&settings.channels, gmail)),
            ingress: matches!(role, Role::All | Role::Api),
            metrics,
            embedder,
            kb_search,
        };
        Ok(Self { listener, state, shutdown_timeout: settings.shutdown_timeout(), background, background_stop })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, StartupError> {
        self.listener.local_addr().map_err(StartupError::Serve)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests for
    /// at most the shutdown timeout.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartupError> {
        let addr = self.local_addr()?;
        let ready = self.state.ready.clone();
        let router = http::router(self.state.clone());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(self.listener, router)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
        });
        ready.set(true);
        tracing::info!(%addr, "serving");
        shutdown.await;
        ready.set(false);
        let _ = stop_tx.send(());
        tracing::info!(timeout_secs = self.shutdown_timeout.as_secs(), "draining in-flight requests");
        match tokio::time::timeout(self.shutdown_timeout, server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(StartupError::Serve(e)),
            Ok(Err(join)) => {
                return Err(StartupError::Serve(std::io::Error::other(join.to_string())));
            }
            Err(_) => tracing::warn!("shutdown deadline passed with requests still in flight"),
        }
        let _ = self.background_stop.send(true);
        if let Some(runtime) = &self.state.runtime {
            runtime.shutdown().await;
        }
        for task in self.background {
            let _ = task.await;
        }
        self.state.pool.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Connects to the database, checks that the role it connects as is
/// subject to row-level security, and applies migrations if asked.
async fn open_database(settings: &ServeSettings) -> Result<PgPool, StartupError> {
    let pool = db::connect_waiting(&settings.database).await?;
    db::ensure_unprivileged_role(&pool).await?;
    if settings.migrate_on_start {
        db::migrate(&pool).await?;
    }
    warn_without_keyword_index(&pool).await;
    Ok(pool)
}

/// Says so at start when knowledge-base keyword matches cannot use their
/// index (see [`crate::kb::keyword_index_usable`]).
async fn warn_without_keyword_index(pool: &PgPool) {
    match crate::kb::keyword_index_usable(pool).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "ts_match_vq is not LEAKPROOF in this database: knowledge-base keyword matches scan the tenant's chunks \
             instead of the full-text index (docs/operations.md, database prerequisites)"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot tell whether knowledge-base keyword matches use their index"),
    }
}

/// How the process reaches Kafka, when a broker is configured: the
/// brokers and the security settings, checked before anything connects.
fn kafka_connection(settings: &ServeSettings) -> Result<Option<KafkaConnection>, StartupError> {
    let Some(bootstrap) = settings.kafka_brokers() else { return Ok(None) };
    let connection = KafkaConnection::from_settings(bootstrap, &settings.kafka.security).map_err(KafkaError::from)?;
    tracing::info!(
        brokers = connection.bootstrap(),
        security_protocol = connection.security().protocol_name(),
        "Kafka connection settings"
    );
    if let KafkaSecurity::SaslPlaintext(sasl) = connection.security()
        && sasl.mechanism == KafkaSaslMechanism::Plain
    {
        tracing::warn!("SASL PLAIN over SASL_PLAINTEXT sends the Kafka password unencrypted; use SASL_SSL");
    }
    Ok(Some(connection))
}

/// The broker probe behind `/ready`, when there is a broker. The worker
/// reports its groups' lag; other roles only connectivity.
fn broker_probe(
    settings: &ServeSettings,
    connection: Option<&KafkaConnection>,
    role: Role,
) -> Result<Option<BrokerProbe>, StartupError> {
    let probe = match connection {
        None => None,
        Some(connection) if matches!(role, Role::All | Role::Worker) => {
            let topics = Topics::from_settings(&settings.kafka);
            let inbound = Channel::ALL.iter().map(|c| topics.inbound(*c)).collect();
            Some(
                BrokerProbe::with_groups(
                    connection,
                    vec![
                        (format!("{}fte-identity", topics.prefix), inbound),
                        (format!("{}fte-conversations", topics.prefix), vec![topics.tickets()]),
                    ],
                )?
                .watching_dlq(topics.dlq()),
            )
        }
        Some(connection) => {
            Some(BrokerProbe::new(connection)?.watching_dlq(Topics::from_settings(&settings.kafka).dlq()))
        }
    };
    Ok(probe)
}

/// The Kafka transport of the runtime and the dispatcher.
fn kafka_transport(settings: &ServeSettings, connection: KafkaConnection) -> KafkaTransport {
    KafkaTransport {
        connection,
        topics: Topics::from_settings(&settings.kafka),
        session_timeout_ms: settings.kafka.kafka_session_timeout_ms,
        max_poll_interval_ms: settings.kafka.kafka_max_poll_interval_ms,
    }
}

/// The brain the conversation actors ask: the agent (which needs the
/// knowledge-base embedder) or the echo brain.
fn conversation_brain(
    settings: &ServeSettings,
    pool: &PgPool,
    embedder: &Option<Arc<dyn Embedder>>,
    kb_search: &Arc<KbSearch>,
) -> Result<Arc<dyn Brain>, StartupError> {
    let brain: Arc<dyn Brain> = match (settings.agent.brain, embedder) {
        (BrainKind::Agent, Some(embedder)) => {
            tracing::info!(embedder = embedder.name(), "agent brain ready");
            Arc::new(AgentBrain::new(pool.clone(), embedder.clone(), kb_search.clone()))
        }
        (BrainKind::Agent, None) => {
            return Err(StartupError::Command("the agent brain needs the knowledge-base embedder".into()));
        }
        (BrainKind::Echo, _) => Arc::new(EchoBrain),
    };
    Ok(brain)
}

/// What the components of a role share while it is built: the pool, the
/// metrics, and the background tasks with the signal that stops them.
struct Wiring<'a> {
    settings: &'a ServeSettings,
    pool: PgPool,
    metrics: Arc<crate::metrics::Metrics>,
    stop: watch::Receiver<bool>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Wiring<'_> {
    /// Starts the conversation runtime (the worker's part). Without Kafka
    /// its replies go to an in-process dispatcher and its events to the log.
    async fn start_runtime(
        &mut self,
        kafka: Option<&KafkaTransport>,
        embedder: &Option<Arc<dyn Embedder>>,
        kb_search: &Arc<KbSearch>,
    ) -> Result<Arc<Runtime>, StartupError> {
        let settings = self.settings;
        let transport = kafka.cloned().map_or(Transport::Embedded, Transport::Kafka);
        let brain = conversation_brain(settings, &self.pool, embedder, kb_search)?;
        let config = RuntimeConfig {
            metrics: self.metrics.clone(),
            ..RuntimeConfig::from_settings(&settings.runtime, settings.shutdown_timeout())
        };
        let runtime = Runtime::start_with(self.pool.clone(), brain, config, transport).await?;
        if kafka.is_none() {
            self.start_embedded_dispatcher(&runtime)?;
        }
        for topic in [topics::METRICS, topics::ESCALATIONS] {
            for partition in runtime.take_topic(topic) {
                tokio::spawn(log_events(topic, partition));
            }
        }
        Ok(runtime)
    }

    /// Embedded mode's dispatcher: its sweeper, and one task per outbound
    /// partition of the runtime.
    fn start_embedded_dispatcher(&mut self, runtime: &Runtime) -> Result<(), StartupError> {
        let dispatcher = self.dispatcher(None)?;
        self.spawn_sweeper(&dispatcher);
        for channel in Channel::ALL {
            for partition in runtime.take_outbound(channel) {
                self.background.push(tokio::spawn(dispatch_partition(
                    dispatcher.clone(),
                    partition,
                    self.stop.clone(),
                )));
            }
        }
        Ok(())
    }

    /// The dispatcher role on Kafka: its consumer group on the outbound
    /// topics, dead letters, and its sweeper.
    fn start_kafka_dispatcher(&mut self, k: &KafkaTransport) -> Result<(), StartupError> {
        let consumer = group_consumer(
            &k.connection,
            &format!("{}fte-dispatcher", k.topics.prefix),
            k.session_timeout_ms,
            k.max_poll_interval_ms,
            LoggedRebalance("dispatcher"),
        )?;
        let dead_letters = DeadLetters { producer: KafkaProducer::new(&k.connection)?, topics: k.topics.clone() };
        let dispatcher = self.dispatcher(Some(dead_letters))?;
        self.spawn_sweeper(&dispatcher);
        self.background.push(tokio::spawn(run_dispatcher(consumer, k.topics.clone(), self.stop.clone(), dispatcher)));
        Ok(())
    }

    fn dispatcher(&self, dead_letters: Option<DeadLetters>) -> Result<Arc<Dispatcher>, StartupError> {
        Dispatcher::new(
            self.pool.clone(),
            &self.settings.channels,
            dead_letters,
            self.stop.clone(),
            self.metrics.clone(),
        )
        .map_err(|e| StartupError::Command(format!("HTTP client: {e}")))
    }

    /// The sweeper that finds replies stuck in delivery.
    fn spawn_sweeper(&mut self, dispatcher: &Arc<Dispatcher>) {
        let channels = &self.settings.channels;
        self.background.push(tokio::spawn(dispatcher.clone().run_sweeper(
            Duration::from_secs(channels.stuck_reply_sweep_secs.max(1)),
            Duration::from_secs(channels.stuck_reply_secs),
        )));
    }

    /// The Gmail client and the channel-account cache every role's HTTP
    /// state holds; the ingress roles (`serve`, `api`) also renew Gmail
    /// watches and reload the accounts in the background.
    fn start_ingress(
        &mut self,
        role: Role,
    ) -> Result<(Arc<crate::channels::gmail::GmailClient>, Arc<crate::crm::AccountCache>), StartupError> {
        let gmail = Arc::new(crate::channels::gmail::GmailClient::new(
            crate::delivery::dispatch::http_client(&self.settings.channels)
                .map_err(|e| StartupError::Command(format!("HTTP client: {e}")))?,
        ));
        if matches!(role, Role::All | Role::Api) {
            self.background.push(tokio::spawn(crate::channels::gmail::run_watch_renewal(
                gmail.clone(),
                self.pool.clone(),
                self.stop.clone(),
            )));
        }
        let accounts = Arc::new(crate::crm::AccountCache::new(self.pool.clone()));
        if matches!(role, Role::All | Role::Api) {
            self.background.push(tokio::spawn(accounts.clone().run_reloads(
                Duration::from_secs(self.settings.channels.channel_accounts_reload_secs.max(1)),
                self.stop.clone(),
            )));
        }
        Ok((gmail, accounts))
    }
}

/// The knowledge base's embedder, built once per process and shared (with
/// one `KbSearch`) by the agent brain and the admin API. A process that
/// runs the agent cannot start without it; any other process starts
/// without one (its knowledge-base edits and search answer 503).
fn kb_embedder(settings: &ServeSettings, required: bool) -> Result<Option<Arc<dyn Embedder>>, StartupError> {
    let embedder = match build_embedder(&settings.agent.embedder) {
        Ok(embedder) => {
            tracing::info!(embedder = embedder.name(), "knowledge-base embedder ready");
            Some(embedder)
        }
        Err(e) if required => return Err(StartupError::Command(e.to_string())),
        Err(e) => {
            tracing::warn!(error = %e, "no knowledge-base embedder: knowledge-base edits and search answer 503");
            None
        }
    };
    Ok(embedder)
}

/// Embedded mode's dispatcher: one task per outbound partition, replies
/// of a partition delivered in order. At shutdown it sends what is already
/// queued and stops; anything later stays `pending` for the next start's
/// recovery.
async fn dispatch_partition(
    dispatcher: Arc<Dispatcher>,
    mut partition: tokio::sync::mpsc::Receiver<OutboundRecord>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let record = if *shutdown.borrow() {
            partition.try_recv().ok()
        } else {
            tokio::select! {
                record = partition.recv() => record,
                _ = shutdown.changed() => continue,
            }
        };
        let Some(record) = record else { return };
        match serde_json::from_value::<OutboundMessage>(record.payload) {
            Ok(out) => {
                if dispatcher.deliver(&out).await == Outcome::Interrupted {
                    return;
                }
            }
            Err(e) => {
                let error = crate::telemetry::Redacted(&e);
                tracing::error!(outbox_id = record.outbox_id, %error, "unreadable outbound record skipped");
            }
        }
    }
}

/// Embedded mode's consumer of `fte.metrics` and `fte.escalations`: the
/// events are logged (Kafka mode publishes them for other consumers).
async fn log_events(topic: &'static str, mut partition: tokio::sync::mpsc::Receiver<OutboundRecord>) {
    while let Some(record) = partition.recv().await {
        tracing::debug!(topic, outbox_id = record.outbox_id, event = %record.payload, "event");
    }
}

/// Runs a role until SIGTERM or Ctrl-C.
pub async fn serve(settings: ServeSettings, role: Role) -> Result<(), StartupError> {
    let app = App::build_role(&settings, role).await?;
    tracing::info!(role = role.as_str(), "starting");
    app.run_until(shutdown::signal()).await
}
