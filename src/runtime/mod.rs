//! The conversation runtime in one process: the supervisor and its actors,
//! a router per partition of the in-process `fte.tickets.incoming` topic,
//! the outbox relay, the inactivity sweeper and the retention job
//! (`retention`). `Runtime::submit` is the
//! library entry point (tests, the bench harness, the inject route): it
//! resolves the customer, publishes the message keyed by customer, and
//! returns once the turn is committed.

mod erasure_watch;
mod intake;
mod kafka_mode;
pub mod retention;
mod sweeper;

pub use kafka_mode::{KafkaParts, KafkaTransport};

/// How messages reach the actors.
#[derive(Clone, Debug)]
pub enum Transport {
    /// One process, in-process bus.
    Embedded,
    /// Kafka: this process is a worker in a consumer group.
    Kafka(KafkaTransport),
}

/// What `Runtime::accept` did with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Embedded: the turn is committed.
    Committed(TurnReceipt),
    /// Kafka: the inbound topic has it.
    Queued { topic: String, partition: i32, offset: i64 },
}

use crate::actors::router::{DeliveryFailed, DeliveryResult};
use crate::actors::supervisor::{self, SupervisorArgs};
use crate::actors::{
    ConversationActorMessage, ConversationDeps, ConversationSupervisor, Delivery, HumanAction, HumanOutcome,
    HumanRefusal, Registry, ResidentActor, RouterConfig, StatsSnapshot, SupervisorConfig, SupervisorMessage,
    SupervisorStats, TurnReceipt, run_router,
};
use crate::brain::Brain;
use crate::bus::{MemoryTopic, OutboundRecord, PartitionReceiver};
use crate::config::RuntimeSettings;
use crate::conversation::store::{ESCALATIONS_TOPIC, METRICS_TOPIC, outbound_topic};
use crate::conversation::{ConversationState, Event};
use crate::crm::{CrmError, SlackProfiles, resolve_customer};
use crate::db::Patience;
use crate::domain::{Channel, ConversationId, CustomerId, InboundMessage, TenantId, TicketMessage};
use crate::kafka::KafkaOutbound;
use crate::outbox::{MemoryOutbound, OutboundSink, run_relay};
use crate::telemetry::{Redacted, provider_id};
use ractor::{Actor, ActorRef, RpcReplyPort};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

pub const TICKETS_TOPIC: &str = "fte.tickets.incoming";

#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub partitions: usize,
    pub partition_capacity: usize,
    pub router: RouterConfig,
    pub supervisor: SupervisorConfig,
    pub approval_threshold: f32,
    pub snapshot_every: u64,
    pub inactivity_timeout: Duration,
    pub sweep_interval: Duration,
    pub relay_interval: Duration,
    pub outbound_capacity: usize,
    /// How long shutdown waits for in-flight turns.
    pub drain_timeout: Duration,
    /// Turns in progress at once in this process; `None`: as many as the
    /// database pool has connections (a turn holds at most one at a time).
    pub turn_concurrency: Option<usize>,
    /// Where turns are counted (the process's `/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// How often the retention job runs; `None`: it does not run here.
    pub retention_interval: Option<Duration>,
    /// Reads a Slack sender's profile (email, name) before their message is
    /// resolved to a customer (`crm::SlackProfiles`), here or in the Kafka
    /// identity router.
    pub slack_profiles: Arc<SlackProfiles>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            partitions: 12,
            partition_capacity: 1024,
            router: RouterConfig::default(),
            supervisor: SupervisorConfig::default(),
            approval_threshold: 0.65,
            snapshot_every: 100,
            inactivity_timeout: Duration::from_secs(24 * 3600),
            sweep_interval: Duration::from_secs(60),
            relay_interval: Duration::from_secs(1),
            outbound_capacity: 65_536,
            drain_timeout: Duration::from_secs(30),
            turn_concurrency: None,
            metrics: Arc::default(),
            retention_interval: None,
            slack_profiles: Arc::default(),
        }
    }
}

impl RuntimeConfig {
    /// The configuration the `serve` role's flags describe, draining for
    /// `drain_timeout` on shutdown; the rest keeps its default.
    pub fn from_settings(settings: &RuntimeSettings, drain_timeout: Duration) -> Self {
        let defaults = RuntimeConfig::default();
        RuntimeConfig {
            partitions: settings.runtime_partitions.max(1),
            router: RouterConfig { max_attempts: settings.max_delivery_attempts.max(1), ..defaults.router },
            supervisor: SupervisorConfig {
                idle_timeout: Duration::from_secs(settings.actor_idle_timeout_secs),
                max_active: settings.max_active_actors.max(1),
                tick: Duration::from_secs((settings.actor_idle_timeout_secs / 4).clamp(1, 30)),
            },
            approval_threshold: settings.approval_threshold,
            snapshot_every: settings.snapshot_every.max(1),
            inactivity_timeout: Duration::from_secs(settings.inactivity_timeout_secs),
            drain_timeout,
            turn_concurrency: settings.turn_concurrency,
            retention_interval: (settings.retention_interval_secs > 0)
                .then(|| Duration::from_secs(settings.retention_interval_secs)),
            ..defaults
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot start the conversation supervisor: {0}")]
    Spawn(String),
    #[error("invalid runtime configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Kafka(#[from] crate::kafka::KafkaError),
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Identity(#[from] CrmError),
    #[error("the runtime is shutting down")]
    Closed,
    #[error(transparent)]
    Failed(#[from] DeliveryFailed),
    #[error("the message was accepted but its outcome was lost")]
    OutcomeLost,
    #[error("{0}")]
    Refused(String),
    /// Embedded mode: as many messages are waiting as the in-process bus
    /// holds; nothing was stored.
    #[error("too many messages waiting; retry in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// The message could not be stored (the database away or busy).
    #[error("cannot store the message: {0}")]
    Store(sqlx::Error),
}

impl SubmitError {
    /// Whether the same message is expected to go through once a passing
    /// condition is over (the database away, the intake full).
    pub fn is_transient(&self) -> bool {
        match self {
            SubmitError::Identity(CrmError::Database(e)) | SubmitError::Store(e) => crate::db::is_transient(e),
            SubmitError::Identity(CrmError::Contention(_)) | SubmitError::OutcomeLost | SubmitError::Busy { .. } => {
                true
            }
            _ => false,
        }
    }
}

/// How a message taken in for a webhook was made durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// Embedded: its intake row is committed (its turn runs after).
    Stored,
    /// Embedded: the same provider message was taken before and waits.
    AlreadyWaiting,
    /// Kafka: the inbound topic has it.
    Queued { topic: String, partition: i32, offset: i64 },
}

pub struct Runtime {
    supervisor: ActorRef<SupervisorMessage>,
    supervisor_task: JoinHandle<()>,
    registry: Registry,
    stats: Arc<SupervisorStats>,
    /// Embedded mode: the in-process `fte.tickets.incoming`.
    tickets: Option<Arc<MemoryTopic<Delivery>>>,
    /// Kafka mode: the producer and topic names.
    kafka: Option<kafka_mode::KafkaParts>,
    /// What feeds the actors: routers (embedded) or consumers (Kafka).
    intake: Mutex<Vec<JoinHandle<()>>>,
    intake_stop: watch::Sender<bool>,
    outbound: Arc<MemoryOutbound>,
    background: Mutex<Vec<JoinHandle<()>>>,
    shutdown: watch::Sender<bool>,
    pool: PgPool,
    config: RuntimeConfig,
    /// Embedded mode: messages taken in whose turn has not settled yet.
    intake_waiting: Arc<std::sync::atomic::AtomicUsize>,
}

impl Runtime {
    /// Starts the embedded runtime (in-process bus).
    pub async fn start(pool: PgPool, brain: Arc<dyn Brain>, config: RuntimeConfig) -> Result<Arc<Self>, RuntimeError> {
        Self::start_with(pool, brain, config, Transport::Embedded).await
    }

    /// Starts the runtime on the given transport. With Kafka, this process
    /// is a worker: it routes identities, consumes its share of
    /// `fte.tickets.incoming` and relays the outbox to Kafka.
    pub async fn start_with(
        pool: PgPool,
        brain: Arc<dyn Brain>,
        config: RuntimeConfig,
        transport: Transport,
    ) -> Result<Arc<Self>, RuntimeError> {
        let mut config = config;
        config.router.health.get_or_insert_with(|| pool.clone());
        let permits = config.turn_concurrency.unwrap_or(pool.options().get_max_connections() as usize).max(1);
        config.router.admission = Arc::new(tokio::sync::Semaphore::new(permits));
        if !(0.0..=1.0).contains(&config.approval_threshold) {
            return Err(RuntimeError::Config(format!(
                "approval threshold {} is not within 0..1",
                config.approval_threshold
            )));
        }
        let outbox_notify = Arc::new(Notify::new());
        let deps = Arc::new(ConversationDeps {
            pool: pool.clone(),
            brain,
            outbox_notify: Arc::clone(&outbox_notify),
            approval_threshold: config.approval_threshold,
            snapshot_every: config.snapshot_every.max(1),
            max_conflict_retries: 3,
            metrics: Arc::clone(&config.metrics),
        });
        let registry: Registry = Arc::default();
        let stats: Arc<SupervisorStats> = Arc::default();
        let (supervisor, supervisor_task) = Actor::spawn(
            None,
            ConversationSupervisor,
            SupervisorArgs {
                deps,
                config: config.supervisor.clone(),
                registry: Arc::clone(&registry),
                stats: Arc::clone(&stats),
            },
        )
        .await
        .map_err(|e| RuntimeError::Spawn(e.to_string()))?;
        let supervisor_task = tokio::spawn(async move {
            let _ = supervisor_task.await;
        });

        let (shutdown, shutdown_rx) = watch::channel(false);
        let (intake_stop, intake_rx) = watch::channel(false);
        let (tickets, kafka, sink, intake): (_, _, Option<Arc<dyn OutboundSink>>, Vec<JoinHandle<()>>) = match transport
        {
            Transport::Embedded => {
                let tickets = Arc::new(MemoryTopic::new(TICKETS_TOPIC, config.partitions, config.partition_capacity));
                let routers = (0..tickets.partitions())
                    .filter_map(|p| tickets.take_partition(p))
                    .map(|rx| tokio::spawn(run_router(rx, supervisor.clone(), config.router.clone())))
                    .collect();
                (Some(tickets), None, None, routers)
            }
            Transport::Kafka(k) => {
                let (parts, consumers) = kafka_mode::start(&k, &pool, &supervisor, &config, intake_rx).await?;
                let sink: Arc<dyn OutboundSink> =
                    Arc::new(KafkaOutbound { producer: parts.producer.clone(), topics: parts.topics.clone() });
                (None, Some(parts), Some(sink), consumers)
            }
        };

        let names = Channel::ALL
            .iter()
            .map(|c| outbound_topic(*c))
            .chain([METRICS_TOPIC.to_string(), ESCALATIONS_TOPIC.to_string()]);
        let outbound = Arc::new(MemoryOutbound {
            topics: names
                .map(|name| {
                    let topic = Arc::new(MemoryTopic::new(name.clone(), 3, config.outbound_capacity));
                    (name, topic)
                })
                .collect(),
        });
        let relay = tokio::spawn(run_relay(
            pool.clone(),
            sink.unwrap_or_else(|| Arc::clone(&outbound) as Arc<_>),
            outbox_notify,
            config.relay_interval,
            shutdown_rx.clone(),
        ));
        let sweeper = tokio::spawn(run_sweeper(
            pool.clone(),
            supervisor.clone(),
            config.inactivity_timeout,
            config.sweep_interval,
            shutdown_rx.clone(),
        ));
        let erasures = tokio::spawn(erasure_watch::run(pool.clone(), supervisor.clone(), shutdown_rx));
        let runtime = Arc::new(Self {
            supervisor,
            supervisor_task,
            registry,
            stats,
            tickets,
            kafka,
            intake: Mutex::new(intake),
            intake_stop,
            outbound,
            background: Mutex::new(vec![relay, sweeper, erasures]),
            shutdown,
            pool,
            config,
            intake_waiting: Arc::default(),
        });
        if runtime.kafka.is_none() {
            let recovery = tokio::spawn(Arc::clone(&runtime).recover_intake());
            if let Ok(mut background) = runtime.background.lock() {
                background.push(recovery);
            }
        }
        if let Some(every) = runtime.config.retention_interval {
            let job = retention::Retention {
                pool: runtime.pool.clone(),
                metrics: Arc::clone(&runtime.config.metrics),
                batch: retention::BATCH,
            };
            let task = tokio::spawn(retention::run(job, every, runtime.shutdown.subscribe()));
            if let Ok(mut background) = runtime.background.lock() {
                background.push(task);
            }
        }
        Ok(runtime)
    }

    /// Takes a customer message in for a webhook and returns once it is
    /// durable, before its turn runs. Embedded: its intake row is committed
    /// and the turn follows in the background (`intake`); Kafka: the
    /// inbound topic has it. A full intake refuses the message before
    /// storing anything.
    pub async fn take(self: &Arc<Self>, message: InboundMessage) -> Result<Taken, SubmitError> {
        let message = message.cleaned();
        if let Some(kafka) = &self.kafka {
            let (topic, partition, offset) = kafka.publish_inbound(&message).await?;
            return Ok(Taken::Queued { topic, partition, offset });
        }
        let capacity = self.config.partitions * self.config.partition_capacity;
        if self.intake_waiting.load(std::sync::atomic::Ordering::Relaxed) >= capacity {
            return Err(SubmitError::Busy { retry_after_secs: 2 });
        }
        match intake::store(&self.pool, &message).await.map_err(SubmitError::Store)? {
            Some(id) => {
                self.process_intake(id, message);
                Ok(Taken::Stored)
            }
            None => Ok(Taken::AlreadyWaiting),
        }
    }

    /// Runs a stored message's turn in the background, waiting out passing
    /// failures, and removes its intake row once the turn has settled.
    fn process_intake(self: &Arc<Self>, id: intake::IntakeId, message: InboundMessage) {
        use std::sync::atomic::Ordering;
        self.intake_waiting.fetch_add(1, Ordering::Relaxed);
        let runtime = Arc::clone(self);
        tokio::spawn(async move {
            let tenant = message.tenant_id;
            let mut patience = Patience::new(Duration::from_millis(100));
            let settled = loop {
                match runtime.submit(message.clone()).await {
                    Ok(_) | Err(SubmitError::Failed(_)) => break true,
                    Err(e) if e.is_transient() => {
                        let (external_id, error) = (provider_id(&message.external_id), Redacted(&e));
                        tracing::warn!(tenant_id = %tenant, %external_id, %error, "stored message not taken up yet; retrying");
                        patience.wait().await;
                    }
                    Err(e) => {
                        // Shutting down (the row is taken up at the next
                        // start) or refused for good (reported).
                        if !matches!(e, SubmitError::Closed) {
                            let (external_id, error) = (provider_id(&message.external_id), Redacted(&e));
                            tracing::error!(tenant_id = %tenant, %external_id, %error, "stored message cannot be taken up");
                        }
                        break false;
                    }
                }
            };
            if settled {
                let mut patience = Patience::new(Duration::from_millis(100));
                while let Err(e) = intake::remove(&runtime.pool, tenant, id).await {
                    if !crate::db::is_transient(&e) || runtime.is_shutting_down() {
                        // Left behind: taken up again at the next start and
                        // recognised by its turn as done.
                        tracing::warn!(tenant_id = %tenant, error = %e, "cannot remove a settled intake row");
                        break;
                    }
                    patience.wait().await;
                }
            }
            runtime.intake_waiting.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// At start-up: takes up again every message a crash left in the
    /// intake, oldest first, waiting for the database if it is away.
    async fn recover_intake(self: Arc<Self>) {
        let mut patience = Patience::new(Duration::from_millis(250));
        let rows = loop {
            match intake::leftovers(&self.pool).await {
                Ok(rows) => break rows,
                Err(e) if crate::db::is_transient(&e) && !self.is_shutting_down() => {
                    tracing::warn!(error = %e, "cannot read the intake yet; retrying");
                    patience.wait().await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the intake: messages left by a crash stay there");
                    return;
                }
            }
        };
        if !rows.is_empty() {
            tracing::info!(messages = rows.len(), "taking up messages stored before a restart");
        }
        for (id, tenant, message) in rows {
            match message {
                Ok(message) => self.process_intake(id, message),
                Err(e) => {
                    tracing::error!(tenant_id = %tenant, intake_id = id.0, error = %Redacted(&e), "unreadable intake row left in place")
                }
            }
        }
    }

    fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Takes a customer message in. Embedded: returns once its turn is
    /// committed. Kafka: returns once the inbound topic has it (durable);
    /// a worker takes it from there.
    pub async fn accept(&self, message: InboundMessage) -> Result<Accepted, SubmitError> {
        let message = message.cleaned();
        match &self.kafka {
            None => self.submit(message).await.map(Accepted::Committed),
            Some(kafka) => kafka.publish_inbound(&message).await.map(|(topic, partition, offset)| Accepted::Queued {
                topic,
                partition,
                offset,
            }),
        }
    }

    /// Resolves the sender (a Slack sender's profile read first, see
    /// `crm::SlackProfiles`), then routes the message to their actor;
    /// returns once the turn is committed (or has finally failed).
    pub async fn submit(&self, message: InboundMessage) -> Result<TurnReceipt, SubmitError> {
        let message = self.config.slack_profiles.enrich(&self.pool, message.cleaned()).await;
        let identifiers = message.all_identifiers();
        let resolution =
            resolve_customer(&self.pool, message.tenant_id, &identifiers, message.display_name.as_deref()).await?;
        self.submit_resolved(TicketMessage { customer_id: resolution.customer_id, message }).await
    }

    /// Routes a message whose customer is known.
    pub async fn submit_resolved(&self, ticket: TicketMessage) -> Result<TurnReceipt, SubmitError> {
        self.enqueue_resolved(ticket).await?.await
    }

    /// Publishes a message whose customer is known and returns at once with
    /// a future of its outcome: messages enqueued one after the other are
    /// processed in that order.
    pub async fn enqueue_resolved(
        &self,
        ticket: TicketMessage,
    ) -> Result<impl std::future::Future<Output = Result<TurnReceipt, SubmitError>> + use<>, SubmitError> {
        let (tx, rx) = oneshot::channel::<DeliveryResult>();
        let key = ticket.customer_id.to_string();
        let tickets = self.tickets.as_ref().ok_or_else(|| {
            SubmitError::Refused("with Kafka, messages enter through the inbound topics (Runtime::accept)".into())
        })?;
        tickets
            .publish(key.as_bytes(), |offset| Delivery::new(offset, ticket, Some(tx)))
            .await
            .map_err(|_| SubmitError::Closed)?;
        Ok(async move {
            match rx.await {
                Ok(result) => Ok(result?),
                Err(_) => Err(SubmitError::OutcomeLost),
            }
        })
    }

    /// Applies a non-message event to a customer's conversation.
    pub async fn apply(&self, tenant: TenantId, customer: CustomerId, event: Event) -> Result<u64, SubmitError> {
        let (tx, rx) = oneshot::channel();
        let message = ConversationActorMessage::Apply(event, RpcReplyPort::from(tx));
        self.supervisor
            .cast(SupervisorMessage::Route { tenant, customer, message })
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::OutcomeLost)?.map_err(SubmitError::Refused)
    }

    /// A support agent's reply or decision on a draft, carried out by the
    /// customer's actor (the outer error: it never got there).
    pub async fn human(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        conversation: ConversationId,
        action: HumanAction,
    ) -> Result<Result<HumanOutcome, HumanRefusal>, SubmitError> {
        let (tx, rx) = oneshot::channel();
        let message = ConversationActorMessage::Human(conversation, action, RpcReplyPort::from(tx));
        self.supervisor
            .cast(SupervisorMessage::Route { tenant, customer, message })
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::OutcomeLost)
    }

    /// The actor's view of a customer's conversation (spawning it if needed).
    pub async fn inspect(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<(Option<ConversationId>, ConversationState), SubmitError> {
        let (tx, rx) = oneshot::channel();
        let message = ConversationActorMessage::Inspect(RpcReplyPort::from(tx));
        self.supervisor
            .cast(SupervisorMessage::Route { tenant, customer, message })
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::OutcomeLost)
    }

    /// Restarts a customer's actor: the running one drains and stops, and
    /// a successor rehydrates from PostgreSQL at once (so a conversation
    /// fixed in the database by hand is picked up). Answers the state the
    /// successor loaded.
    pub async fn restart(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<(Option<ConversationId>, ConversationState), SubmitError> {
        self.passivate(customer).await?;
        let loaded = self.inspect(tenant, customer).await?;
        self.stats.restarted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(loaded)
    }

    /// Passivates a customer's actor now; answers whether it was resident.
    pub async fn passivate(&self, customer: CustomerId) -> Result<bool, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.supervisor
            .cast(SupervisorMessage::Passivate(customer, RpcReplyPort::from(tx)))
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::OutcomeLost)
    }

    /// Takes the consumer ends of a channel's outbound topic (once): the
    /// dispatcher's input.
    pub fn take_outbound(&self, channel: Channel) -> Vec<PartitionReceiver<OutboundRecord>> {
        self.take_topic(&outbound_topic(channel))
    }

    /// Takes the consumer ends of an in-process relay topic (the outbound
    /// topics, `fte.metrics`, `fte.escalations`); empty in Kafka mode.
    pub fn take_topic(&self, name: &str) -> Vec<PartitionReceiver<OutboundRecord>> {
        let Some(topic) = self.outbound.topics.get(name) else { return vec![] };
        (0..topic.partitions()).filter_map(|p| topic.take_partition(p)).collect()
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot(self.registry.len())
    }

    pub fn resident(&self) -> Vec<ResidentActor> {
        let mut actors = supervisor::resident(&self.registry);
        if let Some(tickets) = &self.tickets {
            for a in &mut actors {
                a.partition =
                    Some(crate::bus::partition_of(a.customer_id.to_string().as_bytes(), tickets.partitions()));
            }
        }
        actors
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Stops taking messages, lets every in-flight turn commit (within the
    /// drain timeout), drains the actors, publishes the outbox once more,
    /// and stops.
    pub async fn shutdown(&self) {
        if let Some(tickets) = &self.tickets {
            tickets.close();
        }
        let _ = self.intake_stop.send(true);
        let intake: Vec<_> = self.intake.lock().map(|mut r| r.drain(..).collect()).unwrap_or_default();
        let deadline = self.config.drain_timeout;
        if tokio::time::timeout(deadline, async {
            for r in intake {
                let _ = r.await;
            }
        })
        .await
        .is_err()
        {
            tracing::warn!("routers did not drain within the deadline");
        }
        let (tx, rx) = oneshot::channel();
        if self.supervisor.cast(SupervisorMessage::DrainAll(deadline, RpcReplyPort::from(tx))).is_ok() {
            let _ = rx.await;
        }
        self.supervisor.stop(Some("shutdown".into()));
        let _ = self.shutdown.send(true);
        // Closed first, so a relay waiting on a full in-process topic with no
        // reader gives up (its rows stay unpublished for the next start).
        for topic in self.outbound.topics.values() {
            topic.close();
        }
        let background: Vec<_> = self.background.lock().map(|mut b| b.drain(..).collect()).unwrap_or_default();
        for task in background {
            let _ = task.await;
        }
        tracing::info!("conversation runtime stopped");
    }

    /// True once the supervisor has stopped.
    pub fn is_stopped(&self) -> bool {
        self.supervisor_task.is_finished()
    }
}

async fn run_sweeper(
    pool: PgPool,
    supervisor: ActorRef<SupervisorMessage>,
    inactivity: Duration,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        match sweeper::sweep(&pool, &supervisor, inactivity).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(resolved = n, "inactive conversations resolved"),
            Err(e) => tracing::warn!(error = %e, "inactivity sweep failed"),
        }
    }
}
