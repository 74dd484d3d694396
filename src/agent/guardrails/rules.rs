//! The escalation rules applied to an incoming message before any answer is drafted
//! (`escalation-rules.md`): the seven reasons in priority order, and [`check_message`], which
//! decides reasons 1–6 by intent — legal, compliance, refund, pricing, a request for a person
//! and strongly negative sentiment. `no_knowledge` needs retrieval and is decided elsewhere.
//! Each reason's phrase families live in their own submodule.

mod compliance;
mod human;
mod legal;
mod pricing;
mod refund;

use super::emoji::{self, Mood};
use super::sentiment;
use super::text::{fold, sentences};

/// The reasons and channels are the domain's: `EscalationReason` lists the
/// seven reasons of the rules in their priority order (its `Ord` is that
/// order), followed by the runtime's own `processing_failure`, which no
/// rule produces.
pub use crate::domain::{Channel, EscalationReason as Reason};

/// The outcome of [`check_message`].
#[derive(Clone, Debug, PartialEq)]
pub struct RuleVerdict {
    /// The highest-priority reason that matched, or `None` to go on and answer.
    pub reason: Option<Reason>,
    /// The sentiment score of the subject and message (see [`sentiment::score`]).
    pub sentiment: f32,
    /// Human-readable evidence for every reason that matched, highest priority first,
    /// e.g. `"pricing: asks for a quote"`.
    pub matched: Vec<&'static str>,
}

impl RuleVerdict {
    /// True when the message is answered with one empathy line (sentiment 0.3–0.45).
    pub fn needs_empathy(&self) -> bool {
        self.reason.is_none() && self.sentiment < 0.46
    }
}

/// Applies escalation reasons 1–6 to a message, highest priority first, deciding by intent.
/// The subject (web form, email) is read together with the body; a trigger anywhere counts.
pub fn check_message(channel: Channel, subject: Option<&str>, text: &str) -> RuleVerdict {
    let full = match subject.map(str::trim).filter(|s| !s.is_empty()) {
        Some(subject) => format!("{subject}\n{text}"),
        None => text.to_owned(),
    };
    let folded = fold(&full);
    let parts = sentences(&folded);
    let analysis = sentiment::analyze(&full);

    let mut found: Vec<(Reason, Vec<&'static str>)> = vec![
        (Reason::LegalInquiry, legal::evidence(&parts)),
        (Reason::ComplianceInquiry, compliance::evidence(&parts, &full)),
        (Reason::RefundRequest, refund::evidence(&parts)),
        (Reason::PricingInquiry, pricing::evidence(&parts)),
        (Reason::HumanRequested, human::evidence(channel, text, &parts)),
    ];
    if analysis.score < sentiment::ESCALATION_THRESHOLD && !is_empty_or_friendly_emoji(text) {
        let mut cues = vec!["negative_sentiment: score below 0.3"];
        cues.extend(analysis.cues.iter().copied());
        found.push((Reason::NegativeSentiment, cues));
    }
    found.retain(|(_, evidence)| !evidence.is_empty());

    RuleVerdict {
        reason: found.first().map(|(reason, _)| *reason),
        sentiment: analysis.score,
        matched: found.into_iter().flat_map(|(_, evidence)| evidence).collect(),
    }
}

/// True for an empty message or one made only of friendly or neutral emoji (and
/// punctuation): not an escalation; the reply asks what the customer needs.
pub fn is_empty_or_friendly_emoji(text: &str) -> bool {
    let trimmed = text.trim();
    if trimmed.chars().all(|c| c.is_whitespace() || c.is_ascii_punctuation()) {
        return true;
    }
    emoji::is_emoji_only(trimmed)
        && emoji::moods(trimmed).iter().all(|mood| matches!(mood, Mood::Friendly | Mood::Neutral))
}

#[cfg(test)]
mod tests;
