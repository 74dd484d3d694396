//! The conversation state machine, as a pure function: no IO, no clock, no
//! randomness. `transition(&state, event)` either accepts the event, giving
//! the next state (with `version` one higher) and the effects the caller
//! must carry out after persisting it, or rejects it with a typed reason.
//! Replaying a conversation's stored events through `transition` rebuilds
//! its state exactly; that is how actors rehydrate.
//!
//! ```text
//! Idle ─msg─▶ Active ─replied─▶ AwaitingCustomer ─msg─▶ Active
//!             Active ─escalated─▶ Escalated ─claimed─▶ HumanActive ─resolved─▶ Resolved
//!             Active ─needs approval─▶ AwaitingApproval ─approved/edited─▶ AwaitingCustomer
//!                                       AwaitingApproval ─rejected─▶ Escalated
//! AwaitingCustomer ─inactivity─▶ Resolved ─msg─▶ Active
//! HumanActive ─handed back─▶ AwaitingCustomer
//! ```
//! While Escalated or HumanActive (and while a draft awaits approval) the
//! AI never answers: customer messages are stored and forwarded to humans.

use crate::domain::{ApprovalId, Channel, EscalationReason, MessageId};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Idle,
    Active,
    AwaitingCustomer,
    AwaitingApproval,
    Escalated,
    HumanActive,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Idle,
        Status::Active,
        Status::AwaitingCustomer,
        Status::AwaitingApproval,
        Status::Escalated,
        Status::HumanActive,
        Status::Resolved,
    ];

    /// The name stored in `conversations.state`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Active => "active",
            Status::AwaitingCustomer => "awaiting_customer",
            Status::AwaitingApproval => "awaiting_approval",
            Status::Escalated => "escalated",
            Status::HumanActive => "human_active",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Humans own the conversation: the AI must not answer.
    pub fn is_human_owned(&self) -> bool {
        matches!(self, Status::Escalated | Status::HumanActive)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who wrote an outgoing message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Ai,
    Human,
    System,
}

impl Author {
    /// The name stored in `messages.author`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Author::Ai => "ai",
            Author::Human => "human",
            Author::System => "system",
        }
    }
}

/// Something that happened to a conversation. Stored, serialized, in
/// `conversation_events.payload`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The customer wrote.
    CustomerMessage {
        message_id: MessageId,
        channel: Channel,
    },
    /// The AI answered the pending customer message.
    AgentReplied {
        reply_id: MessageId,
        in_reply_to: MessageId,
    },
    /// The AI handed the conversation to humans (a holding reply, if any,
    /// goes out with it).
    AgentEscalated {
        reason: EscalationReason,
        in_reply_to: MessageId,
        holding_reply: Option<MessageId>,
    },
    /// The customer wrote again while the conversation waits for a human:
    /// the AI tells them (once per escalation) that the team has it. Only a
    /// holding reply, never an answer.
    AgentAcknowledged {
        reply_id: MessageId,
        in_reply_to: MessageId,
    },
    /// The AI's draft is below the confidence threshold: a human decides.
    DraftNeedsApproval {
        approval_id: ApprovalId,
        in_reply_to: MessageId,
    },
    DraftApproved {
        approval_id: ApprovalId,
        reply_id: MessageId,
        by: String,
    },
    DraftEdited {
        approval_id: ApprovalId,
        reply_id: MessageId,
        by: String,
    },
    DraftRejected {
        approval_id: ApprovalId,
        by: String,
    },
    HumanClaimed {
        by: String,
    },
    HumanReplied {
        reply_id: MessageId,
        by: String,
    },
    HandedBackToAi {
        by: String,
    },
    Resolved {
        by: String,
    },
    /// The customer has not written for the configured time.
    InactivityTimeout,
}

impl Event {
    /// The name stored in `conversation_events.event_type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::CustomerMessage { .. } => "customer_message",
            Event::AgentReplied { .. } => "agent_replied",
            Event::AgentEscalated { .. } => "agent_escalated",
            Event::AgentAcknowledged { .. } => "agent_acknowledged",
            Event::DraftNeedsApproval { .. } => "draft_needs_approval",
            Event::DraftApproved { .. } => "draft_approved",
            Event::DraftEdited { .. } => "draft_edited",
            Event::DraftRejected { .. } => "draft_rejected",
            Event::HumanClaimed { .. } => "human_claimed",
            Event::HumanReplied { .. } => "human_replied",
            Event::HandedBackToAi { .. } => "handed_back_to_ai",
            Event::Resolved { .. } => "resolved",
            Event::InactivityTimeout => "inactivity_timeout",
        }
    }
}

/// What the caller must do once the transition is durable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Ask the agent what to do about this customer message.
    RunAgentTurn {
        message_id: MessageId,
    },
    /// Humans own the conversation: surface the message to them.
    ForwardToHumans {
        message_id: MessageId,
    },
    /// Send this stored outgoing message to the customer.
    SendReply {
        reply_id: MessageId,
        author: Author,
    },
    OpenEscalation {
        reason: EscalationReason,
    },
    QueueApproval {
        approval_id: ApprovalId,
    },
    CloseEscalation,
}

/// Why an event was refused. The state is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Rejected {
    #[error("{event} is not allowed while the conversation is {status}")]
    NotAllowed { status: Status, event: String },
    #[error("{event} answers message {got}, but the pending message is {expected:?}")]
    StaleTurn { event: String, expected: Option<MessageId>, got: MessageId },
    #[error("approval {got} is not the pending one ({expected:?})")]
    UnknownApproval { expected: Option<ApprovalId>, got: ApprovalId },
}

/// Everything a conversation's events determine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationState {
    pub status: Status,
    /// Accepted transitions so far; the `state_version` column.
    pub version: u64,
    /// The channel the customer last wrote on (replies go there).
    pub channel: Option<Channel>,
    /// The customer message the AI is answering (while Active) or whose
    /// draft awaits approval.
    pub pending_message: Option<MessageId>,
    pub pending_approval: Option<ApprovalId>,
    pub escalation: Option<EscalationReason>,
    /// The human who claimed the conversation.
    pub assignee: Option<String>,
    pub customer_messages: u64,
    pub replies: u64,
    /// A holding reply went out since the conversation was escalated.
    #[serde(default)]
    pub acknowledged: bool,
}

impl Default for ConversationState {
    fn default() -> Self {
        Self::new()
    }
}

impl ConversationState {
    pub const fn new() -> Self {
        Self {
            status: Status::Idle,
            version: 0,
            channel: None,
            pending_message: None,
            pending_approval: None,
            escalation: None,
            assignee: None,
            customer_messages: 0,
            replies: 0,
            acknowledged: false,
        }
    }
}

/// Applies one event. Pure: the same state and event always give the same
/// answer.
pub fn transition(state: &ConversationState, event: Event) -> Result<(ConversationState, Vec<Effect>), Rejected> {
    use Status::*;
    let not_allowed = |event: &Event| Rejected::NotAllowed { status: state.status, event: event.kind().to_string() };
    let mut next = state.clone();
    next.version += 1;
    let effects = match (&state.status, &event) {
        // The customer writes: the AI takes a turn when it owns the
        // conversation; otherwise the message goes to the humans.
        (Idle | AwaitingCustomer | Resolved, Event::CustomerMessage { message_id, channel }) => {
            next.status = Active;
            next.channel = Some(*channel);
            next.pending_message = Some(*message_id);
            next.escalation = None;
            next.assignee = None;
            next.customer_messages += 1;
            vec![Effect::RunAgentTurn { message_id: *message_id }]
        }
        (AwaitingApproval | Escalated | HumanActive, Event::CustomerMessage { message_id, channel }) => {
            next.channel = Some(*channel);
            next.customer_messages += 1;
            vec![Effect::ForwardToHumans { message_id: *message_id }]
        }
        // One customer message at a time: a second one while a turn is open
        // is a caller bug, not something to paper over.
        (Active, Event::CustomerMessage { .. }) => return Err(not_allowed(&event)),

        (Active, Event::AgentReplied { reply_id, in_reply_to }) => {
            check_pending(state, &event, *in_reply_to)?;
            next.status = AwaitingCustomer;
            next.pending_message = None;
            next.replies += 1;
            vec![Effect::SendReply { reply_id: *reply_id, author: Author::Ai }]
        }
        (Active, Event::AgentEscalated { reason, in_reply_to, holding_reply }) => {
            check_pending(state, &event, *in_reply_to)?;
            next.status = Escalated;
            next.pending_message = None;
            next.escalation = Some(*reason);
            next.acknowledged = false;
            let mut effects = vec![Effect::OpenEscalation { reason: *reason }];
            if let Some(reply_id) = holding_reply {
                next.replies += 1;
                effects.push(Effect::SendReply { reply_id: *reply_id, author: Author::System });
            }
            effects
        }
        (Active, Event::DraftNeedsApproval { approval_id, in_reply_to }) => {
            check_pending(state, &event, *in_reply_to)?;
            next.status = AwaitingApproval;
            next.pending_approval = Some(*approval_id);
            vec![Effect::QueueApproval { approval_id: *approval_id }]
        }

        (AwaitingApproval, Event::DraftApproved { approval_id, reply_id, .. })
        | (AwaitingApproval, Event::DraftEdited { approval_id, reply_id, .. }) => {
            check_approval(state, *approval_id)?;
            next.status = AwaitingCustomer;
            next.pending_approval = None;
            next.pending_message = None;
            next.replies += 1;
            vec![Effect::SendReply { reply_id: *reply_id, author: Author::Human }]
        }
        (Escalated, Event::AgentAcknowledged { reply_id, .. }) if !state.acknowledged => {
            next.acknowledged = true;
            next.replies += 1;
            vec![Effect::SendReply { reply_id: *reply_id, author: Author::System }]
        }
        (AwaitingApproval, Event::DraftRejected { approval_id, .. }) => {
            check_approval(state, *approval_id)?;
            next.acknowledged = false;
            next.status = Escalated;
            next.pending_approval = None;
            next.pending_message = None;
            next.escalation = Some(EscalationReason::HumanRequested);
            vec![Effect::OpenEscalation { reason: EscalationReason::HumanRequested }]
        }

        (Escalated, Event::HumanClaimed { by }) | (HumanActive, Event::HumanClaimed { by }) => {
            next.status = HumanActive;
            next.assignee = Some(by.clone());
            vec![]
        }
        // A human may answer an escalated conversation straight away: that
        // claims it.
        (Escalated | HumanActive, Event::HumanReplied { reply_id, by }) => {
            next.status = HumanActive;
            if next.assignee.is_none() {
                next.assignee = Some(by.clone());
            }
            next.replies += 1;
            vec![Effect::SendReply { reply_id: *reply_id, author: Author::Human }]
        }
        (HumanActive, Event::HandedBackToAi { .. }) => {
            next.status = AwaitingCustomer;
            next.assignee = None;
            next.escalation = None;
            vec![Effect::CloseEscalation]
        }

        (AwaitingCustomer | Escalated | HumanActive | AwaitingApproval, Event::Resolved { .. }) => {
            let was_escalated = state.status.is_human_owned();
            next.status = Resolved;
            next.pending_approval = None;
            next.pending_message = None;
            next.assignee = None;
            if was_escalated { vec![Effect::CloseEscalation] } else { vec![] }
        }
        (AwaitingCustomer, Event::InactivityTimeout) => {
            next.status = Resolved;
            vec![]
        }

        _ => return Err(not_allowed(&event)),
    };
    Ok((next, effects))
}

fn check_pending(state: &ConversationState, event: &Event, answered: MessageId) -> Result<(), Rejected> {
    if state.pending_message == Some(answered) {
        Ok(())
    } else {
        Err(Rejected::StaleTurn { event: event.kind().to_string(), expected: state.pending_message, got: answered })
    }
}

fn check_approval(state: &ConversationState, approval: ApprovalId) -> Result<(), Rejected> {
    if state.pending_approval == Some(approval) {
        Ok(())
    } else {
        Err(Rejected::UnknownApproval { expected: state.pending_approval, got: approval })
    }
}

/// Rebuilds a state by replaying events from `from` (a snapshot or the
/// initial state). Every stored event was accepted once, so a rejection
/// here means the log is corrupt.
pub fn replay<'a>(
    from: ConversationState,
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<ConversationState, Rejected> {
    events.into_iter().try_fold(from, |state, event| transition(&state, event.clone()).map(|(next, _)| next))
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
