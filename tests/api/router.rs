//! The conversation router on its own, against a stand-in supervisor that
//! hands every routed turn to the test: admission, per-customer order, and
//! what happens to waiting and failed work when the input closes.

use crate::common::email;
use fte::actors::conversation::{ConversationActorMessage, TurnFailure, TurnReceipt, TurnResult};
use fte::actors::router::{Delivery, DeliveryResult, RouterConfig, run_router};
use fte::actors::supervisor::SupervisorMessage;
use fte::domain::{ConversationId, CustomerId, MessageId, TenantId, TicketMessage};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};

/// A turn the router started: the message's body and where to answer.
struct Routed {
    body: String,
    reply: RpcReplyPort<TurnResult>,
}

/// Forwards every routed customer message to the test.
struct StandIn;

impl Actor for StandIn {
    type Msg = SupervisorMessage;
    type State = mpsc::UnboundedSender<Routed>;
    type Arguments = mpsc::UnboundedSender<Routed>;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, out: Self::Arguments) -> Result<Self::State, ActorProcessingErr> {
        Ok(out)
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        out: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisorMessage::Route {
            message: ConversationActorMessage::Inbound(m, _, reply) | ConversationActorMessage::GiveUp(m, _, reply),
            ..
        } = msg
        {
            let _ = out.send(Routed { body: m.message.body.clone(), reply });
        }
        Ok(())
    }
}

fn receipt() -> TurnReceipt {
    TurnReceipt {
        message_id: MessageId::new(),
        conversation_id: ConversationId::new(),
        replies: vec![],
        duplicate: false,
        state_version: 1,
    }
}

struct Harness {
    input: mpsc::Sender<Delivery>,
    routed: mpsc::UnboundedReceiver<Routed>,
    router: tokio::task::JoinHandle<()>,
    tenant: TenantId,
    offset: u64,
}

impl Harness {
    async fn start(config: RouterConfig) -> Self {
        let (tx, routed) = mpsc::unbounded_channel();
        let (supervisor, _) = Actor::spawn(None, StandIn, tx).await.unwrap();
        let (input, rx) = mpsc::channel(64);
        let router = tokio::spawn(run_router(rx, supervisor, config));
        Self { input, routed, router, tenant: TenantId::new(), offset: 0 }
    }

    /// Queues `body` from `customer`; returns where its final outcome lands.
    async fn send(&mut self, customer: CustomerId, body: &str) -> oneshot::Receiver<DeliveryResult> {
        self.offset += 1;
        let message = email(self.tenant, "someone@example.com", &format!("m-{}", self.offset), body);
        let (tx, rx) = oneshot::channel();
        let ticket = TicketMessage { customer_id: customer, message };
        self.input.send(Delivery::new(self.offset, ticket, Some(tx))).await.unwrap();
        rx
    }

    async fn next_turn(&mut self) -> Routed {
        tokio::time::timeout(Duration::from_secs(5), self.routed.recv())
            .await
            .expect("a turn is routed")
            .expect("the stand-in is up")
    }

    /// No further turn starts within a short wait.
    async fn no_turn(&mut self) {
        let more = tokio::time::timeout(Duration::from_millis(300), self.routed.recv()).await;
        assert!(more.is_err(), "no turn may start, got {:?}", more.ok().flatten().map(|r| r.body));
    }
}

fn quick() -> RouterConfig {
    RouterConfig { retry_backoff: Duration::from_millis(5), ..RouterConfig::default() }
}

#[tokio::test]
async fn turns_beyond_the_admission_permits_wait_and_start_in_order_as_permits_free() {
    let mut h = Harness::start(RouterConfig { admission: Arc::new(Semaphore::new(2)), ..quick() }).await;
    let mut outcomes = Vec::new();
    for n in 0..5 {
        outcomes.push(h.send(CustomerId::new(), &format!("customer {n}")).await);
    }
    let first = h.next_turn().await;
    let second = h.next_turn().await;
    assert_eq!((first.body.as_str(), second.body.as_str()), ("customer 0", "customer 1"));
    h.no_turn().await;
    let _ = first.reply.send(Ok(receipt()));
    let third = h.next_turn().await;
    assert_eq!(third.body, "customer 2", "the oldest waiting turn goes next");
    h.no_turn().await;
    for turn in [second, third] {
        let _ = turn.reply.send(Ok(receipt()));
    }
    for _ in 0..2 {
        let _ = h.next_turn().await.reply.send(Ok(receipt()));
    }
    for rx in outcomes {
        assert!(rx.await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn an_actor_that_stops_before_answering_is_a_passing_failure_never_counted_towards_giving_up() {
    let mut h = Harness::start(RouterConfig { max_attempts: 2, ..quick() }).await;
    let customer = CustomerId::new();
    let outcome = h.send(customer, "hello").await;
    // Five times the actor goes away with the message in its mailbox
    // (dropping the port), more than `max_attempts`: still no hand-over.
    for _ in 0..5 {
        let turn = h.next_turn().await;
        assert_eq!(turn.body, "hello");
        drop(turn.reply);
    }
    let turn = h.next_turn().await;
    let _ = turn.reply.send(Ok(receipt()));
    assert!(outcome.await.unwrap().is_ok(), "it committed on the sixth attempt, never given up");
}

#[tokio::test]
async fn a_lasting_failure_is_given_up_after_max_attempts_and_handed_to_humans() {
    let mut h = Harness::start(RouterConfig { max_attempts: 2, ..quick() }).await;
    let outcome = h.send(CustomerId::new(), "poison").await;
    for _ in 0..2 {
        let _ = h.next_turn().await.reply.send(Err(TurnFailure::lasting("the turn panicked")));
    }
    // The hand-over (a GiveUp turn) commits; the delivery is reported failed.
    let _ = h.next_turn().await.reply.send(Ok(receipt()));
    let failed = outcome.await.unwrap().unwrap_err();
    assert_eq!(failed.attempts, 2);
}

#[tokio::test]
async fn once_the_input_closes_a_handing_over_router_finishes_running_turns_and_starts_nothing_else() {
    let mut h = Harness::start(RouterConfig { hand_over_on_close: true, ..quick() }).await;
    let (ana, bo) = (CustomerId::new(), CustomerId::new());
    let ana_1 = h.send(ana, "ana 1").await;
    let ana_2 = h.send(ana, "ana 2").await;
    let bo_1 = h.send(bo, "bo 1").await;
    let running_ana = h.next_turn().await;
    let running_bo = h.next_turn().await;
    assert_eq!((running_ana.body.as_str(), running_bo.body.as_str()), ("ana 1", "bo 1"));
    // The partition moves: the input closes.
    let Harness { input, mut routed, router, .. } = h;
    drop(input);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = running_ana.reply.send(Ok(receipt()));
    let _ = running_bo.reply.send(Err(TurnFailure::transient("database away")));
    tokio::time::timeout(Duration::from_secs(5), router).await.expect("the router ends").unwrap();
    assert!(ana_1.await.unwrap().is_ok(), "the running turn finished and is reported");
    assert!(ana_2.await.is_err(), "the waiting message is left for the next owner (no outcome)");
    assert!(bo_1.await.is_err(), "the failed turn is not retried here");
    assert!(routed.try_recv().is_err(), "nothing else was started");
}

#[tokio::test]
async fn without_hand_over_a_closing_router_still_finishes_every_waiting_message() {
    let mut h = Harness::start(quick()).await;
    let ana = CustomerId::new();
    let first = h.send(ana, "ana 1").await;
    let second = h.send(ana, "ana 2").await;
    let running = h.next_turn().await;
    let Harness { input, mut routed, router, .. } = h;
    drop(input);
    let _ = running.reply.send(Ok(receipt()));
    let next = tokio::time::timeout(Duration::from_secs(5), routed.recv()).await.unwrap().unwrap();
    assert_eq!(next.body, "ana 2");
    let _ = next.reply.send(Ok(receipt()));
    tokio::time::timeout(Duration::from_secs(5), router).await.unwrap().unwrap();
    assert!(first.await.unwrap().is_ok() && second.await.unwrap().is_ok());
}

#[tokio::test]
async fn a_turn_still_waiting_for_admission_when_the_input_closes_never_starts() {
    let config = RouterConfig { hand_over_on_close: true, admission: Arc::new(Semaphore::new(1)), ..quick() };
    let mut h = Harness::start(config).await;
    let running = h.send(CustomerId::new(), "running").await;
    let waiting = h.send(CustomerId::new(), "waiting for a permit").await;
    let turn = h.next_turn().await;
    assert_eq!(turn.body, "running");
    h.no_turn().await;
    let Harness { input, mut routed, router, .. } = h;
    drop(input);
    tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("left at once").unwrap_err();
    let _ = turn.reply.send(Ok(receipt()));
    tokio::time::timeout(Duration::from_secs(5), router).await.expect("the router ends").unwrap();
    assert!(running.await.unwrap().is_ok());
    assert!(routed.try_recv().is_err(), "the waiting turn never reached an actor");
}
