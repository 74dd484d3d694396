//! Wiring of the `serve` role: database pool (checked to be subject to
//! row-level security), optional broker probe, HTTP server, and graceful
//! shutdown (stop accepting, report not-ready, drain in-flight requests
//! within the deadline).

use crate::brain::EchoBrain;
use crate::bus::OutboundRecord;
use crate::config::ServeSettings;
use crate::conversation::store::{ESCALATIONS_TOPIC, METRICS_TOPIC};
use crate::db::{self, DbError};
use crate::domain::Channel;
use crate::http::{self, AppState, Readiness};
use crate::kafka::{BrokerProbe, KafkaError};
use crate::runtime::{KafkaTransport, Runtime, RuntimeError, Transport};
use crate::shutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

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
}

impl App {
    /// Connects to the database (and checks the role), applies migrations
    /// if asked, prepares the broker probe and binds the HTTP listener.
    pub async fn build(settings: &ServeSettings) -> Result<Self, StartupError> {
        let pool = db::connect(&settings.database).await?;
        db::ensure_unprivileged_role(&pool).await?;
        if settings.migrate_on_start {
            db::migrate(&pool).await?;
        }
        let broker = settings.kafka_brokers().map(BrokerProbe::new).transpose()?;
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .map_err(|source| StartupError::Bind { addr: settings.http_addr, source })?;
        // Until the agent (#5) arrives, the deterministic brain answers.
        let transport = match settings.kafka_brokers() {
            None => Transport::Embedded,
            Some(bootstrap) => Transport::Kafka(KafkaTransport {
                bootstrap: bootstrap.to_string(),
                topics: settings.kafka.topics(),
                session_timeout_ms: settings.kafka.kafka_session_timeout_ms,
                max_poll_interval_ms: settings.kafka.kafka_max_poll_interval_ms,
            }),
        };
        let runtime = Runtime::start_with(
            pool.clone(),
            Arc::new(EchoBrain),
            settings.runtime.runtime_config(settings.shutdown_timeout()),
            transport,
        )
        .await?;
        for channel in Channel::ALL {
            for partition in runtime.take_outbound(channel) {
                tokio::spawn(hold_outbound(channel, partition));
            }
        }
        for topic in [METRICS_TOPIC, ESCALATIONS_TOPIC] {
            for partition in runtime.take_topic(topic) {
                tokio::spawn(log_events(topic, partition));
            }
        }
        let state = AppState {
            pool,
            broker,
            health_timeout: settings.health_check_timeout(),
            ready: Readiness::default(),
            runtime: Some(runtime),
            inject_token: settings.inject_api_token.clone(),
        };
        Ok(Self { listener, state, shutdown_timeout: settings.shutdown_timeout() })
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
        if let Some(runtime) = &self.state.runtime {
            runtime.shutdown().await;
        }
        self.state.pool.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The outbound topics' consumer until the channel adapters (#6) exist:
/// it takes each published reply off the bus and logs it. The message stays
/// `pending` in the database; nothing claims it was delivered.
async fn hold_outbound(channel: Channel, mut partition: tokio::sync::mpsc::Receiver<OutboundRecord>) {
    while let Some(record) = partition.recv().await {
        tracing::info!(
            %channel, outbox_id = record.outbox_id, message_id = %record.payload["message_id"],
            "reply ready; no channel adapter configured yet, left pending"
        );
    }
}

/// Embedded mode's consumer of `fte.metrics` and `fte.escalations`: the
/// events are logged (Kafka mode publishes them for other consumers).
async fn log_events(topic: &'static str, mut partition: tokio::sync::mpsc::Receiver<OutboundRecord>) {
    while let Some(record) = partition.recv().await {
        tracing::debug!(topic, outbox_id = record.outbox_id, event = %record.payload, "event");
    }
}

/// The `serve` subcommand: build, then run until SIGTERM or Ctrl-C.
pub async fn serve(settings: ServeSettings) -> Result<(), StartupError> {
    let app = App::build(&settings).await?;
    app.run_until(shutdown::signal()).await
}
