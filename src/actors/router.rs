//! Conversation router: consumes one partition of `fte.tickets.incoming`
//! and feeds the supervisor. Guarantees, per customer (the partition key):
//! - order: a customer's next message is dispatched only when the previous
//!   one has been committed (or has finally failed);
//! - at-least-once: a message whose turn failed, or whose actor stopped
//!   before answering, is redelivered with backoff;
//! - transient is not poison: a failure the turn calls transient (the
//!   database away or busy, a model endpoint unreachable) is retried for as
//!   long as it lasts and never counts towards giving up; it also closes
//!   the routers' shared outage gate, so no turn is dispatched until the
//!   database answers again (`outage`);
//! - poison: a message whose turn fails `max_attempts` times for a lasting
//!   reason while the system is healthy (other turns commit meanwhile, or
//!   the database answers) is stored, its conversation is flagged for
//!   humans (`processing_failure`) and the customer gets a short apology;
//!   the caller is told it failed (Kafka: it goes to `fte.dlq`), and the
//!   customer's next message flows;
//! - isolation: customers do not wait for each other; at most
//!   `max_in_flight` messages of the partition are dispatched at once
//!   (beyond that the router stops reading, which backs up to producers);
//! - admission: a turn starts only with a permit of the process's
//!   `admission` semaphore (sized from the database pool), so under a
//!   backlog turns queue here, in order, instead of crowding the pool
//!   until its waiters time out. The permit travels with the turn as its
//!   [`Seat`], which the turn gives up while it waits on a remote model.
//!
//! The loop ends when its input closes, after every in-flight message is
//! settled: that is the drain on shutdown or partition revoke. With
//! `hand_over_on_close` (Kafka, where the partition's next owner reads
//! every record whose offset was not stored), nothing new starts once the
//! input closed: waiting messages and failed turns are left to that owner.

use super::conversation::{ConversationActorMessage, TurnFailure, TurnReceipt, TurnResult};
use super::outage::OutageGate;
use super::supervisor::SupervisorMessage;
use crate::brain::Seat;
use crate::domain::{CustomerId, TicketMessage};
use crate::telemetry::Redacted;
use ractor::{ActorRef, RpcReplyPort};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

#[derive(Clone, Debug)]
pub struct RouterConfig {
    pub max_in_flight: usize,
    /// Failures for a lasting reason, on a healthy system, before a
    /// message is given up as poison.
    pub max_attempts: u32,
    /// First redelivery delay; doubles per attempt, capped at 5 s.
    pub retry_backoff: Duration,
    /// Turns committed through every router sharing this configuration.
    pub committed: Arc<AtomicU64>,
    /// Asked whether the database answers before a message is declared
    /// poison when no other turn committed meanwhile, and by the outage
    /// gate.
    pub health: Option<sqlx::PgPool>,
    /// Closed while the database is away: no turn is dispatched.
    pub outage: Arc<super::outage::OutageGate>,
    /// Turns in progress at once, across every router of the process.
    pub admission: Arc<Semaphore>,
    /// Once the input closes, start nothing: the partition's next owner
    /// redelivers what did not commit here.
    pub hand_over_on_close: bool,
}

/// Permits of [`RouterConfig::admission`] when nothing sizes it.
pub const DEFAULT_TURN_CONCURRENCY: usize = 64;

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 1024,
            max_attempts: 5,
            retry_backoff: Duration::from_millis(50),
            committed: Arc::default(),
            health: None,
            outage: Arc::default(),
            admission: Arc::new(Semaphore::new(DEFAULT_TURN_CONCURRENCY)),
            hand_over_on_close: false,
        }
    }
}

/// The final answer for one delivery.
pub type DeliveryResult = Result<TurnReceipt, DeliveryFailed>;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("message failed after {attempts} attempts: {last_error}")]
pub struct DeliveryFailed {
    pub attempts: u32,
    pub last_error: String,
}

/// One message of the partition.
pub struct Delivery {
    /// Position in the partition.
    pub offset: u64,
    pub message: TicketMessage,
    /// Told the final outcome (in-process callers wait on it).
    pub receipt: Option<oneshot::Sender<DeliveryResult>>,
    attempts: u32,
    /// Failures for a lasting reason (transient ones are not counted).
    lasting_failures: u32,
    /// Turns committed by the routers when this message first failed for
    /// a lasting reason.
    committed_at_failure: Option<u64>,
    /// The customer has been told we failed (after the last attempt).
    gave_up: bool,
}

impl Delivery {
    pub fn new(offset: u64, message: TicketMessage, receipt: Option<oneshot::Sender<DeliveryResult>>) -> Self {
        Self { offset, message, receipt, attempts: 0, lasting_failures: 0, committed_at_failure: None, gave_up: false }
    }

    fn customer(&self) -> CustomerId {
        self.message.customer_id
    }
}

type Settled = (Delivery, TurnResult);

/// Runs one partition's router until `input` closes and everything in
/// flight has settled.
pub async fn run_router(
    mut input: mpsc::Receiver<Delivery>,
    supervisor: ActorRef<SupervisorMessage>,
    config: RouterConfig,
) {
    let lane = Lane {
        supervisor,
        gate: Arc::clone(&config.outage),
        admission: Arc::clone(&config.admission),
        closed: Arc::new(watch::Sender::new(false)),
    };
    let mut in_flight = InFlight::default();
    // Customers with a message in flight, and what waits behind it.
    let mut busy: HashMap<CustomerId, VecDeque<Delivery>> = HashMap::new();
    let mut queued = 0usize;
    let mut open = true;
    loop {
        let has_room = in_flight.tasks.len() + queued < config.max_in_flight;
        tokio::select! {
            next = input.recv(), if open && has_room => match next {
                Some(delivery) => {
                    let customer = delivery.customer();
                    if let Some(waiting) = busy.get_mut(&customer) {
                        waiting.push_back(delivery);
                        queued += 1;
                    } else {
                        busy.insert(customer, VecDeque::new());
                        in_flight.dispatch(&lane, delivery, Duration::ZERO);
                    }
                }
                None => {
                    open = false;
                    if config.hand_over_on_close {
                        // Whatever has not started stays with the
                        // partition's next owner: dropping a receipt
                        // leaves its offset unstored.
                        lane.closed.send_replace(true);
                        busy.values_mut().for_each(VecDeque::clear);
                        queued = 0;
                    }
                }
            },
            Some(done) = in_flight.tasks.join_next_with_id(), if !in_flight.tasks.is_empty() => {
                let (mut delivery, outcome) = match done {
                    Ok((id, settled)) => {
                        in_flight.customers.remove(&id);
                        settled
                    }
                    Err(e) => {
                        // Our own task died (it never should): its delivery
                        // is lost to this router, but the customer's queue
                        // must not stall behind it.
                        tracing::error!(error = %e, "router task failed");
                        if let Some(customer) = in_flight.customers.remove(&e.id()) {
                            advance(customer, &mut busy, &mut queued, &mut in_flight, &lane);
                        }
                        continue;
                    }
                };
                let customer = delivery.customer();
                match outcome {
                    Ok(receipt) => {
                        config.committed.fetch_add(1, Ordering::Relaxed);
                        if let Some(tx) = delivery.receipt.take() {
                            let _ = tx.send(Ok(receipt));
                        }
                    }
                    Err(failure) if lane.is_closed() => {
                        // Handed over: the next owner redelivers it.
                        tracing::debug!(customer_id = %customer, offset = delivery.offset, error = %failure, "turn not retried here: the partition moved");
                    }
                    Err(failure) if delivery.gave_up && failure.transient => {
                        // Handing it over failed for a passing reason: again.
                        let delay = backoff(&config, delivery.attempts);
                        tracing::warn!(customer_id = %customer, offset = delivery.offset, error = %Redacted(&failure), "hand-over failed for a passing reason; retrying");
                        in_flight.give_up(&lane, delivery, failure.reason, delay);
                        continue;
                    }
                    Err(failure) if delivery.gave_up => {
                        if let Some(tx) = delivery.receipt.take() {
                            let _ = tx.send(Err(DeliveryFailed { attempts: delivery.attempts, last_error: failure.reason }));
                        }
                    }
                    Err(failure) => {
                        if failure.transient {
                            config.outage.report(config.health.as_ref());
                        } else {
                            delivery.lasting_failures += 1;
                            delivery.committed_at_failure.get_or_insert(config.committed.load(Ordering::Relaxed));
                        }
                        if delivery.lasting_failures >= config.max_attempts && is_poison(&config, &delivery).await {
                            // Store the message, flag the conversation for
                            // humans and apologise, then report the failure.
                            tracing::error!(customer_id = %customer, offset = delivery.offset, attempts = delivery.attempts, error = %Redacted(&failure), "turn keeps failing on a healthy system; handing it to humans");
                            in_flight.give_up(&lane, delivery, failure.reason, Duration::ZERO);
                            continue;
                        }
                        let delay = backoff(&config, delivery.attempts);
                        tracing::warn!(
                            customer_id = %customer, offset = delivery.offset, attempts = delivery.attempts,
                            transient = failure.transient, error = %Redacted(&failure), "turn failed; redelivering"
                        );
                        in_flight.dispatch(&lane, delivery, delay);
                        continue;
                    }
                }
                advance(customer, &mut busy, &mut queued, &mut in_flight, &lane);
            },
            else => break,
        }
    }
}

/// What a router's tasks share: where turns go and what must let them.
#[derive(Clone)]
struct Lane {
    supervisor: ActorRef<SupervisorMessage>,
    gate: Arc<OutageGate>,
    admission: Arc<Semaphore>,
    /// The input closed and work is handed over: start nothing new.
    closed: Arc<watch::Sender<bool>>,
}

impl Lane {
    fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Runs one message through the customer's actor once the database is
    /// up and a turn may start; the admission permit is held, as the
    /// turn's seat, until the actor answers (except while the turn waits
    /// on a model).
    async fn run(
        self,
        delivery: &Delivery,
        delay: Duration,
        make: fn(Box<TicketMessage>, Arc<Seat>, RpcReplyPort<TurnResult>) -> ConversationActorMessage,
    ) -> TurnResult {
        let admitted = async {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            self.gate.wait_open().await;
            Arc::clone(&self.admission).acquire_owned().await
        };
        let mut closed = self.closed.subscribe();
        let permit = tokio::select! {
            biased;
            _ = closed.wait_for(|c| *c) => None,
            permit = admitted => permit.ok(),
        };
        let Some(permit) = permit.filter(|_| !self.is_closed()) else {
            return Err(TurnFailure::transient("the partition moved before the turn started"));
        };
        let seat = Arc::new(Seat::held(Arc::clone(&self.admission), permit));
        let (tx, rx) = oneshot::channel();
        let route = SupervisorMessage::Route {
            tenant: delivery.message.message.tenant_id,
            customer: delivery.customer(),
            message: make(Box::new(delivery.message.clone()), Arc::clone(&seat), RpcReplyPort::from(tx)),
        };
        if let Err(e) = self.supervisor.cast(route) {
            return Err(TurnFailure::lasting(format!("supervisor unavailable: {e}")));
        }
        // A closed port means the actor stopped with this message still in
        // its mailbox (another message's failure, a passivation): nothing
        // of it ran, so it is retried like any passing failure. A turn
        // that fails on its own answers with its error (a panic included).
        let answer =
            rx.await.unwrap_or_else(|_| Err(TurnFailure::transient("conversation actor stopped before answering")));
        drop(seat);
        answer
    }
}

/// The router's running turns, and which customer each serves (to move
/// on if a task dies).
#[derive(Default)]
struct InFlight {
    tasks: JoinSet<Settled>,
    customers: HashMap<tokio::task::Id, CustomerId>,
}

impl InFlight {
    fn spawn(&mut self, customer: CustomerId, fut: Pin<Box<dyn Future<Output = Settled> + Send>>) {
        let handle = self.tasks.spawn(fut);
        self.customers.insert(handle.id(), customer);
    }

    fn dispatch(&mut self, lane: &Lane, mut delivery: Delivery, delay: Duration) {
        delivery.attempts += 1;
        let customer = delivery.customer();
        let lane = lane.clone();
        self.spawn(
            customer,
            Box::pin(async move {
                let outcome = lane.run(&delivery, delay, ConversationActorMessage::Inbound).await;
                (delivery, outcome)
            }),
        );
    }

    /// Stores the message, flags the conversation for humans and
    /// apologises; the delivery is then reported failed (the caller
    /// dead-letters it) with the turn's own error.
    fn give_up(&mut self, lane: &Lane, mut delivery: Delivery, error: String, delay: Duration) {
        delivery.gave_up = true;
        let customer = delivery.customer();
        let lane = lane.clone();
        self.spawn(
            customer,
            Box::pin(async move {
                let outcome = lane.run(&delivery, delay, ConversationActorMessage::GiveUp).await;
                match outcome {
                    Ok(_) => (delivery, Err(TurnFailure::lasting(error))),
                    Err(failure) => {
                        tracing::error!(customer_id = %delivery.customer(), offset = delivery.offset, error = %Redacted(&failure), "could not flag the failed message for humans");
                        (delivery, Err(failure))
                    }
                }
            }),
        );
    }
}

/// Dispatches the customer's next waiting message, or marks them idle.
fn advance(
    customer: CustomerId,
    busy: &mut HashMap<CustomerId, VecDeque<Delivery>>,
    queued: &mut usize,
    in_flight: &mut InFlight,
    lane: &Lane,
) {
    match busy.get_mut(&customer).and_then(VecDeque::pop_front) {
        Some(next) => {
            *queued -= 1;
            in_flight.dispatch(lane, next, Duration::ZERO);
        }
        None => {
            busy.remove(&customer);
        }
    }
}

/// Whether a message that failed `max_attempts` times for a lasting
/// reason is poison: other turns committed since it first failed, or the
/// database answers (so the failure is the message's, not an outage's).
async fn is_poison(config: &RouterConfig, delivery: &Delivery) -> bool {
    let before = delivery.committed_at_failure.unwrap_or(0);
    if config.committed.load(Ordering::Relaxed) > before {
        return true;
    }
    let Some(pool) = &config.health else { return true };
    let probe = sqlx::query("SELECT 1").execute(pool);
    matches!(tokio::time::timeout(Duration::from_secs(2), probe).await, Ok(Ok(_)))
}

fn backoff(config: &RouterConfig, attempts: u32) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(16);
    config.retry_backoff.saturating_mul(factor).min(Duration::from_secs(5))
}
