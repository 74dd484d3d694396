//! Starting the runtime, step by step: the configuration checked, the
//! supervisor spawned, what feeds the actors started (in-process routers,
//! or the Kafka consumers), the in-process relay topics made, and the
//! background jobs started (outbox relay, inactivity sweeper, erasure
//! watch, the intake's recovery, the retention job).

use super::{RuntimeConfig, RuntimeError, Transport, erasure_watch, kafka_mode, retention, sweeper};
use crate::actors::supervisor::SupervisorArgs;
use crate::actors::{
    ConversationDeps, ConversationSupervisor, Delivery, Registry, SupervisorMessage, SupervisorStats, run_router,
};
use crate::brain::Brain;
use crate::bus::MemoryTopic;
use crate::delivery::OutboxKafkaSink;
use crate::delivery::outbox_relay::{MemoryOutbound, OutboundSink, run_relay};
use crate::domain::{Channel, topics};
use crate::pipeline::InboundPublisher;
use ractor::{Actor, ActorRef};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// The configuration with the pool's share of it filled in (the routers'
/// health check, the admission permits), or why it cannot run.
pub(super) fn checked_config(config: RuntimeConfig, pool: &PgPool) -> Result<RuntimeConfig, RuntimeError> {
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
    Ok(config)
}

/// The running supervisor and what the runtime keeps of it.
pub(super) struct Supervision {
    pub supervisor: ActorRef<SupervisorMessage>,
    pub task: JoinHandle<()>,
    pub registry: Registry,
    pub stats: Arc<SupervisorStats>,
}

/// Spawns the supervisor of the conversation actors; each turn's commit
/// wakes `outbox_notify`.
pub(super) async fn spawn_supervisor(
    pool: &PgPool,
    brain: Arc<dyn Brain>,
    config: &RuntimeConfig,
    outbox_notify: Arc<Notify>,
) -> Result<Supervision, RuntimeError> {
    let deps = Arc::new(ConversationDeps {
        pool: pool.clone(),
        brain,
        outbox_notify,
        approval_threshold: config.approval_threshold,
        snapshot_every: config.snapshot_every.max(1),
        max_conflict_retries: 3,
        metrics: Arc::clone(&config.metrics),
    });
    let registry: Registry = Arc::default();
    let stats: Arc<SupervisorStats> = Arc::default();
    let (supervisor, task) = Actor::spawn(
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
    let task = tokio::spawn(async move {
        let _ = task.await;
    });
    Ok(Supervision { supervisor, task, registry, stats })
}

/// What feeds the actors, by transport.
pub(super) struct Feeds {
    /// Embedded mode: the in-process `fte.tickets.incoming`.
    pub tickets: Option<Arc<MemoryTopic<Delivery>>>,
    /// Kafka mode: the inbound publisher.
    pub kafka: Option<InboundPublisher>,
    /// Kafka mode: where the relay publishes (else the in-process topics).
    pub sink: Option<Arc<dyn OutboundSink>>,
    /// The routers (embedded) or the consumers (Kafka).
    pub tasks: Vec<JoinHandle<()>>,
}

/// Embedded: a router per partition of the in-process tickets topic.
/// Kafka: the worker's consumers, and the relay's Kafka sink.
pub(super) async fn start_feeds(
    transport: Transport,
    pool: &PgPool,
    supervisor: &ActorRef<SupervisorMessage>,
    config: &RuntimeConfig,
    stop: watch::Receiver<bool>,
) -> Result<Feeds, RuntimeError> {
    match transport {
        Transport::Embedded => {
            let tickets = Arc::new(MemoryTopic::new(topics::TICKETS, config.partitions, config.partition_capacity));
            let routers = (0..tickets.partitions())
                .filter_map(|p| tickets.take_partition(p))
                .map(|rx| tokio::spawn(run_router(rx, supervisor.clone(), config.router.clone())))
                .collect();
            Ok(Feeds { tickets: Some(tickets), kafka: None, sink: None, tasks: routers })
        }
        Transport::Kafka(k) => {
            let (publisher, consumers) = kafka_mode::start(&k, pool, supervisor, config, stop).await?;
            let sink: Arc<dyn OutboundSink> =
                Arc::new(OutboxKafkaSink { producer: publisher.producer.clone(), topics: publisher.topics.clone() });
            Ok(Feeds { tickets: None, kafka: Some(publisher), sink: Some(sink), tasks: consumers })
        }
    }
}

/// The in-process relay topics: every channel's outbound topic,
/// `fte.metrics` and `fte.escalations`.
pub(super) fn memory_outbound(config: &RuntimeConfig) -> Arc<MemoryOutbound> {
    let names = Channel::ALL
        .iter()
        .map(|c| topics::outbound(*c))
        .chain([topics::METRICS.to_string(), topics::ESCALATIONS.to_string()]);
    Arc::new(MemoryOutbound {
        topics: names
            .map(|name| {
                let topic = Arc::new(MemoryTopic::new(name.clone(), 3, config.outbound_capacity));
                (name, topic)
            })
            .collect(),
    })
}

/// The outbox relay, the inactivity sweeper and the erasure watch, until
/// `shutdown` turns true.
pub(super) fn start_jobs(
    pool: &PgPool,
    supervisor: &ActorRef<SupervisorMessage>,
    config: &RuntimeConfig,
    sink: Arc<dyn OutboundSink>,
    outbox_notify: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let relay = tokio::spawn(run_relay(pool.clone(), sink, outbox_notify, config.relay_interval, shutdown.clone()));
    let sweeper = tokio::spawn(sweeper::run(
        pool.clone(),
        supervisor.clone(),
        config.inactivity_timeout,
        config.sweep_interval,
        shutdown.clone(),
    ));
    let erasures = tokio::spawn(erasure_watch::run(pool.clone(), supervisor.clone(), shutdown));
    vec![relay, sweeper, erasures]
}

/// The retention job, when this process runs it.
pub(super) fn start_retention(
    pool: &PgPool,
    config: &RuntimeConfig,
    shutdown: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let every = config.retention_interval?;
    let job =
        retention::Retention { pool: pool.clone(), metrics: Arc::clone(&config.metrics), batch: retention::BATCH };
    Some(tokio::spawn(retention::run(job, every, shutdown)))
}
