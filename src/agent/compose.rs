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

#[cfg(test)]
mod tests {
    use super::*;

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
