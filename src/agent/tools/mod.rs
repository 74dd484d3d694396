//! The agent's tools (DESIGN.md §5): typed, validated inputs with JSON
//! schemas (strict: every property required, no extras), and one
//! [`TurnTools`] per turn that runs them in the enforced order —
//! `create_ticket` first, `send_response` last and only once — and records
//! every call (name, arguments, latency, tokens).
//!
//! Reads (`get_customer_history`, `search_knowledge_base`) run at once.
//! Writes are intents the turn commits in its one transaction: the ticket
//! row (its number is reserved now so the reply can quote it), the
//! escalation, the response. A turn that fails or is redelivered therefore
//! leaves no ticket or escalation behind.

mod schema;

pub use schema::*;

use super::config::AgentConfig;
use super::format::{ReplyParts, format_for_channel};
use crate::db::begin_tenant;
use crate::domain::{Channel, ConversationId, CustomerId, EscalationReason, TenantId, TicketId};
use crate::kb::{self, Embedder, SearchHit, SearchResult};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Instant;

/// The per-turn tool session.
pub struct TurnTools<'a> {
    pub pool: &'a PgPool,
    pub tenant: TenantId,
    pub customer: CustomerId,
    pub conversation: ConversationId,
    /// True when the conversation row does not exist yet.
    pub new_conversation: bool,
    pub channel: Channel,
    pub embedder: &'a dyn Embedder,
    pub kb: &'a kb::KbSearch,
    pub config: &'a AgentConfig,
    pub calls: Vec<ToolCallRecord>,
    pub ticket: Option<TicketIntent>,
    pub escalation: Option<EscalateToHumanInput>,
    /// The formatted reply, once `send_response` ran.
    pub response: Option<String>,
    pub searches: u32,
    /// Hits of every search, in order.
    pub hits: Vec<SearchHit>,
}

impl<'a> TurnTools<'a> {
    fn record(&mut self, tool: ToolName, arguments: Value, started: Instant, result: Result<(), String>) {
        self.calls.push(ToolCallRecord {
            name: tool.as_str().to_string(),
            arguments,
            latency_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
            tokens_used: 0,
            ok: result.is_ok(),
            error: result.err(),
        });
    }

    /// Attributes model tokens to the most recent call (the one the model
    /// spent them deciding on).
    pub fn add_tokens(&mut self, tokens: u32) {
        if let Some(last) = self.calls.last_mut() {
            last.tokens_used = last.tokens_used.saturating_add(tokens);
        }
    }

    fn check_order(&self, tool: ToolName) -> Result<(), ToolError> {
        if self.response.is_some() {
            return Err(ToolError::Order(format!(
                "{} after send_response: send_response is the last call",
                tool.as_str()
            )));
        }
        match tool {
            ToolName::CreateTicket if self.ticket.is_some() => {
                Err(ToolError::Order("create_ticket was already called".into()))
            }
            ToolName::CreateTicket => Ok(()),
            _ if self.ticket.is_none() => Err(ToolError::Order(format!(
                "{} before create_ticket: create_ticket must be the first call",
                tool.as_str()
            ))),
            ToolName::EscalateToHuman if self.escalation.is_some() => {
                Err(ToolError::Order("escalate_to_human was already called".into()))
            }
            _ => Ok(()),
        }
    }

    /// Runs a tool by name with JSON arguments (the model path): the
    /// result is JSON for the model. Recoverable errors are recorded and
    /// returned so the caller can feed them back.
    pub async fn call(&mut self, name: &str, arguments: &str) -> Result<Value, ToolError> {
        let started = Instant::now();
        let Some(tool) = ToolName::parse(name) else {
            let err = ToolError::UnknownTool(name.to_string());
            self.calls.push(ToolCallRecord {
                name: name.chars().take(64).collect(),
                arguments: Value::String(arguments.chars().take(500).collect()),
                latency_ms: 0,
                tokens_used: 0,
                ok: false,
                error: Some(err.to_string()),
            });
            return Err(err);
        };
        let parsed: Result<Value, _> = serde_json::from_str(arguments);
        let invalid = |detail: String| ToolError::InvalidArguments { tool: tool.as_str(), detail };
        let result = match parsed {
            Err(e) => Err(invalid(format!("not JSON: {e}"))),
            Ok(args) => match tool {
                ToolName::CreateTicket => match serde_json::from_value(args) {
                    Ok(input) => self.create_ticket(input).await.map(|t| json!({ "ticket": t.reference() })),
                    Err(e) => Err(invalid(e.to_string())),
                },
                ToolName::GetCustomerHistory => match serde_json::from_value(args) {
                    Ok(input) => {
                        self.customer_history(input).await.map(|h| serde_json::to_value(h).unwrap_or(Value::Null))
                    }
                    Err(e) => Err(invalid(e.to_string())),
                },
                ToolName::SearchKnowledgeBase => match serde_json::from_value::<SearchKnowledgeBaseInput>(args) {
                    Ok(input) => self.search(input).await.map(|hits| {
                        json!(
                            hits.iter()
                                .map(|h| json!({
                                    "article": h.document, "title": h.title, "section": h.heading,
                                    "content": h.content, "score": h.score, "cosine": h.cosine
                                }))
                                .collect::<Vec<_>>()
                        )
                    }),
                    Err(e) => Err(invalid(e.to_string())),
                },
                ToolName::EscalateToHuman => match serde_json::from_value(args) {
                    Ok(input) => self.escalate(input).map(|()| json!({ "escalated": true })),
                    Err(e) => Err(invalid(e.to_string())),
                },
                ToolName::SendResponse => match serde_json::from_value::<SendResponseInput>(args) {
                    Ok(input) => {
                        let parts = ReplyParts {
                            paragraphs: input.message.split("\n\n").map(str::to_string).collect(),
                            ..Default::default()
                        };
                        self.send_response(parts).map(|text| json!({ "sent": text }))
                    }
                    Err(e) => Err(invalid(e.to_string())),
                },
            },
        };
        if let Err(e) = &result {
            // Typed calls record themselves; parse failures are recorded here.
            if matches!(e, ToolError::InvalidArguments { .. }) {
                self.record(tool, Value::String(arguments.chars().take(500).collect()), started, Err(e.to_string()));
            }
        }
        result
    }

    /// `create_ticket`: reuses the conversation's open ticket, or reserves
    /// a number for a new one (inserted when the turn commits).
    pub async fn create_ticket(&mut self, input: CreateTicketInput) -> Result<TicketIntent, ToolError> {
        let started = Instant::now();
        let args = serde_json::to_value(&input).unwrap_or(Value::Null);
        if let Err(e) = self.check_order(ToolName::CreateTicket) {
            self.record(ToolName::CreateTicket, args, started, Err(e.to_string()));
            return Err(e);
        }
        let mut tx = begin_tenant(self.pool, self.tenant).await?;
        let existing: Option<(uuid::Uuid, i64, Option<String>, Option<String>)> = if self.new_conversation {
            None
        } else {
            sqlx::query_as(
                "SELECT id, number, subject, category FROM tickets
                  WHERE conversation_id = $1 AND status NOT IN ('resolved', 'closed')",
            )
            .bind(self.conversation)
            .fetch_optional(&mut *tx)
            .await?
        };
        let ticket = match existing {
            Some((id, number, subject, category)) => TicketIntent {
                id: TicketId::from_uuid(id),
                number,
                existing: true,
                subject,
                category,
                priority: input.priority,
                channel: self.channel,
            },
            None => {
                let number: i64 = sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('tickets', 'number'))")
                    .fetch_one(&mut *tx)
                    .await?;
                TicketIntent {
                    id: TicketId::new(),
                    number,
                    existing: false,
                    subject: input.subject.map(|s| s.chars().take(200).collect()),
                    category: input.category.map(|s| s.chars().take(60).collect()),
                    priority: input.priority,
                    channel: self.channel,
                }
            }
        };
        tx.commit().await?;
        self.record(ToolName::CreateTicket, args, started, Ok(()));
        self.ticket = Some(ticket.clone());
        Ok(ticket)
    }

    /// `get_customer_history`.
    pub async fn customer_history(&mut self, input: GetCustomerHistoryInput) -> Result<CustomerHistory, ToolError> {
        let started = Instant::now();
        let args = serde_json::to_value(&input).unwrap_or(Value::Null);
        if let Err(e) = self.check_order(ToolName::GetCustomerHistory) {
            self.record(ToolName::GetCustomerHistory, args, started, Err(e.to_string()));
            return Err(e);
        }
        let limit = i64::from(input.limit.unwrap_or(20).clamp(1, 50));
        let mut tx = begin_tenant(self.pool, self.tenant).await?;
        let display_name: Option<String> = sqlx::query_scalar("SELECT display_name FROM customers WHERE id = $1")
            .bind(self.customer)
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
        let messages: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT channel, direction, author, body FROM messages WHERE customer_id = $1
              ORDER BY created_at DESC LIMIT $2",
        )
        .bind(self.customer)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let escalations: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT reason, status, summary FROM escalations WHERE customer_id = $1
                AND (status <> 'resolved' OR resolved_at > now() - interval '14 days')
              ORDER BY created_at DESC LIMIT 10",
        )
        .bind(self.customer)
        .fetch_all(&mut *tx)
        .await?;
        let open_tickets: Vec<i64> = sqlx::query_scalar(
            "SELECT number FROM tickets WHERE customer_id = $1 AND status NOT IN ('resolved', 'closed')
              ORDER BY number DESC LIMIT 10",
        )
        .bind(self.customer)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        self.record(ToolName::GetCustomerHistory, args, started, Ok(()));
        Ok(CustomerHistory {
            display_name,
            messages: messages
                .into_iter()
                .map(|(channel, direction, author, body)| HistoryMessage { channel, direction, author, body })
                .collect(),
            escalations: escalations
                .into_iter()
                .map(|(reason, status, summary)| PastEscalation { reason, status, summary })
                .collect(),
            open_tickets: open_tickets.into_iter().map(|n| format!("TKT-{n}")).collect(),
        })
    }

    /// `search_knowledge_base`: at most 5 hits.
    pub async fn search(&mut self, input: SearchKnowledgeBaseInput) -> Result<Vec<SearchHit>, ToolError> {
        Ok(self.search_focused(input, None).await?.hits)
    }

    /// `search_knowledge_base`, also weighing the hits against `focus`
    /// (the question itself) for the caller's judgement.
    pub async fn search_focused(
        &mut self,
        input: SearchKnowledgeBaseInput,
        focus: Option<&str>,
    ) -> Result<SearchResult, ToolError> {
        let started = Instant::now();
        let args = serde_json::to_value(&input).unwrap_or(Value::Null);
        if let Err(e) = self.check_order(ToolName::SearchKnowledgeBase) {
            self.record(ToolName::SearchKnowledgeBase, args, started, Err(e.to_string()));
            return Err(e);
        }
        if input.query.trim().is_empty() {
            let e = ToolError::InvalidArguments { tool: "search_knowledge_base", detail: "query is empty".into() };
            self.record(ToolName::SearchKnowledgeBase, args, started, Err(e.to_string()));
            return Err(e);
        }
        let limit = input.max_results.unwrap_or(kb::MAX_RESULTS as u32).clamp(1, kb::MAX_RESULTS as u32) as usize;
        let result = self.kb.search(self.pool, self.tenant, self.embedder, &input.query, focus, limit).await;
        self.record(
            ToolName::SearchKnowledgeBase,
            args,
            started,
            result.as_ref().map(|_| ()).map_err(|e| e.to_string()),
        );
        let result = result?;
        self.searches += 1;
        self.hits.extend(result.hits.iter().cloned());
        Ok(result)
    }

    /// Every section of `document`, scored against `query`: reading the
    /// article a search found, to compose the answer from it.
    pub async fn read_article(&self, document: &str, query: &str) -> Result<Vec<SearchHit>, ToolError> {
        Ok(self.kb.article(self.pool, self.tenant, self.embedder, document, query).await?)
    }

    /// Whether any article mentions `phrase` (a phrase query on the
    /// full-text index). Part of judging a search, not a tool of its own.
    pub async fn kb_mentions(&self, phrase: &str) -> Result<bool, ToolError> {
        Ok(self.kb.mentions(self.pool, self.tenant, self.embedder, phrase).await?)
    }

    /// `escalate_to_human`.
    pub fn escalate(&mut self, input: EscalateToHumanInput) -> Result<(), ToolError> {
        let started = Instant::now();
        let args = serde_json::to_value(&input).unwrap_or(Value::Null);
        let check = self.check_order(ToolName::EscalateToHuman).and_then(|()| {
            if input.reason == EscalationReason::ProcessingFailure {
                Err(ToolError::InvalidArguments {
                    tool: "escalate_to_human",
                    detail: "processing_failure is reserved for the runtime".into(),
                })
            } else {
                Ok(())
            }
        });
        self.record(ToolName::EscalateToHuman, args, started, check.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        check?;
        self.escalation = Some(input);
        Ok(())
    }

    /// `send_response`: formats the reply for the channel; the last call.
    pub fn send_response(&mut self, mut parts: ReplyParts) -> Result<String, ToolError> {
        let started = Instant::now();
        if parts.ticket_ref.is_none() {
            parts.ticket_ref = self.ticket.as_ref().map(TicketIntent::reference);
        }
        let args = json!({ "paragraphs": parts.paragraphs, "holding": parts.holding });
        let check = self.check_order(ToolName::SendResponse).and_then(|()| {
            if parts.paragraphs.iter().all(|p| p.trim().is_empty()) {
                Err(ToolError::InvalidArguments { tool: "send_response", detail: "the message is empty".into() })
            } else {
                Ok(())
            }
        });
        self.record(ToolName::SendResponse, args, started, check.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        check?;
        let text = format_for_channel(self.channel, &parts, self.config);
        self.response = Some(text.clone());
        Ok(text)
    }

    /// The articles the reply drew on (distinct, in order of first hit).
    pub fn sources(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for h in &self.hits {
            if !out.contains(&h.document) {
                out.push(h.document.clone());
            }
        }
        out
    }
}
