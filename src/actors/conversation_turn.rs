//! `InboundTurn`: one customer turn of a conversation actor as it is put
//! together (the events applied to the state so far, the replies, the
//! escalation or draft, the agent's record), before the actor commits it
//! in one transaction.

use crate::brain::{AgentRecord, Decision, TurnOutcome};
use crate::conversation::store::{AgentTurn, NewApproval, NewEscalation, NewReply};
use crate::conversation::{Author, ConversationState, Effect, Event, Rejected, transition};
use crate::domain::{ApprovalId, ConversationId, EscalationReason, InboundMessage, MessageId, Urgency};
use std::time::Instant;

/// A customer turn being put together, before it is committed.
pub(super) struct InboundTurn<'m> {
    pub(super) started: Instant,
    pub(super) inbound: &'m InboundMessage,
    pub(super) conversation: ConversationId,
    /// True when the conversation row does not exist yet.
    pub(super) new_conversation: bool,
    /// The id the customer's message is stored under.
    pub(super) message_id: MessageId,
    /// What the customer's message asked for.
    pub(super) effects: Vec<Effect>,
    /// The state after the events so far.
    pub(super) after: ConversationState,
    pub(super) events: Vec<Event>,
    pub(super) replies: Vec<NewReply>,
    pub(super) escalation: Option<NewEscalation>,
    pub(super) approval: Option<NewApproval>,
    pub(super) agent: Option<AgentTurn>,
}

impl InboundTurn<'_> {
    /// Milliseconds since the turn started.
    pub(super) fn elapsed_ms(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_millis()).unwrap_or(u32::MAX)
    }

    /// Applies `event` to the state after the turn so far and records it.
    pub(super) fn push(&mut self, event: Event) -> Result<(), Rejected> {
        let (next, _effects) = transition(&self.after, event.clone())?;
        self.after = next;
        self.events.push(event);
        Ok(())
    }

    /// A reply to the customer's message, on its channel, to its sender.
    pub(super) fn reply(
        &self,
        id: MessageId,
        author: Author,
        body: String,
        latency_ms: u32,
        tokens_used: u32,
    ) -> NewReply {
        NewReply {
            id,
            channel: self.inbound.channel,
            author,
            body,
            in_reply_to: Some(self.message_id),
            recipient: Some(self.inbound.sender.clone()),
            latency_ms: Some(latency_ms),
            tokens_used: Some(tokens_used),
        }
    }

    /// Adds the brain's outcome to the turn: the decision's rows and event,
    /// and the agent's record of it. A reply below the approval threshold
    /// (the tenant's, else `default_threshold`) becomes a draft.
    pub(super) fn take_outcome(&mut self, mut outcome: TurnOutcome, default_threshold: f32) -> Result<(), Rejected> {
        let latency_ms = self.elapsed_ms();
        let agent = outcome.agent.take().map(|a| *a).unwrap_or_default();
        let threshold = agent.approval_threshold.unwrap_or(default_threshold);
        let (brain, confidence) = (outcome.brain, outcome.confidence);
        let (event, kind, reason) = self.decide(outcome, &agent, threshold, latency_ms);
        self.agent = Some(AgentTurn { brain, decision: kind, reason, confidence, latency_ms, record: agent });
        self.push(event)
    }

    /// Writes the rows of the brain's decision (a reply, a draft for
    /// approval, or an escalation with its holding reply) and returns its
    /// event, its kind for `agent_turns`, and the escalation reason.
    pub(super) fn decide(
        &mut self,
        outcome: TurnOutcome,
        agent: &AgentRecord,
        threshold: f32,
        latency_ms: u32,
    ) -> (Event, &'static str, Option<EscalationReason>) {
        let message_id = self.message_id;
        let tokens_used = outcome.tokens_used;
        match outcome.decision {
            Decision::Reply { text } if outcome.confidence >= threshold => {
                let reply_id = MessageId::new();
                self.replies.push(self.reply(reply_id, Author::Ai, text, latency_ms, tokens_used));
                (Event::AgentReplied { reply_id, in_reply_to: message_id }, "reply", None)
            }
            Decision::Reply { text } => {
                let approval_id = ApprovalId::new();
                self.approval = Some(NewApproval {
                    id: approval_id,
                    inbound: message_id,
                    draft: text,
                    confidence: outcome.confidence,
                });
                (Event::DraftNeedsApproval { approval_id, in_reply_to: message_id }, "draft", None)
            }
            Decision::Escalate { reason, holding_reply } => {
                let holding_id = holding_reply.map(|text| {
                    let id = MessageId::new();
                    self.replies.push(self.reply(id, Author::System, text, latency_ms, tokens_used));
                    id
                });
                self.escalation = Some(NewEscalation {
                    reason,
                    summary: agent.handover.clone().unwrap_or_else(|| self.inbound.body.chars().take(500).collect()),
                    urgency: agent.urgency.unwrap_or_else(|| Urgency::for_reason(reason)),
                    ticket: agent.ticket.as_ref().map(|t| t.id),
                });
                (
                    Event::AgentEscalated { reason, in_reply_to: message_id, holding_reply: holding_id },
                    "escalate",
                    Some(reason),
                )
            }
        }
    }
}
