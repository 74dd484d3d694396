//! The agent's tools as data: their names, descriptions and JSON schemas
//! (OpenAI strict mode), their typed inputs, and what a call returns or
//! records (tickets, history, call records). [`super::TurnTools`] runs them.
//! What a turn records (tickets, call records, priority, urgency) is part
//! of the agent's record of the turn, a domain type re-exported here.

pub use crate::domain::{Priority, TicketIntent, ToolCallRecord, Urgency};

use crate::domain::EscalationReason;
use crate::kb;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolName {
    CreateTicket,
    GetCustomerHistory,
    SearchKnowledgeBase,
    EscalateToHuman,
    SendResponse,
}

impl ToolName {
    pub const ALL: [ToolName; 5] = [
        ToolName::CreateTicket,
        ToolName::GetCustomerHistory,
        ToolName::SearchKnowledgeBase,
        ToolName::EscalateToHuman,
        ToolName::SendResponse,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ToolName::CreateTicket => "create_ticket",
            ToolName::GetCustomerHistory => "get_customer_history",
            ToolName::SearchKnowledgeBase => "search_knowledge_base",
            ToolName::EscalateToHuman => "escalate_to_human",
            ToolName::SendResponse => "send_response",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn description(&self) -> &'static str {
        match self {
            ToolName::CreateTicket => {
                "Open (or reuse) the support ticket for this conversation. Always the first call."
            }
            ToolName::GetCustomerHistory => {
                "The customer's recent messages on every channel, open escalations and tickets."
            }
            ToolName::SearchKnowledgeBase => {
                "Search the knowledge base (hybrid semantic + keyword). Returns up to 5 passages with their article."
            }
            ToolName::EscalateToHuman => {
                "Hand the conversation to humans with one reason code. Then send only a holding reply."
            }
            ToolName::SendResponse => {
                "Send the reply to the customer (formatted for their channel). Always the last call, exactly once."
            }
        }
    }

    /// JSON schema of the arguments (OpenAI strict mode: all properties
    /// required, optional ones nullable, no additional properties).
    pub fn parameters(&self) -> Value {
        let object = |properties: Value, required: &[&str]| json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false });
        match self {
            ToolName::CreateTicket => object(
                json!({
                    "subject": { "type": ["string", "null"], "maxLength": 200 },
                    "category": { "type": ["string", "null"], "maxLength": 60 },
                    "priority": { "type": "string", "enum": ["low", "medium", "high", "urgent"] }
                }),
                &["subject", "category", "priority"],
            ),
            ToolName::GetCustomerHistory => {
                object(json!({ "limit": { "type": ["integer", "null"], "minimum": 1, "maximum": 50 } }), &["limit"])
            }
            ToolName::SearchKnowledgeBase => object(
                json!({
                    "query": { "type": "string", "minLength": 1, "maxLength": 1000 },
                    "max_results": { "type": ["integer", "null"], "minimum": 1, "maximum": 5 }
                }),
                &["query", "max_results"],
            ),
            ToolName::EscalateToHuman => object(
                json!({
                    "reason": { "type": "string", "enum": [
                        "legal_inquiry", "compliance_inquiry", "refund_request", "pricing_inquiry",
                        "human_requested", "negative_sentiment", "no_knowledge"] },
                    "urgency": { "type": "string", "enum": ["low", "normal", "high", "urgent"] },
                    "summary": { "type": "string", "maxLength": 2000 }
                }),
                &["reason", "urgency", "summary"],
            ),
            ToolName::SendResponse => {
                object(json!({ "message": { "type": "string", "minLength": 1, "maxLength": 8000 } }), &["message"])
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketInput {
    pub subject: Option<String>,
    pub category: Option<String>,
    pub priority: Priority,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCustomerHistoryInput {
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchKnowledgeBaseInput {
    pub query: String,
    pub max_results: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateToHumanInput {
    pub reason: EscalationReason,
    pub urgency: Urgency,
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendResponseInput {
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool {0:?}")]
    UnknownTool(String),
    #[error("invalid arguments for {tool}: {detail}")]
    InvalidArguments { tool: &'static str, detail: String },
    #[error("{0}")]
    Order(String),
    #[error("knowledge base: {0}")]
    Kb(#[from] kb::KbError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl ToolError {
    /// Errors a model can correct (bad arguments, wrong order): fed back to
    /// it as the tool's result. Others fail the turn.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, ToolError::UnknownTool(_) | ToolError::InvalidArguments { .. } | ToolError::Order(_))
    }
}

/// What `get_customer_history` returns.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CustomerHistory {
    pub display_name: Option<String>,
    /// Most recent first: (channel, direction, body).
    pub messages: Vec<HistoryMessage>,
    /// Escalations not yet resolved, and ones resolved in the last 14 days.
    pub escalations: Vec<PastEscalation>,
    pub open_tickets: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryMessage {
    pub channel: String,
    pub direction: String,
    pub author: String,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PastEscalation {
    pub reason: String,
    pub status: String,
    pub summary: String,
}
