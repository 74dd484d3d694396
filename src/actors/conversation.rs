//! `ConversationActor`: one per active customer. It owns that customer's
//! conversation state (loaded from PostgreSQL in `pre_start`), handles one
//! message at a time in arrival order, and commits each turn in one
//! transaction before anything it causes becomes visible. If a write fails
//! or its outcome is unknown the actor stops (its supervisor spawns a fresh
//! one that rehydrates from the database on the next message): it never
//! carries on with in-memory state the database may not have.

use crate::brain::{Brain, Decision, Seat, TurnInput, TurnOutcome};
use crate::conversation::store::{
    self, AlreadyStored, CommitOutcome, NewEscalation, NewInbound, StoreError, TurnRecord,
};
use crate::conversation::{Author, ConversationState, Effect, Event, Rejected, transition};
use crate::domain::{
    ConversationId, CustomerId, EscalationReason, InboundMessage, MessageId, TenantId, TicketMessage, Urgency,
};

use futures::FutureExt;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sqlx::PgPool;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// What a customer is told when their message could not be processed.
pub const APOLOGY: &str = "Sorry, something went wrong on our side while handling your message. A member of our team has it and will follow up here.";

/// Runtime settings every conversation actor shares.
#[derive(Clone)]
pub struct ConversationDeps {
    pub pool: PgPool,
    pub brain: Arc<dyn Brain>,
    /// Woken after every commit that queued outbox rows.
    pub outbox_notify: Arc<Notify>,
    /// Replies with a lower confidence become drafts for human approval.
    pub approval_threshold: f32,
    pub snapshot_every: u64,
    /// Attempts at a turn that keeps hitting version conflicts.
    pub max_conflict_retries: u32,
    pub metrics: Arc<crate::metrics::Metrics>,
}

#[path = "conversation_human.rs"]
mod human;
#[path = "conversation_turn.rs"]
mod turn;
pub use human::{HumanAction, HumanOutcome, HumanRefusal, carry_out_stored};
use turn::InboundTurn;

pub struct ConversationActor;

pub struct ConversationActorArgs {
    pub tenant: TenantId,
    pub customer: CustomerId,
    pub deps: Arc<ConversationDeps>,
    /// Its mailbox depth, shared with the supervisor.
    pub queued: super::supervisor::Queued,
}

pub struct ConversationActorState {
    tenant: TenantId,
    customer: CustomerId,
    deps: Arc<ConversationDeps>,
    conversation: Option<ConversationId>,
    state: ConversationState,
    queued: super::supervisor::Queued,
    /// The seat of the turn in progress (an unmetered one between turns).
    seat: Arc<Seat>,
}

/// What the actor did with one inbound message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnReceipt {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    /// Messages queued for the customer (replies, holding replies).
    pub replies: Vec<MessageId>,
    /// True when the message had been stored before: nothing was done.
    pub duplicate: bool,
    pub state_version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("event refused by the state machine: {0}")]
    Rejected(#[from] Rejected),
    #[error("brain failed: {0}")]
    Brain(#[from] crate::brain::BrainError),
    #[error("not supported on this path yet: {0}")]
    Unsupported(String),
    #[error("message belongs to tenant {got}, actor serves {expected}")]
    WrongTenant { expected: TenantId, got: TenantId },
}

impl TurnError {
    /// Whether the same turn is expected to commit once a passing
    /// condition is over (the database away or busy, a model endpoint
    /// unreachable, a concurrent writer): such a failure is retried for as
    /// long as it lasts, and never escalates the message.
    pub fn is_transient(&self) -> bool {
        match self {
            TurnError::Store(e) => e.is_transient(),
            TurnError::Brain(e) => e.is_transient(),
            TurnError::Rejected(_) | TurnError::Unsupported(_) | TurnError::WrongTenant { .. } => false,
        }
    }

    fn failure(&self) -> TurnFailure {
        TurnFailure { reason: self.to_string(), transient: self.is_transient() }
    }
}

/// Why a turn did not commit, as the router that retries it needs to know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct TurnFailure {
    pub reason: String,
    /// Waited out, never counted towards giving up (see
    /// [`TurnError::is_transient`]).
    pub transient: bool,
}

impl TurnFailure {
    pub fn lasting(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), transient: false }
    }

    pub fn transient(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), transient: true }
    }
}

/// The answer to a customer message: its receipt once committed.
pub type TurnResult = Result<TurnReceipt, TurnFailure>;

pub enum ConversationActorMessage {
    /// A customer message, answered with the receipt once committed.
    Inbound(Box<TicketMessage>, Arc<Seat>, RpcReplyPort<TurnResult>),
    /// A customer message that failed every attempt: store it, hand the
    /// conversation to humans (`processing_failure`) and send the customer
    /// a short apology, without asking the brain again.
    GiveUp(Box<TicketMessage>, Arc<Seat>, RpcReplyPort<TurnResult>),
    /// The inactivity timeout, applied only if the conversation is still
    /// at `version` (the one the sweeper saw): a customer who wrote in the
    /// meantime keeps their conversation open.
    Expire { version: u64, reply: RpcReplyPort<Result<u64, String>> },
    /// A lifecycle event that is not a customer message (inactivity
    /// timeout; human actions arrive here too).
    Apply(Event, RpcReplyPort<Result<u64, String>>),
    /// A support agent's reply or decision on a draft.
    Human(ConversationId, HumanAction, RpcReplyPort<Result<HumanOutcome, HumanRefusal>>),
    /// Current state, for operators and tests.
    Inspect(RpcReplyPort<(Option<ConversationId>, ConversationState)>),
}

impl Actor for ConversationActor {
    type Msg = ConversationActorMessage;
    type State = ConversationActorState;
    type Arguments = ConversationActorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        // Boxed: an idle actor's task keeps room for the largest future its
        // loop awaits inline, so the database futures live on the heap
        // only while they run.
        let loaded = Box::pin(store::load(&args.deps.pool, args.tenant, args.customer)).await?;
        tracing::debug!(
            tenant_id = %args.tenant, customer_id = %args.customer,
            conversation_id = ?loaded.conversation_id, events_replayed = loaded.events_replayed,
            "conversation actor rehydrated"
        );
        Ok(ConversationActorState {
            tenant: args.tenant,
            customer: args.customer,
            deps: args.deps,
            conversation: loaded.conversation_id,
            state: loaded.state,
            queued: args.queued,
            seat: Arc::default(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Taken up: no longer waiting in the mailbox.
        let _ = state.queued.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |n| n.checked_sub(1),
        );
        match message {
            ConversationActorMessage::Inbound(msg, seat, reply) => {
                state.seat = seat;
                let span = tracing::info_span!(
                    "turn", tenant_id = %state.tenant, customer_id = %state.customer,
                    channel = %msg.message.channel, conversation_id = tracing::field::Empty,
                );
                let turn = Box::pin(tracing::Instrument::instrument(state.handle_inbound(&msg), span));
                // A panic is this message's own failure: answered as
                // lasting, so it counts towards giving up (a closed reply
                // port means a message that never ran).
                let outcome = AssertUnwindSafe(turn).catch_unwind().await;
                state.seat = Arc::default();
                match outcome {
                    Ok(Ok(receipt)) => {
                        let _ = reply.send(Ok(receipt));
                        Ok(())
                    }
                    Ok(Err(e)) => {
                        // Whatever happened, the in-memory state may now
                        // disagree with the database: stop, and let the
                        // next message rehydrate a fresh actor.
                        let _ = reply.send(Err(e.failure()));
                        Err(Box::new(e))
                    }
                    Err(panic) => {
                        let reason = format!("the turn panicked: {}", panic_text(panic.as_ref()));
                        let _ = reply.send(Err(TurnFailure::lasting(reason.clone())));
                        Err(reason.into())
                    }
                }
            }
            ConversationActorMessage::GiveUp(msg, seat, reply) => {
                state.seat = seat;
                let forced = Decision::Escalate {
                    reason: EscalationReason::ProcessingFailure,
                    holding_reply: Some(APOLOGY.to_string()),
                };
                let result = Box::pin(state.handle_inbound_with(&msg, Some(forced))).await;
                state.seat = Arc::default();
                let failed = result.is_err();
                let _ = reply.send(result.map_err(|e| e.failure()));
                if failed { Err("giving up on a message failed too".into()) } else { Ok(()) }
            }
            ConversationActorMessage::Expire { version, reply } => {
                if state.state.version != version {
                    let _ = reply.send(Err(format!("conversation moved on (v{} ≠ v{version})", state.state.version)));
                    return Ok(());
                }
                answer_apply(Box::pin(state.apply(Event::InactivityTimeout)).await, reply)
            }
            ConversationActorMessage::Apply(event, reply) => answer_apply(Box::pin(state.apply(event)).await, reply),
            ConversationActorMessage::Human(target, action, reply) => {
                let result = Box::pin(state.human(target, action)).await;
                let failed = match &result {
                    Err(HumanRefusal::Failed(e)) => Some(e.clone()),
                    _ => None,
                };
                let _ = reply.send(result);
                // The database outcome is unknown: rehydrate on the next message.
                match failed {
                    Some(e) => Err(e.into()),
                    None => Ok(()),
                }
            }
            ConversationActorMessage::Inspect(reply) => {
                let _ = reply.send((state.conversation, state.state.clone()));
                Ok(())
            }
        }
    }
}

/// The message a panic carried, when it is text.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

/// Answers an applied event. A refusal (by the state machine, or an
/// effect this path cannot carry out) wrote nothing and leaves the actor
/// running; any other error means the database outcome is unknown, so the
/// actor stops and its successor rehydrates.
fn answer_apply(
    result: Result<u64, TurnError>,
    reply: RpcReplyPort<Result<u64, String>>,
) -> Result<(), ActorProcessingErr> {
    match result {
        Ok(version) => {
            let _ = reply.send(Ok(version));
            Ok(())
        }
        Err(e @ (TurnError::Rejected(_) | TurnError::Unsupported(_))) => {
            let _ = reply.send(Err(e.to_string()));
            Ok(())
        }
        Err(e) => {
            let _ = reply.send(Err(e.to_string()));
            Err(Box::new(e))
        }
    }
}

impl ConversationActorState {
    async fn reload(&mut self) -> Result<(), StoreError> {
        let loaded = store::load(&self.deps.pool, self.tenant, self.customer).await?;
        self.conversation = loaded.conversation_id;
        self.state = loaded.state;
        Ok(())
    }

    async fn handle_inbound(&mut self, msg: &TicketMessage) -> Result<TurnReceipt, TurnError> {
        self.handle_inbound_with(msg, None).await
    }

    /// Handles a customer message; with `forced`, that decision is taken
    /// instead of asking the brain.
    async fn handle_inbound_with(
        &mut self,
        msg: &TicketMessage,
        forced: Option<Decision>,
    ) -> Result<TurnReceipt, TurnError> {
        let inbound = &msg.message;
        if inbound.tenant_id != self.tenant {
            return Err(TurnError::WrongTenant { expected: self.tenant, got: inbound.tenant_id });
        }
        // A redelivery: answer with what was done the first time, and do
        // nothing (no brain call, no second reply).
        if let Some(stored) =
            store::find_inbound(&self.deps.pool, self.tenant, inbound.channel, &inbound.external_id).await?
        {
            return Ok(self.duplicate_receipt(stored));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_turn(msg, forced.clone()).await {
                Err(TurnError::Store(StoreError::VersionConflict { expected }))
                    if attempt <= self.deps.max_conflict_retries =>
                {
                    tracing::info!(expected, attempt, "version conflict: re-reading the conversation and retrying");
                    self.reload().await?;
                }
                other => return other,
            }
        }
    }

    fn duplicate_receipt(&self, stored: AlreadyStored) -> TurnReceipt {
        TurnReceipt {
            message_id: stored.message_id,
            conversation_id: stored.conversation_id,
            replies: stored.replies,
            duplicate: true,
            state_version: self.state.version,
        }
    }

    /// What the brain sees of a turn on `inbound`.
    fn turn_input<'a>(
        &'a self,
        inbound: &'a InboundMessage,
        conversation: ConversationId,
        new_conversation: bool,
        state: &'a ConversationState,
    ) -> TurnInput<'a> {
        TurnInput {
            tenant: self.tenant,
            customer: self.customer,
            conversation,
            channel: inbound.channel,
            subject: inbound.subject.as_deref(),
            message: &inbound.body,
            display_name: inbound.display_name.as_deref(),
            new_conversation,
            state,
            seat: &self.seat,
        }
    }

    async fn try_turn(&mut self, msg: &TicketMessage, forced: Option<Decision>) -> Result<TurnReceipt, TurnError> {
        let mut turn = self.open_turn(&msg.message)?;
        let give_up = forced.is_some();
        if turn.effects.iter().any(|e| matches!(e, Effect::RunAgentTurn { .. })) {
            self.run_agent(&mut turn, forced).await?;
        }
        if !give_up {
            self.acknowledge(&mut turn).await?;
        }
        self.commit_inbound(turn).await
    }

    /// Starts a turn on a customer message: the conversation it belongs to
    /// (a new one when the customer has none) and the message's event
    /// applied to the current state.
    fn open_turn<'m>(&self, inbound: &'m InboundMessage) -> Result<InboundTurn<'m>, Rejected> {
        let started = Instant::now();
        let (conversation, new_conversation) = match self.conversation {
            Some(id) => (id, false),
            None => (ConversationId::new(), true),
        };
        tracing::Span::current().record("conversation_id", tracing::field::display(conversation));
        let message_id = MessageId::new();
        let first = Event::CustomerMessage { message_id, channel: inbound.channel };
        let (after, effects) = transition(&self.state, first.clone())?;
        Ok(InboundTurn {
            started,
            inbound,
            conversation,
            new_conversation,
            message_id,
            effects,
            after,
            events: vec![first],
            replies: Vec::new(),
            escalation: None,
            approval: None,
            agent: None,
        })
    }

    /// Asks the brain about the message (or takes the `forced` decision)
    /// and adds its answer to the turn.
    async fn run_agent(&self, turn: &mut InboundTurn<'_>, forced: Option<Decision>) -> Result<(), TurnError> {
        let outcome = match forced {
            Some(decision) => TurnOutcome { decision, confidence: 1.0, tokens_used: 0, brain: "runtime", agent: None },
            None => {
                let input = self.turn_input(turn.inbound, turn.conversation, turn.new_conversation, &turn.after);
                self.deps.brain.turn(input).await?
            }
        };
        turn.take_outcome(outcome, self.deps.approval_threshold)?;
        Ok(())
    }

    /// Humans have it and the customer wrote again: a holding reply,
    /// once per escalation, so they know the message arrived.
    async fn acknowledge(&self, turn: &mut InboundTurn<'_>) -> Result<(), TurnError> {
        if turn.effects.iter().any(|e| matches!(e, Effect::ForwardToHumans { .. }))
            && turn.after.status == crate::conversation::Status::Escalated
            && !turn.after.acknowledged
            && let Some(reason) = turn.after.escalation
        {
            let input = self.turn_input(turn.inbound, turn.conversation, turn.new_conversation, &turn.after);
            if let Some(text) = self.deps.brain.acknowledge(input, reason).await? {
                let reply_id = MessageId::new();
                turn.push(Event::AgentAcknowledged { reply_id, in_reply_to: turn.message_id })?;
                let reply = turn.reply(reply_id, Author::System, text, turn.elapsed_ms(), 0);
                turn.replies.push(reply);
            }
        }
        Ok(())
    }

    /// Commits the turn; once it is durable the actor takes its state and
    /// the outbox relay is woken for its replies.
    async fn commit_inbound(&mut self, turn: InboundTurn<'_>) -> Result<TurnReceipt, TurnError> {
        let (started, message_id, conversation) = (turn.started, turn.message_id, turn.conversation);
        let record = self.inbound_record(turn);
        match store::commit_turn(&self.deps.pool, &record).await? {
            CommitOutcome::Duplicate(stored) => Ok(self.duplicate_receipt(stored)),
            CommitOutcome::Committed => {
                self.observe(&record, started.elapsed());
                self.conversation = Some(conversation);
                self.state = record.after.clone();
                if !record.replies.is_empty() {
                    self.deps.outbox_notify.notify_one();
                }
                Ok(TurnReceipt {
                    message_id,
                    conversation_id: conversation,
                    replies: record.replies.iter().map(|r| r.id).collect(),
                    duplicate: false,
                    state_version: self.state.version,
                })
            }
        }
    }

    /// What a customer turn writes, from the state it started from.
    fn inbound_record(&self, turn: InboundTurn<'_>) -> TurnRecord {
        let inbound = turn.inbound;
        TurnRecord {
            tenant: self.tenant,
            customer: self.customer,
            conversation: turn.conversation,
            new_conversation: turn.new_conversation,
            before: self.state.clone(),
            after: turn.after,
            events: turn.events,
            inbound: Some(NewInbound {
                id: turn.message_id,
                channel: inbound.channel,
                external_id: inbound.external_id.clone(),
                body: inbound.body.clone(),
                subject: inbound.subject.clone(),
                sender: inbound.sender.clone(),
                received_at: inbound.received_at,
                metadata: inbound.metadata.clone(),
            }),
            replies: turn.replies,
            escalation: turn.escalation,
            approval: turn.approval,
            agent: turn.agent,
            close_escalations: false,
            claim_escalation: None,
            decided_approval: None,
            snapshot_every: self.deps.snapshot_every,
        }
    }

    /// Counts a committed customer turn in the process's metrics.
    fn observe(&self, record: &TurnRecord, took: std::time::Duration) {
        let m = &self.deps.metrics;
        if let Some(inbound) = &record.inbound {
            m.turn(inbound.channel.as_str(), took);
        }
        if let Some(agent) = &record.agent {
            let tokens = u64::from(agent.record.prompt_tokens) + u64::from(agent.record.completion_tokens);
            m.spend(self.tenant, tokens, agent.record.cost_usd);
        }
        if let Some(escalation) = &record.escalation {
            m.escalation(escalation.reason.as_str());
        }
    }

    /// Applies a non-message event (inactivity timeout, human actions that
    /// carry no text) and commits it.
    async fn apply(&mut self, event: Event) -> Result<u64, TurnError> {
        let Some(conversation) = self.conversation else {
            return Err(TurnError::Rejected(Rejected::NotAllowed {
                status: self.state.status,
                event: event.kind().to_string(),
            }));
        };
        let (after, effects) = transition(&self.state, event.clone())?;
        // Replies and approvals need rows this path does not write (they
        // come through `Human`): refuse rather than record an event whose
        // effect never happens.
        if let Some(effect) =
            effects.iter().find(|e| matches!(e, Effect::SendReply { .. } | Effect::QueueApproval { .. }))
        {
            return Err(TurnError::Unsupported(format!("{} (effect {effect:?})", event.kind())));
        }
        let escalation = effects.iter().find_map(|e| match e {
            Effect::OpenEscalation { reason } => Some(NewEscalation {
                reason: *reason,
                summary: String::new(),
                urgency: Urgency::for_reason(*reason),
                ticket: None,
            }),
            _ => None,
        });
        let record = TurnRecord {
            tenant: self.tenant,
            customer: self.customer,
            conversation,
            new_conversation: false,
            before: self.state.clone(),
            after: after.clone(),
            events: vec![event],
            inbound: None,
            replies: vec![],
            escalation,
            approval: None,
            agent: None,
            close_escalations: effects.contains(&Effect::CloseEscalation),
            claim_escalation: None,
            decided_approval: None,
            snapshot_every: self.deps.snapshot_every,
        };
        store::commit_turn(&self.deps.pool, &record).await?;
        self.state = after;
        Ok(self.state.version)
    }
}
