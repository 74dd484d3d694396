//! What an agent turn did besides deciding, as the brain reports it and the
//! conversation store persists it (`agent_turns`, `tickets`,
//! `escalations`): the [`AgentRecord`] and the values it carries (the
//! ticket the turn works under, its recorded tool calls, the brains that
//! failed before the one that answered, the escalation's urgency).

use super::{Channel, EscalationReason, TicketId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an agent turn did besides deciding: persisted with the turn.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentRecord {
    pub ticket: Option<TicketIntent>,
    pub tool_calls: Vec<ToolCallRecord>,
    /// Brains tried before the one that answered, and why each failed.
    pub fallbacks: Vec<Fallback>,
    /// Knowledge-base articles the reply was composed from.
    pub sources: Vec<String>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cost_usd: f64,
    /// Escalation urgency and the hand-over for the humans.
    pub urgency: Option<Urgency>,
    pub handover: Option<String>,
    /// Set when this turn found the tenant's budget exhausted.
    pub budget_alert: bool,
    /// The tenant's own approval threshold (else the runtime's).
    pub approval_threshold: Option<f32>,
}

/// A brain that failed before the one that answered.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fallback {
    pub brain: String,
    pub error: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(&self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Low,
    Normal,
    High,
    Urgent,
}

impl Urgency {
    pub fn as_str(&self) -> &'static str {
        match self {
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
            Urgency::Urgent => "urgent",
        }
    }

    /// The default urgency of a reason.
    pub fn for_reason(reason: EscalationReason) -> Self {
        match reason {
            EscalationReason::LegalInquiry => Urgency::Urgent,
            EscalationReason::NegativeSentiment | EscalationReason::RefundRequest => Urgency::High,
            EscalationReason::ProcessingFailure => Urgency::High,
            _ => Urgency::Normal,
        }
    }
}

/// One recorded tool call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    pub name: String,
    pub arguments: Value,
    pub latency_ms: u32,
    pub tokens_used: u32,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The ticket a turn works under.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TicketIntent {
    pub id: TicketId,
    pub number: i64,
    /// True when the conversation's open ticket was reused (nothing to insert).
    pub existing: bool,
    pub subject: Option<String>,
    pub category: Option<String>,
    pub priority: Priority,
    pub channel: Channel,
}

impl TicketIntent {
    pub fn reference(&self) -> String {
        format!("TKT-{}", self.number)
    }
}
