//! The agent's decision for one turn, behind the `Brain` trait: given the
//! customer's message and the conversation's state, reply, escalate, or
//! draft a reply for human approval. The conversation actor calls it and
//! persists what it decided. The agent (`agent::AgentBrain`: tools,
//! rules, knowledge base, OpenAI-compatible models) implements it, as does
//! the deterministic `EchoBrain` used to exercise the runtime. The agent's
//! record of a turn ([`AgentRecord`]) is a domain type the conversation
//! store persists; it is re-exported here.

mod echo;
mod seat;

pub use crate::domain::{AgentRecord, Fallback};
pub use echo::EchoBrain;
pub use seat::Seat;

use crate::conversation::ConversationState;
use crate::domain::{Channel, ConversationId, CustomerId, EscalationReason, TenantId};
use std::future::Future;
use std::pin::Pin;

/// What a brain sees of one turn.
#[derive(Clone, Copy, Debug)]
pub struct TurnInput<'a> {
    pub tenant: TenantId,
    pub customer: CustomerId,
    pub conversation: ConversationId,
    pub channel: Channel,
    pub subject: Option<&'a str>,
    pub message: &'a str,
    /// The name the customer gave on this channel, if any.
    pub display_name: Option<&'a str>,
    /// The conversation row does not exist yet (its first turn).
    pub new_conversation: bool,
    pub state: &'a ConversationState,
    /// The turn's place among those the process runs at once: given up
    /// while the turn only waits on a remote model.
    pub seat: &'a Seat,
}

/// What the brain decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Answer the customer.
    Reply { text: String },
    /// Hand the conversation to humans, optionally telling the customer so.
    Escalate { reason: EscalationReason, holding_reply: Option<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TurnOutcome {
    pub decision: Decision,
    /// 0..1; replies below the tenant's threshold go to human approval.
    pub confidence: f32,
    pub tokens_used: u32,
    /// Name of the brain that produced the outcome (after any fallback).
    pub brain: &'static str,
    /// The agent's record of the turn (tools, ticket, usage); none for
    /// brains without tools.
    pub agent: Option<Box<AgentRecord>>,
}

#[derive(Debug, thiserror::Error)]
pub enum BrainError {
    #[error("brain timed out")]
    Timeout,
    #[error("brain failed: {0}")]
    Failed(String),
    /// A dependency (the database, a model endpoint's network) is away or
    /// busy: the same turn is expected to work once it is back.
    #[error("brain dependency unavailable: {0}")]
    Unavailable(String),
}

impl BrainError {
    /// Whether the failure is worth waiting out (see [`BrainError::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, BrainError::Timeout | BrainError::Unavailable(_))
    }
}

pub type BrainFuture<'a> = Pin<Box<dyn Future<Output = Result<TurnOutcome, BrainError>> + Send + 'a>>;

pub type AckFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<String>, BrainError>> + Send + 'a>>;

pub trait Brain: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn turn<'a>(&'a self, input: TurnInput<'a>) -> BrainFuture<'a>;

    /// The holding reply for a customer who writes again while the
    /// conversation waits for a human (escalated for `reason`); None says
    /// nothing. Never an answer to the message.
    fn acknowledge<'a>(&'a self, _input: TurnInput<'a>, _reason: EscalationReason) -> AckFuture<'a> {
        Box::pin(async { Ok(None) })
    }
}
