//! `EchoBrain`: a small deterministic brain that exercises the runtime
//! without a model or a knowledge base. It acknowledges every message,
//! quoting its start, and escalates (with a holding reply) when the
//! customer asks for a person. A message containing the word "draft" is
//! answered with a confidence of 0.5, below any sensible approval
//! threshold, so the human approval path can be exercised too. Same input,
//! same output, no IO.

use super::{Brain, BrainFuture, Decision, TurnInput, TurnOutcome};
use crate::domain::EscalationReason;

#[derive(Clone, Copy, Debug, Default)]
pub struct EchoBrain;

/// The confidence of answers to messages that mention a draft.
pub const DRAFT_CONFIDENCE: f32 = 0.5;

const HUMAN_WORDS: [&str; 4] = ["human", "a person", "real person", "talk to someone"];

impl EchoBrain {
    pub fn decide(input: &TurnInput<'_>) -> TurnOutcome {
        let text = input.message.trim();
        let lower = text.to_lowercase();
        let decision = if HUMAN_WORDS.iter().any(|w| lower.contains(w)) {
            Decision::Escalate {
                reason: EscalationReason::HumanRequested,
                holding_reply: Some(
                    "Thanks for your patience: a member of our team will pick this up and reply here.".into(),
                ),
            }
        } else {
            let quoted: String = text.chars().take(120).collect();
            let ellipsis = if text.chars().count() > 120 { "…" } else { "" };
            Decision::Reply {
                text: format!(
                    "Thanks for your message (#{n}). We received: \"{quoted}{ellipsis}\"",
                    n = input.state.customer_messages
                ),
            }
        };
        let confidence = if lower.contains("draft") { DRAFT_CONFIDENCE } else { 1.0 };
        TurnOutcome { decision, confidence, tokens_used: 0, brain: "echo", agent: None }
    }
}

impl Brain for EchoBrain {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn turn<'a>(&'a self, input: TurnInput<'a>) -> BrainFuture<'a> {
        Box::pin(async move { Ok(Self::decide(&input)) })
    }
}
