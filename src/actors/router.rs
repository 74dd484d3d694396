//! Conversation router: consumes one partition of `fte.tickets.incoming`
//! and feeds the supervisor. Guarantees, per customer (the partition key):
//! - order: a customer's next message is dispatched only when the previous
//!   one has been committed (or has finally failed);
//! - at-least-once: a message whose actor failed or stopped before
//!   answering is redelivered (with backoff), up to `max_attempts`;
//! - isolation: customers do not wait for each other; at most
//!   `max_in_flight` messages of the partition are dispatched at once
//!   (beyond that the router stops reading, which backs up to producers).
//!
//! - failure: a message that fails `max_attempts` times is stored, its
//!   conversation is flagged for humans (`processing_failure`) and the
//!   customer gets a short apology; the caller is told it failed (Kafka:
//!   it goes to `fte.dlq`), and the customer's next message flows.
//!
//! The loop ends when its input closes, after every in-flight message is
//! settled: that is the drain on shutdown or partition revoke.

use super::conversation::{ConversationActorMessage, TurnReceipt};
use super::supervisor::SupervisorMessage;
use crate::domain::{CustomerId, TicketMessage};
use ractor::{ActorRef, RpcReplyPort};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

#[derive(Clone, Debug)]
pub struct RouterConfig {
    pub max_in_flight: usize,
    pub max_attempts: u32,
    /// First redelivery delay; doubles per attempt, capped at 5 s.
    pub retry_backoff: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self { max_in_flight: 1024, max_attempts: 5, retry_backoff: Duration::from_millis(50) }
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
    /// The customer has been told we failed (after the last attempt).
    gave_up: bool,
}

impl Delivery {
    pub fn new(offset: u64, message: TicketMessage, receipt: Option<oneshot::Sender<DeliveryResult>>) -> Self {
        Self { offset, message, receipt, attempts: 0, gave_up: false }
    }

    fn customer(&self) -> CustomerId {
        self.message.customer_id
    }
}

type Settled = (Delivery, Result<TurnReceipt, String>);

/// Runs one partition's router until `input` closes and everything in
/// flight has settled.
pub async fn run_router(
    mut input: mpsc::Receiver<Delivery>,
    supervisor: ActorRef<SupervisorMessage>,
    config: RouterConfig,
) {
    let mut in_flight: JoinSet<Settled> = JoinSet::new();
    // Customers with a message in flight, and what waits behind it.
    let mut busy: HashMap<CustomerId, VecDeque<Delivery>> = HashMap::new();
    let mut queued = 0usize;
    let mut open = true;
    // Which customer each in-flight task serves, to move on if one dies.
    let mut task_customer: HashMap<tokio::task::Id, CustomerId> = HashMap::new();
    loop {
        let has_room = in_flight.len() + queued < config.max_in_flight;
        tokio::select! {
            next = input.recv(), if open && has_room => match next {
                Some(delivery) => {
                    let customer = delivery.customer();
                    if let Some(waiting) = busy.get_mut(&customer) {
                        waiting.push_back(delivery);
                        queued += 1;
                    } else {
                        busy.insert(customer, VecDeque::new());
                        dispatch(&mut in_flight, &mut task_customer, &supervisor, delivery, Duration::ZERO);
                    }
                }
                None => open = false,
            },
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                let (mut delivery, outcome) = match done {
                    Ok((id, settled)) => {
                        task_customer.remove(&id);
                        settled
                    }
                    Err(e) => {
                        // Our own task died (it never should): its delivery
                        // is lost to this router, but the customer's queue
                        // must not stall behind it.
                        tracing::error!(error = %e, "router task failed");
                        if let Some(customer) = task_customer.remove(&e.id()) {
                            advance(customer, &mut busy, &mut queued, &mut in_flight, &mut task_customer, &supervisor);
                        }
                        continue;
                    }
                };
                let customer = delivery.customer();
                match outcome {
                    Ok(receipt) => {
                        if let Some(tx) = delivery.receipt.take() {
                            let _ = tx.send(Ok(receipt));
                        }
                    }
                    Err(error) if delivery.attempts < config.max_attempts && !delivery.gave_up => {
                        let delay = backoff(&config, delivery.attempts);
                        tracing::warn!(customer_id = %customer, offset = delivery.offset, attempts = delivery.attempts, %error, "turn failed; redelivering");
                        dispatch(&mut in_flight, &mut task_customer, &supervisor, delivery, delay);
                        continue;
                    }
                    Err(error) if !delivery.gave_up => {
                        // Out of attempts: store the message, flag the
                        // conversation for humans and apologise to the
                        // customer, then report the failure.
                        tracing::error!(customer_id = %customer, offset = delivery.offset, attempts = delivery.attempts, %error, "turn failed for good; handing it to humans");
                        give_up(&mut in_flight, &mut task_customer, &supervisor, delivery, error);
                        continue;
                    }
                    Err(error) => {
                        if let Some(tx) = delivery.receipt.take() {
                            let _ = tx.send(Err(DeliveryFailed { attempts: delivery.attempts, last_error: error }));
                        }
                    }
                }
                advance(customer, &mut busy, &mut queued, &mut in_flight, &mut task_customer, &supervisor);
            },
            else => break,
        }
    }
}

/// Dispatches the customer's next waiting message, or marks them idle.
fn advance(
    customer: CustomerId,
    busy: &mut HashMap<CustomerId, VecDeque<Delivery>>,
    queued: &mut usize,
    in_flight: &mut JoinSet<Settled>,
    task_customer: &mut HashMap<tokio::task::Id, CustomerId>,
    supervisor: &ActorRef<SupervisorMessage>,
) {
    match busy.get_mut(&customer).and_then(VecDeque::pop_front) {
        Some(next) => {
            *queued -= 1;
            dispatch(in_flight, task_customer, supervisor, next, Duration::ZERO);
        }
        None => {
            busy.remove(&customer);
        }
    }
}

fn give_up(
    in_flight: &mut JoinSet<Settled>,
    task_customer: &mut HashMap<tokio::task::Id, CustomerId>,
    supervisor: &ActorRef<SupervisorMessage>,
    mut delivery: Delivery,
    error: String,
) {
    delivery.gave_up = true;
    let supervisor = supervisor.clone();
    let customer = delivery.customer();
    let handle = in_flight.spawn(async move {
        let (tx, rx) = oneshot::channel();
        let route = SupervisorMessage::Route {
            tenant: delivery.message.message.tenant_id,
            customer: delivery.customer(),
            message: ConversationActorMessage::GiveUp(Box::new(delivery.message.clone()), RpcReplyPort::from(tx)),
        };
        let flagged = match supervisor.cast(route) {
            Ok(()) => rx.await.ok().and_then(Result::ok).is_some(),
            Err(_) => false,
        };
        if !flagged {
            tracing::error!(customer_id = %delivery.customer(), offset = delivery.offset, "could not flag the failed message for humans either");
        }
        (delivery, Err(error))
    });
    task_customer.insert(handle.id(), customer);
}

fn backoff(config: &RouterConfig, attempts: u32) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(16);
    config.retry_backoff.saturating_mul(factor).min(Duration::from_secs(5))
}

fn dispatch(
    in_flight: &mut JoinSet<Settled>,
    task_customer: &mut HashMap<tokio::task::Id, CustomerId>,
    supervisor: &ActorRef<SupervisorMessage>,
    mut delivery: Delivery,
    delay: Duration,
) {
    delivery.attempts += 1;
    let supervisor = supervisor.clone();
    let customer = delivery.customer();
    let fut: Pin<Box<dyn Future<Output = Settled> + Send>> = Box::pin(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let (tx, rx) = oneshot::channel();
        let route = SupervisorMessage::Route {
            tenant: delivery.message.message.tenant_id,
            customer: delivery.customer(),
            message: ConversationActorMessage::Inbound(Box::new(delivery.message.clone()), RpcReplyPort::from(tx)),
        };
        if let Err(e) = supervisor.cast(route) {
            return (delivery, Err(format!("supervisor unavailable: {e}")));
        }
        let outcome = match rx.await {
            Ok(result) => result,
            Err(_) => Err("conversation actor stopped before answering".to_string()),
        };
        (delivery, outcome)
    });
    let handle = in_flight.spawn(fut);
    task_customer.insert(handle.id(), customer);
}
