//! Reply texts in the brand voice (`../shared/context/brand-voice.md`):
//! holding replies per escalation reason, the "what can I help with"
//! reply to an empty message, and answers composed from knowledge-base
//! passages. The output is [`ReplyParts`]; `format_for_channel` shapes it.

use super::config::AgentConfig;
use super::format::ReplyParts;
use crate::domain::{Channel, EscalationReason};
use crate::kb::SearchHit;

/// The customer-facing wording of who follows up (escalation-rules.md,
/// "Holding replies"). Never a reason code.
pub fn follow_up_line(reason: EscalationReason) -> &'static str {
    match reason {
        EscalationReason::PricingInquiry => "A member of our sales team will contact you about this",
        EscalationReason::RefundRequest => "Our billing team will review your request and get back to you",
        EscalationReason::LegalInquiry => {
            "I have passed it on, and a senior member of our team will respond to you directly"
        }
        EscalationReason::NegativeSentiment => "A member of our support team will personally follow up with you",
        EscalationReason::HumanRequested => "I'm connecting you with a member of our support team",
        EscalationReason::NoKnowledge => "A specialist will look into this and follow up with you",
        EscalationReason::ComplianceInquiry => "Our Trust & Compliance team will follow up with you",
        EscalationReason::ProcessingFailure => "A member of our support team will follow up with you",
    }
}

/// The holding reply sent when escalating: thanks, who follows up and
/// when; nothing about the topic itself, no emoji.
pub fn holding_reply(
    reason: EscalationReason,
    channel: Channel,
    first_name: Option<&str>,
    first_reply: bool,
    other_questions: bool,
    config: &AgentConfig,
) -> ReplyParts {
    let thanks = match reason {
        EscalationReason::NegativeSentiment => {
            "I'm sorry this has got in the way of your work, and thank you for telling us."
        }
        EscalationReason::HumanRequested => "Of course.",
        _ => "Thank you for your message; I have received your request.",
    };
    let when = match channel {
        Channel::Whatsapp | Channel::Slack => "during our support hours (Mon–Fri, 08:00–20:00 CET)".to_string(),
        _ => format!("during our support hours ({})", config.support_hours),
    };
    let mut body = format!("{thanks} {} {when}.", follow_up_line(reason));
    if channel == Channel::Slack {
        body = format!("{thanks} {} here in this thread {when}.", follow_up_line(reason));
    }
    let mut paragraphs = vec![body];
    if other_questions {
        paragraphs.push("They will cover your other question as well, so everything is handled in one go.".into());
    }
    ReplyParts {
        first_name: first_name.map(str::to_string),
        first_reply,
        paragraphs,
        holding: true,
        ..Default::default()
    }
}

/// The reply to an empty, unreadable or friendly-emoji-only message.
pub fn ask_what_they_need(first_name: Option<&str>, first_reply: bool, config: &AgentConfig) -> ReplyParts {
    let intro = if first_reply {
        format!("I'm {}, {}'s AI assistant. ", config.assistant_name, config.company)
    } else {
        String::new()
    };
    ReplyParts {
        first_name: first_name.map(str::to_string),
        first_reply,
        paragraphs: vec![format!(
            "Thanks for getting in touch. {intro}Your message came through without a question — could you tell me what you need help with?"
        )],
        ..Default::default()
    }
}

/// The first name in a display name ("Mikko Laine" → "Mikko").
pub fn first_name(display_name: &str) -> Option<String> {
    let first = display_name.split_whitespace().next()?;
    let clean: String = first.chars().filter(|c| c.is_alphabetic() || *c == '-' || *c == '\'').collect();
    if clean.is_empty() { None } else { Some(clean) }
}

/// Turns chosen passages into answer paragraphs: sub-headings become bold
/// lead-ins, blank-line separated blocks stay blocks.
pub fn answer_paragraphs(passages: &[&SearchHit]) -> Vec<String> {
    let mut out = Vec::new();
    for p in passages {
        for block in p.content.split("\n\n") {
            let block = block.trim();
            if block.is_empty() {
                continue;
            }
            let block = match block.strip_prefix("### ") {
                Some(rest) => {
                    let mut lines = rest.lines();
                    let head = lines.next().unwrap_or_default();
                    let tail: Vec<&str> = lines.collect();
                    format!("**{head}**\n{}", tail.join("\n")).trim().to_string()
                }
                None => block.to_string(),
            };
            out.push(block);
        }
    }
    out
}

/// Budgets below this are short-message channels (WhatsApp): the answer
/// is condensed to its sentences that best match the question.
pub const CONDENSE_BELOW: usize = 600;
/// …from the sections a budget of this many characters would quote.
pub const CONDENSE_FROM: usize = 2500;

const STOP: &[&str] = &[
    "the", "and", "for", "you", "your", "can", "how", "what", "with", "that", "this", "are", "not", "but", "our",
    "from", "have", "has", "was", "will", "when", "where", "which", "who", "why", "does", "did", "there", "their",
    "they", "them", "into", "out", "about", "any", "all", "get", "got", "just", "also", "then", "than", "one", "its",
    "it's", "i'm", "please", "thanks", "thank", "hi", "hello", "need", "want", "some", "still", "way",
];

fn terms(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| w.chars().count() >= 3 && !STOP.contains(&w.as_str()))
        .map(|w| w.strip_suffix('s').filter(|r| r.len() >= 3).map(str::to_string).unwrap_or(w))
        .collect()
}

/// One list item or sentence of an answer, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    paragraph: usize,
    line: usize,
    pub text: String,
    item: bool,
}

impl Unit {
    /// The index of the paragraph it came from.
    pub fn paragraph(&self) -> usize {
        self.paragraph
    }
}

/// Splits an answer into its list items and sentences (headings dropped:
/// a condensed answer has no room for them).
pub fn answer_units(paragraphs: &[String]) -> Vec<Unit> {
    let mut units = Vec::new();
    for (pi, p) in paragraphs.iter().enumerate() {
        for (li, line) in p.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || (line.starts_with("**") && line.ends_with("**")) {
                continue;
            }
            let item = line.starts_with("- ") || line.chars().next().is_some_and(|c| c.is_ascii_digit());
            if item {
                units.push(Unit { paragraph: pi, line: li, text: line.to_string(), item: true });
                continue;
            }
            let mut start = 0;
            let chars: Vec<(usize, char)> = line.char_indices().collect();
            for (k, (i, c)) in chars.iter().enumerate() {
                let next_space = chars.get(k + 1).is_none_or(|(_, n)| n.is_whitespace());
                if matches!(c, '.' | '!' | '?') && next_space {
                    let end = i + c.len_utf8();
                    let s = line[start..end].trim();
                    if !s.is_empty() {
                        units.push(Unit { paragraph: pi, line: li, text: s.to_string(), item: false });
                    }
                    start = end;
                }
            }
            let rest = line[start..].trim();
            if !rest.is_empty() {
                units.push(Unit { paragraph: pi, line: li, text: rest.to_string(), item: false });
            }
        }
    }
    units
}

/// How well a unit answers `query` by its words: shared words, then
/// figures and menu paths (facts a customer acts on), then earlier ones.
pub fn lexical_scores(units: &[Unit], query: &str) -> Vec<f32> {
    let wanted: std::collections::HashSet<String> = terms(query).into_iter().collect();
    let n = units.len().max(1) as f32;
    units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let t: std::collections::HashSet<String> = terms(&u.text).into_iter().collect();
            let hits = t.intersection(&wanted).count() as f32;
            let unnumbered =
                u.text.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == ' ');
            let figure = if unnumbered.chars().any(|c| c.is_ascii_digit()) { 0.3 } else { 0.0 };
            let control = if u.text.contains("**") { 0.2 } else { 0.0 };
            hits.min(3.0) / 3.0 + figure + control + 0.1 * (1.0 - i as f32 / n)
        })
        .collect()
}

/// The best-scoring units within `budget` characters (the best one always),
/// put back in their original order and paragraphs.
pub fn condense_units(units: &[Unit], scores: &[f32], budget: usize) -> Vec<String> {
    let mut order: Vec<usize> = (0..units.len()).collect();
    let score = |i: usize| scores.get(i).copied().unwrap_or(0.0);
    order.sort_by(|&a, &b| score(b).total_cmp(&score(a)));
    let mut kept: Vec<usize> = Vec::new();
    let mut used = 0;
    for i in order {
        let len = units[i].text.chars().count() + 1;
        if kept.is_empty() || used + len <= budget {
            used += len;
            kept.push(i);
        }
    }
    kept.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    let mut last: Option<(usize, usize)> = None;
    for i in kept {
        let u = &units[i];
        match (last, out.last_mut()) {
            (Some((lp, ll)), Some(prev)) if lp == u.paragraph => {
                prev.push(if ll == u.line && !u.item { ' ' } else { '\n' });
                prev.push_str(&u.text);
            }
            _ => out.push(u.text.clone()),
        }
        last = Some((u.paragraph, u.line));
    }
    out
}

/// [`condense_units`] by [`lexical_scores`] alone.
pub fn condense(paragraphs: &[String], query: &str, budget: usize) -> Vec<String> {
    let units = answer_units(paragraphs);
    condense_units(&units, &lexical_scores(&units, query), budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condensing_keeps_the_sentences_that_answer_the_question() {
        let paragraphs = vec![
            "**Offline mode**\nThe mobile app works without a connection. Entries you make offline are stored on the device. They sync automatically when you're back online.".to_string(),
            "- Don't sign out while offline: unsynced entries would be lost.\n- Photos are uploaded later.".to_string(),
            "Tallyloom runs on iOS 16 and Android 12 or newer.".to_string(),
        ];
        let got = condense(&paragraphs, "Will my offline entries sync when I'm back online? Can I sign out?", 200);
        let text = got.join("\n\n");
        assert!(text.contains("sync automatically when you're back online"), "{text}");
        assert!(text.contains("Don't sign out"), "{text}");
        assert!(!text.contains("Offline mode**"), "{text}");
        assert!(text.chars().count() <= 210, "{text}");
        // The best unit is kept even when it alone is over the budget.
        let got = condense(&paragraphs, "sign out offline", 10);
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("sign out"));
    }

    #[test]
    fn every_holding_reply_names_the_team_and_never_the_code() {
        let c = AgentConfig::default();
        for reason in EscalationReason::ALL {
            for channel in Channel::ALL {
                let p = holding_reply(reason, channel, Some("Jo"), false, false, &c);
                let text = p.paragraphs.join(" ");
                assert!(text.contains(follow_up_line(reason)) || text.contains(follow_up_line(reason)), "{text}");
                assert!(!text.contains(reason.as_str()), "{text}");
                assert!(text.contains("08:00–20:00 CET"));
            }
        }
    }

    #[test]
    fn first_names() {
        assert_eq!(first_name("Mikko Laine").as_deref(), Some("Mikko"));
        assert_eq!(first_name("  ").as_deref(), None);
        assert_eq!(first_name("Patrick O'Neill").as_deref(), Some("Patrick"));
    }
}
