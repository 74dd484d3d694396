//! The agent (docs/agent.md): [`AgentBrain`] is the `Brain` the
//! conversation actors call. One turn:
//!
//! 1. `create_ticket` and `get_customer_history` (recorded tool calls);
//! 2. the hard escalation rules ([`guardrails`]) on the message, before any
//!    model: a trigger escalates with a holding reply and nothing else;
//! 3. the brain chain from the tenant's [`config`] (primary model →
//!    secondary model → local), falling back on timeout, error or an
//!    exhausted budget, each fallback recorded;
//! 4. the output filter on whatever a brain wants to send: a blocked reply
//!    is never sent, the turn escalates instead;
//! 5. `send_response` last, through `format_for_channel` ([`format`]).
//!
//! Replies below the tenant's confidence threshold become drafts for human
//! approval (the conversation actor does that with the confidence here).

pub mod compose;
pub mod config;
pub mod format;
pub mod guardrails;
pub mod local;
pub mod openai;
pub mod question;
pub mod settings;
pub mod tools;
pub mod usage;

use crate::brain::{
    AckFuture, AgentRecord, Brain, BrainError, BrainFuture, Decision, Fallback, TurnInput, TurnOutcome,
};
use crate::db::begin_tenant;
use crate::domain::{Channel, EscalationReason, TenantId};
use crate::kb::{Embedder, KbSearch};
use config::{AgentConfig, BrainName};
use format::ReplyParts;
use guardrails::output_filter::{self, Violation};
use guardrails::rules;
use sqlx::PgPool;
use std::sync::Arc;
use tools::{CreateTicketInput, EscalateToHumanInput, GetCustomerHistoryInput, Priority, TurnTools, Urgency};

/// Characters of knowledge-base text an answer may quote, per channel
/// (the formatter still enforces each channel's hard limit).
pub fn answer_budget(channel: Channel) -> usize {
    match channel {
        Channel::Email => 1800,
        Channel::Webform => 1200,
        Channel::Slack => 1400,
        // A WhatsApp message is at most 300 characters, and a first reply
        // spends about 45 introducing Robin: the answer is condensed to
        // its sentences that best match the question (`compose::condense`).
        Channel::Whatsapp => 240,
    }
}

/// The agent behind the `Brain` trait.
pub struct AgentBrain {
    pool: PgPool,
    embedder: Arc<dyn Embedder>,
    kb: Arc<KbSearch>,
}

impl AgentBrain {
    pub fn new(pool: PgPool, embedder: Arc<dyn Embedder>, kb: Arc<KbSearch>) -> Self {
        Self { pool, embedder, kb }
    }

    async fn run(&self, input: TurnInput<'_>) -> Result<TurnOutcome, BrainError> {
        let failed = |e: &(dyn std::error::Error + 'static)| brain_error(e);
        let config = AgentConfig::load(&self.pool, input.tenant).await.map_err(|e| failed(&e))?;
        let mut tools = TurnTools {
            pool: &self.pool,
            tenant: input.tenant,
            customer: input.customer,
            conversation: input.conversation,
            new_conversation: input.new_conversation,
            channel: input.channel,
            embedder: self.embedder.as_ref(),
            kb: self.kb.as_ref(),
            config: &config,
            calls: Vec::new(),
            ticket: None,
            escalation: None,
            response: None,
            searches: 0,
            hits: Vec::new(),
        };
        let verdict = rules::check_message(input.channel, input.subject, input.message);
        let priority = match verdict.reason {
            Some(EscalationReason::LegalInquiry) => Priority::Urgent,
            Some(_) => Priority::High,
            None if verdict.sentiment < 0.46 => Priority::High,
            None => Priority::Medium,
        };
        tools
            .create_ticket(CreateTicketInput {
                subject: input.subject.map(str::to_string).or_else(|| Some(summary_line(input.message))),
                category: None,
                priority,
            })
            .await
            .map_err(|e| failed(&e))?;
        let history =
            tools.customer_history(GetCustomerHistoryInput { limit: Some(20) }).await.map_err(|e| failed(&e))?;
        let name = input.display_name.map(str::to_string).or(history.display_name.clone());
        let first_name = name.as_deref().and_then(compose::first_name);
        let first_reply = input.state.replies == 0;
        let transcript = transcript(&history);
        let ctx = Ctx { input: &input, config: &config, first_name, first_reply, transcript };

        // Hard rules first: no model sees a message that must escalate.
        let repeat = repeat_contact(&history, input.message);
        if let Some(reason) = verdict.reason.or(repeat) {
            tracing::debug!(%reason, matched = ?verdict.matched, sentiment = verdict.sentiment, repeat = repeat.is_some(), "escalation rule");
            return Ok(ctx.escalate(tools, reason, &verdict, Vec::new(), 1.0));
        }
        if rules::is_empty_or_friendly_emoji(input.message) {
            let parts = compose::ask_what_they_need(ctx.first_name.as_deref(), first_reply, &config);
            return ctx.reply(tools, parts, Vec::new(), 1.0, Vec::new()).map_err(|e| failed(&e));
        }

        let mut fallbacks = Vec::new();
        let budget_left = self.budget_left(input.tenant, &config).await.map_err(|e| failed(&e))?;
        for brain in &config.brains {
            let endpoint = match brain {
                BrainName::Local => break,
                BrainName::Primary => config.primary_model.as_ref(),
                BrainName::Secondary => config.secondary_model.as_ref(),
            };
            let Some(endpoint) = endpoint else { continue };
            let label = brain_label(*brain);
            if !budget_left {
                fallbacks.push(Fallback { brain: label.into(), error: "monthly budget exhausted".into() });
                continue;
            }
            // Each model starts from the recorded pre-steps; a failed
            // attempt's calls stay in the record.
            let ticket = tools.ticket.clone();
            match openai::run_model(&mut tools, &ctx, endpoint, &history).await {
                Ok(outcome) => return Ok(ctx.finish_model(tools, outcome, label, fallbacks, &verdict)),
                Err(e) => {
                    let error = crate::telemetry::Redacted(&e);
                    tracing::warn!(brain = label, %error, tenant_id = %input.tenant, "model failed; falling back");
                    fallbacks.push(Fallback { brain: label.into(), error: e.to_string() });
                    tools.response = None;
                    tools.escalation = None;
                    tools.ticket = ticket;
                }
            }
        }
        let budget_alert = !budget_left && fallbacks.iter().any(|f| f.error.contains("budget"));
        let answer = local::retrieve_answer(&mut tools, input.subject, input.message, answer_budget(input.channel))
            .await
            .map_err(|e| failed(&e))?;
        let mut outcome = match answer {
            local::Retrieved::Uncovered { confidence } => {
                ctx.escalate(tools, EscalationReason::NoKnowledge, &verdict, fallbacks, confidence)
            }
            local::Retrieved::Answer(answer) => {
                let mut parts = local::answer_parts(&answer, ctx.first_name.clone(), first_reply, empathy(&verdict));
                if question::mentions_a_bot(input.message) && !(first_reply && input.channel == Channel::Whatsapp) {
                    parts.paragraphs.insert(
                        0,
                        format!(
                            "I'm {}, {}'s AI assistant — happy to help with this.",
                            config.assistant_name, config.company
                        ),
                    );
                }
                ctx.reply(tools, parts, answer.sources.clone(), answer.confidence, fallbacks).map_err(|e| failed(&e))?
            }
        };
        if let Some(a) = outcome.agent.as_mut() {
            a.budget_alert = budget_alert;
        }
        Ok(outcome)
    }

    /// True when the tenant has no budget or has not spent it this month.
    async fn budget_left(&self, tenant: TenantId, config: &AgentConfig) -> Result<bool, sqlx::Error> {
        let Some(budget) = config.monthly_budget_usd else { return Ok(true) };
        let mut tx = begin_tenant(&self.pool, tenant).await?;
        let spent: f64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(cost_usd), 0)::float8 FROM agent_turns
              WHERE created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(spent < budget)
    }
}

impl Brain for AgentBrain {
    fn name(&self) -> &'static str {
        "agent"
    }

    fn turn<'a>(&'a self, input: TurnInput<'a>) -> BrainFuture<'a> {
        Box::pin(self.run(input))
    }

    fn acknowledge<'a>(&'a self, input: TurnInput<'a>, reason: EscalationReason) -> AckFuture<'a> {
        Box::pin(async move {
            let config = AgentConfig::load(&self.pool, input.tenant).await.map_err(|e| brain_error(&e))?;
            let name = input.display_name.and_then(compose::first_name);
            let parts = compose::holding_reply(reason, input.channel, name.as_deref(), false, false, &config);
            Ok(Some(format::format_for_channel(input.channel, &parts, &config)))
        })
    }
}

/// A failure of the agent's own steps as the runtime sees it: transient
/// when a database step failed for a passing reason (so the turn is
/// retried, never escalated), else a failure.
fn brain_error(error: &(dyn std::error::Error + 'static)) -> BrainError {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let sql = e
            .downcast_ref::<sqlx::Error>()
            .or_else(|| match e.downcast_ref::<config::ConfigError>() {
                Some(config::ConfigError::Db(sql)) => Some(sql),
                _ => None,
            })
            .or_else(|| match e.downcast_ref::<crate::kb::KbError>() {
                Some(crate::kb::KbError::Db(sql)) => Some(sql),
                _ => None,
            });
        if let Some(sql) = sql {
            return if crate::db::is_transient(sql) {
                BrainError::Unavailable(error.to_string())
            } else {
                BrainError::Failed(error.to_string())
            };
        }
        cause = e.source();
    }
    BrainError::Failed(error.to_string())
}

fn brain_label(brain: BrainName) -> &'static str {
    match brain {
        BrainName::Primary => "primary",
        BrainName::Secondary => "secondary",
        BrainName::Local => "local",
    }
}

/// What a model decided, before the output filter.
pub struct ModelOutcome {
    pub decision: ModelDecision,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cost_usd: f64,
}

pub enum ModelDecision {
    /// The model's reply text (not yet filtered or sent).
    Reply(String),
    Escalate {
        reason: EscalationReason,
        urgency: Urgency,
    },
}

/// The turn's context shared by the decision paths.
pub struct Ctx<'a> {
    pub input: &'a TurnInput<'a>,
    pub config: &'a AgentConfig,
    pub first_name: Option<String>,
    pub first_reply: bool,
    /// The customer's earlier messages and replies on every channel, oldest
    /// first: handed over with an escalation.
    pub transcript: String,
}

impl Ctx<'_> {
    fn record(&self, tools: TurnTools<'_>, sources: Vec<String>, fallbacks: Vec<Fallback>) -> AgentRecord {
        AgentRecord {
            ticket: tools.ticket,
            tool_calls: tools.calls,
            fallbacks,
            sources,
            approval_threshold: Some(self.config.approval_threshold),
            ..Default::default()
        }
    }

    /// Escalates: `escalate_to_human`, then the holding reply as the last
    /// call. Nothing about the topic is answered.
    fn escalate(
        &self,
        mut tools: TurnTools<'_>,
        reason: EscalationReason,
        verdict: &rules::RuleVerdict,
        fallbacks: Vec<Fallback>,
        confidence: f32,
    ) -> TurnOutcome {
        let urgency = Urgency::for_reason(reason);
        let handover = self.handover(reason, verdict);
        // The order is right by construction (ticket first, nothing sent
        // yet), so these calls cannot be refused; a refusal is recorded.
        let _ = tools.escalate(EscalateToHumanInput { reason, urgency, summary: handover.clone() });
        let other = question_count(self.input.message) > 1;
        let parts = compose::holding_reply(
            reason,
            self.input.channel,
            self.first_name.as_deref(),
            self.first_reply,
            other,
            self.config,
        );
        let text = tools.send_response(parts).unwrap_or_default();
        let mut record = self.record(tools, Vec::new(), fallbacks);
        record.urgency = Some(urgency);
        record.handover = Some(handover);
        TurnOutcome {
            decision: Decision::Escalate { reason, holding_reply: Some(text) },
            confidence,
            tokens_used: 0,
            brain: "local",
            agent: Some(Box::new(record)),
        }
    }

    /// Sends `parts` (after the output filter) as the reply.
    fn reply(
        &self,
        mut tools: TurnTools<'_>,
        parts: ReplyParts,
        sources: Vec<String>,
        confidence: f32,
        fallbacks: Vec<Fallback>,
    ) -> Result<TurnOutcome, tools::ToolError> {
        let raw = parts.paragraphs.join("\n\n");
        if let Some(reason) = blocked_reason(&output_filter::check_reply(&raw)) {
            let verdict = rules::RuleVerdict { reason: None, sentiment: 0.5, matched: vec!["output filter"] };
            return Ok(self.escalate(tools, reason, &verdict, fallbacks, 1.0));
        }
        let text = tools.send_response(parts)?;
        let record = self.record(tools, sources, fallbacks);
        Ok(TurnOutcome {
            decision: Decision::Reply { text },
            confidence,
            tokens_used: 0,
            brain: "local",
            agent: Some(Box::new(record)),
        })
    }

    fn finish_model(
        &self,
        mut tools: TurnTools<'_>,
        outcome: ModelOutcome,
        label: &'static str,
        fallbacks: Vec<Fallback>,
        verdict: &rules::RuleVerdict,
    ) -> TurnOutcome {
        let mut result = match outcome.decision {
            ModelDecision::Escalate { reason, .. } => {
                tools.escalation = None;
                self.escalate(tools, reason, verdict, fallbacks, 1.0)
            }
            ModelDecision::Reply(text) => {
                let sources = tools.sources();
                let confidence = model_confidence(&tools);
                let parts = ReplyParts {
                    first_name: self.first_name.clone(),
                    first_reply: self.first_reply,
                    paragraphs: text.split("\n\n").map(str::to_string).collect(),
                    ..Default::default()
                };
                match self.reply(tools, parts, sources, confidence, fallbacks) {
                    Ok(o) => o,
                    Err(e) => {
                        // send_response refused (empty reply): escalate.
                        tracing::warn!(error = %e, "model reply refused");
                        return self.escalate_blank(e.to_string());
                    }
                }
            }
        };
        result.brain = label;
        result.tokens_used = outcome.prompt_tokens + outcome.completion_tokens;
        if let Some(a) = result.agent.as_mut() {
            a.prompt_tokens = outcome.prompt_tokens;
            a.completion_tokens = outcome.completion_tokens;
            a.cost_usd = outcome.cost_usd;
        }
        result
    }

    fn escalate_blank(&self, why: String) -> TurnOutcome {
        let parts = compose::holding_reply(
            EscalationReason::HumanRequested,
            self.input.channel,
            self.first_name.as_deref(),
            self.first_reply,
            false,
            self.config,
        );
        let text = format::format_for_channel(self.input.channel, &parts, self.config);
        TurnOutcome {
            decision: Decision::Escalate { reason: EscalationReason::HumanRequested, holding_reply: Some(text) },
            confidence: 1.0,
            tokens_used: 0,
            brain: "local",
            agent: Some(Box::new(AgentRecord { handover: Some(why), ..Default::default() })),
        }
    }

    /// What the humans get: why, the evidence, and the message itself.
    fn handover(&self, reason: EscalationReason, verdict: &rules::RuleVerdict) -> String {
        let mut s = format!("Reason: {}. ", reason.as_str());
        if !verdict.matched.is_empty() {
            s.push_str(&format!("Signals: {}. ", verdict.matched.join("; ")));
        }
        s.push_str(&format!("Sentiment {:.2}. Channel {}. ", verdict.sentiment, self.input.channel));
        if let Some(subj) = self.input.subject {
            s.push_str(&format!("Subject: {subj}. "));
        }
        s.push_str("Message: ");
        s.push_str(&self.input.message.chars().take(1500).collect::<String>());
        if !self.transcript.is_empty() {
            s.push_str("\n\nEarlier in the conversation (oldest first):\n");
            s.push_str(&self.transcript);
        }
        s
    }
}

/// Confidence of a model reply: how well its searches matched.
fn model_confidence(tools: &TurnTools<'_>) -> f32 {
    match tools.hits.iter().map(|h| h.cosine).fold(None, |m: Option<f32>, c| Some(m.map_or(c, |m| m.max(c)))) {
        None => 0.5,
        Some(best) => (0.6 + 0.6 * best).clamp(0.0, 0.95),
    }
}

/// The escalation a blocked reply turns into.
fn blocked_reason(violations: &[Violation]) -> Option<EscalationReason> {
    let first = violations.first()?;
    Some(match first {
        Violation::Price => EscalationReason::PricingInquiry,
        Violation::Refund => EscalationReason::RefundRequest,
        Violation::UndocumentedPromise => EscalationReason::NoKnowledge,
        Violation::InternalDetail | Violation::SecretRequest => EscalationReason::HumanRequested,
    })
}

/// Repeat contact (escalation-rules.md rule 5): an escalation of this
/// customer's that is still open, or was resolved recently, about the same
/// matter (shared terms, or a message that chases it up). A message that
/// says it is about something else ("Separate question from the merger
/// topic: …") is not one: its own words went through the rules already.
fn repeat_contact(history: &tools::CustomerHistory, message: &str) -> Option<EscalationReason> {
    let lower = message.to_lowercase();
    if declares_new_matter(&lower) {
        return None;
    }
    let chasing = [
        "any news",
        "any update",
        "following up",
        "follow up on",
        "still waiting",
        "heard back",
        "i sent you",
        "i emailed",
        "my email",
        "my message",
    ]
    .iter()
    .any(|p| lower.contains(p));
    let terms: std::collections::HashSet<String> = crate::kb::text::terms(message).into_iter().collect();
    history.escalations.iter().find_map(|e| {
        let reason = EscalationReason::ALL.into_iter().find(|r| r.as_str() == e.reason)?;
        if reason == EscalationReason::ProcessingFailure {
            return None;
        }
        let earlier: std::collections::HashSet<String> = crate::kb::text::terms(&e.summary).into_iter().collect();
        let shared = terms.intersection(&earlier).count();
        (chasing || shared >= 3).then_some(reason)
    })
}

/// Whether a (lower-cased) message says it raises a matter other than an
/// earlier one: "different question", "separate issue", "unrelated to …",
/// "something else".
fn declares_new_matter(lower: &str) -> bool {
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    let other = ["separate", "different", "unrelated", "another", "new", "other", "second"];
    let matter = ["question", "questions", "topic", "issue", "matter", "thing", "request", "query"];
    words.windows(2).any(|w| other.contains(&w[0]) && matter.contains(&w[1]))
        || lower.contains("unrelated to")
        || lower.contains("something else")
}

/// The history as lines `channel direction author: text`, oldest first,
/// each message cut at 500 characters.
fn transcript(history: &tools::CustomerHistory) -> String {
    history
        .messages
        .iter()
        .rev()
        .map(|m| {
            format!("[{} {} {}] {}", m.channel, m.direction, m.author, m.body.chars().take(500).collect::<String>())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn empathy(verdict: &rules::RuleVerdict) -> Option<String> {
    (verdict.sentiment < 0.46)
        .then(|| "I'm sorry this got in the way of your work — here's how to sort it out.".to_string())
}

fn question_count(message: &str) -> usize {
    message.matches('?').count()
}

fn summary_line(message: &str) -> String {
    let line = message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("(no text)");
    line.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_about_something_else_is_not_a_repeat_contact() {
        for m in [
            "separate question from the merger topic i raised in slack: where is the march invoice?",
            "different question: do we lose events while our server is down?",
            "this is unrelated to my refund, how do i export a report?",
        ] {
            assert!(declares_new_matter(m), "{m}");
        }
        for m in ["any news on my question from monday?", "i asked about the other invoice last week, any update?"] {
            assert!(!declares_new_matter(m), "{m}");
        }
    }
}
