//! Wiring of the `serve` role: database pool (checked to be subject to
//! row-level security), optional broker probe, HTTP server, and graceful
//! shutdown (stop accepting, report not-ready, drain in-flight requests
//! within the deadline).

use crate::agent::AgentBrain;
use crate::agent::settings::BrainKind;
use crate::brain::{Brain, EchoBrain};
use crate::bus::OutboundRecord;
use crate::config::ServeSettings;
use crate::conversation::store::{ESCALATIONS_TOPIC, METRICS_TOPIC};
use crate::db::{self, DbError};
use crate::dispatch::{DeadLetters, Dispatcher, Outcome};
use crate::domain::Channel;
use crate::domain::OutboundMessage;
use crate::http::{self, AppState, ChannelIngress, Readiness};
use crate::kafka::{BrokerProbe, KafkaError, KafkaProducer, LoggedRebalance, group_consumer, run_dispatcher};
use crate::kb::{Embedder, KbSearch};
use crate::runtime::{KafkaParts, KafkaTransport, Runtime, RuntimeError, Transport};
use crate::shutdown;
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
        let pool = db::connect_waiting(&settings.database).await?;
        db::ensure_unprivileged_role(&pool).await?;
        if settings.migrate_on_start {
            db::migrate(&pool).await?;
        }
        // The worker reports its groups' lag; other roles only connectivity.
        let broker = match settings.kafka_brokers() {
            None => None,
            Some(bootstrap) if matches!(role, Role::All | Role::Worker) => {
                let topics = settings.kafka.topics();
                let inbound = Channel::ALL.iter().map(|c| topics.inbound(*c)).collect();
                Some(
                    BrokerProbe::with_groups(
                        bootstrap,
                        vec![
                            (format!("{}fte-identity", topics.prefix), inbound),
                            (format!("{}fte-conversations", topics.prefix), vec![topics.tickets()]),
                        ],
                    )?
                    .watching_dlq(topics.dlq()),
                )
            }
            Some(bootstrap) => Some(BrokerProbe::new(bootstrap)?.watching_dlq(settings.kafka.topics().dlq())),
        };
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .map_err(|source| StartupError::Bind { addr: settings.http_addr, source })?;
        let kafka = settings.kafka_brokers().map(|bootstrap| KafkaTransport {
            bootstrap: bootstrap.to_string(),
            topics: settings.kafka.topics(),
            session_timeout_ms: settings.kafka.kafka_session_timeout_ms,
            max_poll_interval_ms: settings.kafka.kafka_max_poll_interval_ms,
        });
        let (background_stop, background_rx) = watch::channel(false);
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let mut background = Vec::new();
        let runs_agent = matches!(role, Role::All | Role::Worker) && settings.agent.brain == BrainKind::Agent;
        let embedder = kb_embedder(settings, runs_agent)?;
        let kb_search = Arc::new(KbSearch::new());
        let runtime = if matches!(role, Role::All | Role::Worker) {
            let transport = kafka.clone().map_or(Transport::Embedded, Transport::Kafka);
            let brain: Arc<dyn Brain> = match (settings.agent.brain, &embedder) {
                (BrainKind::Agent, Some(embedder)) => {
                    tracing::info!(embedder = embedder.name(), "agent brain ready");
                    Arc::new(AgentBrain::new(pool.clone(), embedder.clone(), kb_search.clone()))
                }
                (BrainKind::Agent, None) => {
                    return Err(StartupError::Command("the agent brain needs the knowledge-base embedder".into()));
                }
                (BrainKind::Echo, _) => Arc::new(EchoBrain),
            };
            let config = crate::runtime::RuntimeConfig {
                metrics: metrics.clone(),
                ..settings.runtime.runtime_config(settings.shutdown_timeout())
            };
            let runtime = Runtime::start_with(pool.clone(), brain, config, transport).await?;
            if kafka.is_none() {
                let dispatcher =
                    Dispatcher::new(pool.clone(), &settings.channels, None, background_rx.clone(), metrics.clone())
                        .map_err(|e| StartupError::Command(format!("HTTP client: {e}")))?;
                background.push(tokio::spawn(dispatcher.clone().run_sweeper(
                    Duration::from_secs(settings.channels.stuck_reply_sweep_secs.max(1)),
                    Duration::from_secs(settings.channels.stuck_reply_secs),
                )));
                for channel in Channel::ALL {
                    for partition in runtime.take_outbound(channel) {
                        background.push(tokio::spawn(dispatch_partition(
                            dispatcher.clone(),
                            partition,
                            background_rx.clone(),
                        )));
                    }
                }
            }
            for topic in [METRICS_TOPIC, ESCALATIONS_TOPIC] {
                for partition in runtime.take_topic(topic) {
                    tokio::spawn(log_events(topic, partition));
                }
            }
            Some(runtime)
        } else {
            None
        };
        if let Some(k) = kafka.as_ref().filter(|_| matches!(role, Role::All | Role::Dispatcher)) {
            let consumer = group_consumer(
                &k.bootstrap,
                &format!("{}fte-dispatcher", k.topics.prefix),
                k.session_timeout_ms,
                k.max_poll_interval_ms,
                LoggedRebalance("dispatcher"),
            )?;
            let dead_letters = DeadLetters { producer: KafkaProducer::new(&k.bootstrap)?, topics: k.topics.clone() };
            let dispatcher = Dispatcher::new(
                pool.clone(),
                &settings.channels,
                Some(dead_letters),
                background_rx.clone(),
                metrics.clone(),
            )
            .map_err(|e| StartupError::Command(format!("HTTP client: {e}")))?;
            background.push(tokio::spawn(dispatcher.clone().run_sweeper(
                Duration::from_secs(settings.channels.stuck_reply_sweep_secs.max(1)),
                Duration::from_secs(settings.channels.stuck_reply_secs),
            )));
            background.push(tokio::spawn(run_dispatcher(
                consumer,
                k.topics.clone(),
                background_rx.clone(),
                dispatcher,
            )));
        }
        let publisher = match (&kafka, role) {
            (Some(k), Role::Api) => {
                Some(Arc::new(KafkaParts { producer: KafkaProducer::new(&k.bootstrap)?, topics: k.topics.clone() }))
            }
            _ => None,
        };
        let gmail = Arc::new(crate::gmail::GmailClient::new(
            crate::dispatch::http_client(&settings.channels)
                .map_err(|e| StartupError::Command(format!("HTTP client: {e}")))?,
        ));
        if matches!(role, Role::All | Role::Api) {
            background.push(tokio::spawn(crate::gmail::run_watch_renewal(
                gmail.clone(),
                pool.clone(),
                background_rx.clone(),
            )));
        }
        let accounts = Arc::new(crate::crm::AccountCache::new(pool.clone()));
        if matches!(role, Role::All | Role::Api) {
            background.push(tokio::spawn(accounts.clone().run_reloads(
                Duration::from_secs(settings.channels.channel_accounts_reload_secs.max(1)),
                background_rx.clone(),
            )));
        }
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

/// The knowledge base's embedder, built once per process and shared (with
/// one `KbSearch`) by the agent brain and the admin API. A process that
/// runs the agent cannot start without it; any other process starts
/// without one (its knowledge-base edits and search answer 503).
fn kb_embedder(settings: &ServeSettings, required: bool) -> Result<Option<Arc<dyn Embedder>>, StartupError> {
    let embedder = match settings.agent.embedder.build() {
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
            Err(e) => tracing::error!(outbox_id = record.outbox_id, error = %e, "unreadable outbound record skipped"),
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
