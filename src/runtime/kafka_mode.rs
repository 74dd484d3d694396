//! The runtime's Kafka mode, started: topics ensured at start-up, then the
//! identity router and the conversation consumer (`pipeline`), each a
//! consumer-group member, and the producer inbound messages are published
//! with.

use super::RuntimeConfig;
use crate::actors::{RouterConfig, SupervisorMessage};
use crate::kafka::{
    KafkaConnection, KafkaError, KafkaProducer, LoggedRebalance, Topics, ensure_topics, group_consumer,
};
use crate::pipeline::{ConversationConsumer, InboundPublisher, RebalanceContext, run_identity_router};
use ractor::ActorRef;
use rdkafka::consumer::Consumer;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Debug)]
pub struct KafkaTransport {
    /// Bootstrap servers and security of every client.
    pub connection: KafkaConnection,
    pub topics: Topics,
    pub session_timeout_ms: u32,
    /// Longest pause between polls before a member is considered stuck
    /// (also the rebalance timeout some brokers use to expire members).
    pub max_poll_interval_ms: u32,
}

/// Creates the producer now and starts the consumers in the background:
/// once the topics exist (created here, retried until the broker answers),
/// the identity router and the conversation consumer join their groups. A
/// broker that is down at start-up therefore shows in `/health` instead of
/// keeping the process from starting.
pub(super) async fn start(
    k: &KafkaTransport,
    pool: &PgPool,
    supervisor: &ActorRef<SupervisorMessage>,
    config: &RuntimeConfig,
    stop: watch::Receiver<bool>,
) -> Result<(InboundPublisher, Vec<JoinHandle<()>>), KafkaError> {
    let producer = KafkaProducer::new(&k.connection)?;
    let intake =
        tokio::spawn(run_intake(k.clone(), pool.clone(), supervisor.clone(), config.clone(), producer.clone(), stop));
    Ok((InboundPublisher { producer, topics: k.topics.clone() }, vec![intake]))
}

async fn run_intake(
    k: KafkaTransport,
    pool: PgPool,
    supervisor: ActorRef<SupervisorMessage>,
    config: RuntimeConfig,
    producer: KafkaProducer,
    mut stop: watch::Receiver<bool>,
) {
    let mut delay = Duration::from_millis(500);
    loop {
        match ensure_topics(&k.connection, &k.topics, Duration::from_secs(10)).await {
            Ok(created) => {
                if !created.is_empty() {
                    tracing::info!(?created, "topics created");
                }
                break;
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "cannot ensure Kafka topics; retrying");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
    match consumers(&k, &pool, &supervisor, &config, &producer, stop) {
        Ok((identity, conversations)) => {
            let _ = tokio::join!(identity, conversations);
        }
        Err(error) => tracing::error!(%error, "cannot start the Kafka consumers"),
    }
}

fn consumers(
    k: &KafkaTransport,
    pool: &PgPool,
    supervisor: &ActorRef<SupervisorMessage>,
    config: &RuntimeConfig,
    producer: &KafkaProducer,
    stop: watch::Receiver<bool>,
) -> Result<(JoinHandle<()>, JoinHandle<()>), KafkaError> {
    let identity = group_consumer(
        &k.connection,
        &format!("{}fte-identity", k.topics.prefix),
        k.session_timeout_ms,
        k.max_poll_interval_ms,
        LoggedRebalance("identity-router"),
    )?;
    let inbound: Vec<String> = crate::domain::Channel::ALL.iter().map(|c| k.topics.inbound(*c)).collect();
    let inbound_refs: Vec<&str> = inbound.iter().map(String::as_str).collect();
    identity.subscribe(&inbound_refs).map_err(KafkaError::Config)?;
    let identity_task = tokio::spawn(run_identity_router(
        identity,
        producer.clone(),
        k.topics.clone(),
        pool.clone(),
        Arc::clone(&config.slack_profiles),
        stop.clone(),
    ));

    let tickets = group_consumer(
        &k.connection,
        &format!("{}fte-conversations", k.topics.prefix),
        k.session_timeout_ms,
        k.max_poll_interval_ms,
        RebalanceContext::default(),
    )?;
    tickets.subscribe(&[&k.topics.tickets()]).map_err(KafkaError::Config)?;
    let consumer = ConversationConsumer {
        consumer: Arc::new(tickets),
        supervisor: supervisor.clone(),
        producer: producer.clone(),
        topics: k.topics.clone(),
        // The partition's next owner redelivers whatever did not commit.
        router: RouterConfig { hand_over_on_close: true, ..config.router.clone() },
        drain_timeout: config.drain_timeout,
    };
    let conversation_task = tokio::spawn(consumer.run(stop));
    Ok((identity_task, conversation_task))
}
