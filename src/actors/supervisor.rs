//! `ConversationSupervisor`: owns the registry of resident conversation
//! actors (`DashMap<CustomerId, Slot>`), spawns one on a customer's first
//! message, passivates idle ones (after draining their queue), evicts the
//! least recently used beyond `max_active`, and survives any child failure:
//! the failed actor is dropped from the registry and the next message for
//! that customer spawns a fresh one, which rehydrates from PostgreSQL.
//!
//! Spawning runs outside the supervisor's own mailbox (a child's
//! `pre_start` reads the database), so one slow rehydration never delays
//! messages for other customers; messages that arrive meanwhile wait in the
//! slot and are delivered in order once the actor is up.

use super::conversation::{
    ConversationActor, ConversationActorArgs, ConversationActorMessage, ConversationDeps, TurnFailure,
};
use crate::conversation::store::StoreError;
use crate::domain::{CustomerId, TenantId};
use crate::telemetry::Redacted;
use dashmap::DashMap;
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct SupervisorConfig {
    /// An actor that received nothing for this long is passivated.
    pub idle_timeout: Duration,
    /// More resident actors than this: the least recently used are passivated.
    pub max_active: usize,
    /// How often idleness is checked.
    pub tick: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(600), max_active: 100_000, tick: Duration::from_secs(30) }
    }
}

/// Counters and recent rehydration times, readable without messaging the
/// supervisor.
#[derive(Default)]
pub struct SupervisorStats {
    pub spawned: AtomicU64,
    pub passivated: AtomicU64,
    pub restarted: AtomicU64,
    pub evicted: AtomicU64,
    pub failed: AtomicU64,
    pub spawn_failures: AtomicU64,
    rehydrations_us: Mutex<Vec<u64>>,
}

#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct StatsSnapshot {
    pub resident: usize,
    /// Actors started, each one rehydrated from PostgreSQL.
    pub spawned: u64,
    pub passivated: u64,
    /// Actors an operator restarted.
    pub restarted: u64,
    pub evicted: u64,
    pub failed: u64,
    pub spawn_failures: u64,
    pub rehydration_p50_ms: f64,
    pub rehydration_p95_ms: f64,
}

const REHYDRATION_SAMPLES: usize = 4096;

impl SupervisorStats {
    fn record_rehydration(&self, took: Duration) {
        if let Ok(mut samples) = self.rehydrations_us.lock() {
            if samples.len() >= REHYDRATION_SAMPLES {
                samples.remove(0);
            }
            samples.push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        }
    }

    fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
        sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
    }

    pub fn snapshot(&self, resident: usize) -> StatsSnapshot {
        let mut samples = self.rehydrations_us.lock().map(|s| s.clone()).unwrap_or_default();
        samples.sort_unstable();
        StatsSnapshot {
            resident,
            spawned: self.spawned.load(Ordering::Relaxed),
            passivated: self.passivated.load(Ordering::Relaxed),
            restarted: self.restarted.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            spawn_failures: self.spawn_failures.load(Ordering::Relaxed),
            rehydration_p50_ms: Self::percentile_ms(&samples, 0.50),
            rehydration_p95_ms: Self::percentile_ms(&samples, 0.95),
        }
    }
}

/// Messages cast to an actor and not yet taken up by it (its mailbox):
/// the supervisor adds, the actor takes away.
pub type Queued = Arc<std::sync::atomic::AtomicUsize>;

/// A registry entry.
pub enum Slot {
    /// The actor is being spawned (rehydrating); messages wait here.
    Starting {
        generation: u64,
        tenant: TenantId,
        pending: Vec<ConversationActorMessage>,
        queued: Queued,
    },
    Running {
        actor: ActorRef<ConversationActorMessage>,
        tenant: TenantId,
        last_activity: Instant,
        queued: Queued,
    },
    /// Passivating: its queue drains, then it stops; new messages wait here
    /// and go to its successor.
    Draining {
        actor: ActorRef<ConversationActorMessage>,
        tenant: TenantId,
        pending: Vec<ConversationActorMessage>,
    },
}

/// One resident actor, as operators see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ResidentActor {
    pub customer_id: CustomerId,
    pub tenant_id: TenantId,
    /// `starting` (rehydrating), `running` or `draining` (passivating).
    pub status: &'static str,
    pub idle_ms: u64,
    /// Messages waiting for this actor.
    pub queue_depth: usize,
    /// The `fte.tickets.incoming` partition its messages arrive on (the
    /// in-process bus; `None` with Kafka, where the broker assigns it).
    pub partition: Option<usize>,
    /// Its conversation's state as stored (filled in by the admin API).
    pub conversation_state: Option<String>,
}

pub type Registry = Arc<DashMap<CustomerId, Slot>>;

pub enum SupervisorMessage {
    /// Deliver to the customer's actor, spawning it if needed.
    Route { tenant: TenantId, customer: CustomerId, message: ConversationActorMessage },
    /// A spawn finished (internal).
    Spawned {
        customer: CustomerId,
        generation: u64,
        result: Result<ActorRef<ConversationActorMessage>, TurnFailure>,
        took: Duration,
    },
    /// Check for idle actors (internal, periodic).
    Tick,
    /// Passivate one actor now; answers whether it was resident.
    Passivate(CustomerId, RpcReplyPort<bool>),
    /// Drain every actor and wait for them to stop (shutdown).
    DrainAll(Duration, RpcReplyPort<()>),
}

pub struct ConversationSupervisor;

pub struct SupervisorArgs {
    pub deps: Arc<ConversationDeps>,
    pub config: SupervisorConfig,
    pub registry: Registry,
    pub stats: Arc<SupervisorStats>,
}

pub struct SupervisorState {
    deps: Arc<ConversationDeps>,
    config: SupervisorConfig,
    registry: Registry,
    stats: Arc<SupervisorStats>,
    by_actor: HashMap<ActorId, CustomerId>,
    next_generation: u64,
}

impl Actor for ConversationSupervisor {
    type Msg = SupervisorMessage;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_interval(args.config.tick, || SupervisorMessage::Tick);
        Ok(SupervisorState {
            deps: args.deps,
            config: args.config,
            registry: args.registry,
            stats: args.stats,
            by_actor: HashMap::new(),
            next_generation: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMessage::Route { tenant, customer, message } => state.route(&myself, tenant, customer, message),
            SupervisorMessage::Spawned { customer, generation, result, took } => {
                state.spawned(customer, generation, result, took)
            }
            SupervisorMessage::Tick => state.passivate_idle(),
            SupervisorMessage::Passivate(customer, reply) => {
                let _ = reply.send(state.passivate(customer, false));
            }
            SupervisorMessage::DrainAll(deadline, reply) => {
                let actors: Vec<_> = state
                    .registry
                    .iter()
                    .filter_map(|e| match e.value() {
                        Slot::Running { actor, .. } | Slot::Draining { actor, .. } => Some(actor.clone()),
                        Slot::Starting { .. } => None,
                    })
                    .collect();
                tracing::info!(resident = actors.len(), "draining conversation actors");
                let mut drains = tokio::task::JoinSet::new();
                for actor in actors {
                    drains.spawn(async move { actor.drain_and_wait(Some(deadline)).await });
                }
                while let Some(result) = drains.join_next().await {
                    if let Ok(Err(e)) = result {
                        tracing::warn!(error = %e, "an actor did not drain in time");
                    }
                }
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        // Messages still waiting in Starting or Draining slots would never
        // be delivered: drop them, so their senders hear about it.
        state.registry.clear();
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Never stop on a child's failure: forget it, and the next message
        // for that customer starts a fresh, rehydrated actor.
        match event {
            SupervisionEvent::ActorFailed(cell, error) => {
                state.stats.failed.fetch_add(1, Ordering::Relaxed);
                if let Some(customer) = state.forget(&cell) {
                    tracing::warn!(customer_id = %customer, error = %Redacted(&error), "conversation actor failed; it will rehydrate on its next message");
                    state.respawn_waiting(&myself, customer);
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some(customer) = state.forget(&cell) {
                    state.respawn_waiting(&myself, customer);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Why an actor did not start, as its waiting messages' routers need it:
/// a load that failed for a passing reason (the database away) is
/// transient.
fn start_failure(error: &ractor::SpawnErr) -> TurnFailure {
    let transient = match error {
        ractor::SpawnErr::StartupFailed(inner) => {
            inner.downcast_ref::<StoreError>().is_some_and(StoreError::is_transient)
        }
        _ => false,
    };
    TurnFailure { reason: format!("conversation actor failed to start: {error}"), transient }
}

impl SupervisorState {
    fn route(
        &mut self,
        myself: &ActorRef<SupervisorMessage>,
        tenant: TenantId,
        customer: CustomerId,
        message: ConversationActorMessage,
    ) {
        let mut message = Some(message);
        if let Some(mut slot) = self.registry.get_mut(&customer) {
            match slot.value_mut() {
                Slot::Starting { pending, .. } | Slot::Draining { pending, .. } => {
                    pending.extend(message.take());
                }
                Slot::Running { actor, last_activity, queued, .. } => {
                    *last_activity = Instant::now();
                    if let Some(m) = message.take() {
                        queued.fetch_add(1, Ordering::Relaxed);
                        match actor.cast(m) {
                            Ok(()) => {}
                            // The actor stopped but its exit is not processed
                            // yet: hold the message for its successor.
                            Err(ractor::MessagingErr::SendErr(m)) => {
                                queued.fetch_sub(1, Ordering::Relaxed);
                                let actor = actor.clone();
                                *slot.value_mut() = Slot::Draining { actor, tenant, pending: vec![m] };
                            }
                            Err(e) => {
                                tracing::error!(customer_id = %customer, error = %e, "cannot deliver to conversation actor")
                            }
                        }
                    }
                }
            }
        }
        if let Some(m) = message {
            self.spawn(myself, tenant, customer, vec![m]);
        }
    }

    fn spawn(
        &mut self,
        myself: &ActorRef<SupervisorMessage>,
        tenant: TenantId,
        customer: CustomerId,
        pending: Vec<ConversationActorMessage>,
    ) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let queued = Queued::default();
        self.registry.insert(customer, Slot::Starting { generation, tenant, pending, queued: Arc::clone(&queued) });
        let args = ConversationActorArgs { tenant, customer, deps: Arc::clone(&self.deps), queued };
        let supervisor = myself.clone();
        let cell: ActorCell = myself.get_cell();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = Actor::spawn_linked(None, ConversationActor, args, cell)
                .await
                .map(|(actor, _join)| actor)
                .map_err(|e| start_failure(&e));
            let took = started.elapsed();
            let _ = supervisor.cast(SupervisorMessage::Spawned { customer, generation, result, took });
        });
    }

    fn spawned(
        &mut self,
        customer: CustomerId,
        generation: u64,
        result: Result<ActorRef<ConversationActorMessage>, TurnFailure>,
        took: Duration,
    ) {
        let Some((_, slot)) = self.registry.remove(&customer) else { return };
        let Slot::Starting { generation: expected, tenant, pending, queued } = slot else {
            self.registry.insert(customer, slot);
            return;
        };
        if expected != generation {
            self.registry.insert(customer, Slot::Starting { generation: expected, tenant, pending, queued });
            return;
        }
        match result {
            Ok(actor) => {
                self.stats.spawned.fetch_add(1, Ordering::Relaxed);
                self.stats.record_rehydration(took);
                self.by_actor.insert(actor.get_id(), customer);
                for m in pending {
                    queued.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = actor.cast(m) {
                        tracing::error!(customer_id = %customer, error = %e, "cannot deliver to new conversation actor");
                    }
                }
                self.registry.insert(customer, Slot::Running { actor, tenant, last_activity: Instant::now(), queued });
                self.evict_over_capacity();
            }
            Err(failure) => {
                // Customer messages are told why, so their routers retry
                // (a database that was away) or count it; other waiting
                // requests see their reply port close.
                self.stats.spawn_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    customer_id = %customer, error = %Redacted(&failure), transient = failure.transient,
                    dropped = pending.len(), "conversation actor failed to start"
                );
                for m in pending {
                    match m {
                        ConversationActorMessage::Inbound(_, _, reply)
                        | ConversationActorMessage::GiveUp(_, _, reply) => {
                            let _ = reply.send(Err(failure.clone()));
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Removes a stopped actor's registry entry; returns its customer.
    fn forget(&mut self, cell: &ActorCell) -> Option<CustomerId> {
        let customer = self.by_actor.remove(&cell.get_id())?;
        let same_actor = self.registry.get(&customer).is_some_and(|slot| match slot.value() {
            Slot::Running { actor, .. } | Slot::Draining { actor, .. } => actor.get_id() == cell.get_id(),
            Slot::Starting { .. } => false,
        });
        if same_actor && let Some((_, slot)) = self.registry.remove(&customer) {
            // Keep messages that were waiting for a successor, as a
            // Starting slot of generation 0 that `respawn_waiting` spawns.
            if let Slot::Draining { tenant, pending, .. } = slot
                && !pending.is_empty()
            {
                self.registry
                    .insert(customer, Slot::Starting { generation: 0, tenant, pending, queued: Queued::default() });
            }
        }
        Some(customer)
    }

    /// If messages wait for a customer whose actor just stopped, start its
    /// successor with them.
    fn respawn_waiting(&mut self, myself: &ActorRef<SupervisorMessage>, customer: CustomerId) {
        let waiting = matches!(self.registry.get(&customer).as_deref(), Some(Slot::Starting { generation: 0, .. }));
        if waiting && let Some((_, Slot::Starting { tenant, pending, .. })) = self.registry.remove(&customer) {
            self.spawn(myself, tenant, customer, pending);
        }
    }

    /// Starts draining one running actor; returns whether it was running.
    fn passivate(&mut self, customer: CustomerId, evicted: bool) -> bool {
        let Some(mut slot) = self.registry.get_mut(&customer) else { return false };
        let Slot::Running { actor, tenant, .. } = slot.value() else { return false };
        let (actor, tenant) = (actor.clone(), *tenant);
        if let Err(e) = actor.drain() {
            tracing::warn!(customer_id = %customer, error = %e, "cannot drain conversation actor");
            return false;
        }
        *slot.value_mut() = Slot::Draining { actor, tenant, pending: Vec::new() };
        let counter = if evicted { &self.stats.evicted } else { &self.stats.passivated };
        counter.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn passivate_idle(&mut self) {
        let idle: Vec<CustomerId> = self
            .registry
            .iter()
            .filter_map(|e| match e.value() {
                Slot::Running { last_activity, .. } if last_activity.elapsed() >= self.config.idle_timeout => {
                    Some(*e.key())
                }
                _ => None,
            })
            .collect();
        if !idle.is_empty() {
            tracing::debug!(count = idle.len(), "passivating idle conversation actors");
        }
        for customer in idle {
            self.passivate(customer, false);
        }
    }

    /// Over capacity: passivate the least recently used, down to 95% of
    /// `max_active` so that eviction runs in batches, not on every spawn.
    fn evict_over_capacity(&mut self) {
        if self.registry.len() <= self.config.max_active {
            return;
        }
        // Slots already draining are on their way out: do not count them,
        // or every spawn during a batch would evict another batch.
        let staying = self.registry.iter().filter(|e| !matches!(e.value(), Slot::Draining { .. })).count();
        if staying <= self.config.max_active {
            return;
        }
        let target = self.config.max_active - self.config.max_active / 20;
        let mut running: Vec<(Instant, CustomerId)> = self
            .registry
            .iter()
            .filter_map(|e| match e.value() {
                Slot::Running { last_activity, .. } => Some((*last_activity, *e.key())),
                _ => None,
            })
            .collect();
        let excess = staying.saturating_sub(target).min(running.len());
        if excess == 0 {
            return;
        }
        running.select_nth_unstable(excess - 1);
        for (_, customer) in running.into_iter().take(excess) {
            self.passivate(customer, true);
        }
    }
}

/// Snapshot of the resident actors.
pub fn resident(registry: &Registry) -> Vec<ResidentActor> {
    registry
        .iter()
        .map(|e| {
            let (status, tenant, idle_ms, queue_depth) = match e.value() {
                Slot::Starting { tenant, pending, .. } => ("starting", *tenant, 0, pending.len()),
                Slot::Running { tenant, last_activity, queued, .. } => (
                    "running",
                    *tenant,
                    u64::try_from(last_activity.elapsed().as_millis()).unwrap_or(u64::MAX),
                    queued.load(Ordering::Relaxed),
                ),
                Slot::Draining { tenant, pending, .. } => ("draining", *tenant, 0, pending.len()),
            };
            ResidentActor {
                customer_id: *e.key(),
                tenant_id: tenant,
                status,
                idle_ms,
                queue_depth,
                partition: None,
                conversation_state: None,
            }
        })
        .collect()
}
