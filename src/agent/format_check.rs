//! The independent check of a rendered message against its channel's
//! rules (length, greeting, signature, ticket reference, emoji, markdown
//! that must not reach the customer): what the eval counts as format
//! violations.

use super::{
    AgentConfig, Channel, EMAIL_MAX_WORDS, SLACK_MAX_CHARS, WEBFORM_MAX_WORDS, WHATSAPP_MAX_CHARS,
    WHATSAPP_PREFERRED_CHARS, is_emoji, words,
};

/// A way a message breaks its channel's rules.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum FormatViolation {
    TooLong {
        limit: String,
        got: usize,
    },
    MissingGreeting,
    /// A web-form reply without the help portal link.
    MissingHelpLink,
    MissingSignature,
    MissingTicketReference,
    Emoji,
    TooManyEmoji,
    MarkdownBold,
    Heading,
    MarkdownLink,
    Table,
    BroadcastMention,
    Empty,
}

/// Checks a rendered message against its channel's rules. `ticket_ref`:
/// the reference an email reply must carry, when a ticket exists.
pub fn check_format(
    channel: Channel,
    text: &str,
    config: &AgentConfig,
    ticket_ref: Option<&str>,
) -> Vec<FormatViolation> {
    let mut v = Vec::new();
    if text.trim().is_empty() {
        return vec![FormatViolation::Empty];
    }
    let emoji = text.chars().filter(|c| is_emoji(*c) && *c != '\u{FE0F}').count();
    let chat = matches!(channel, Channel::Whatsapp | Channel::Slack);
    match channel {
        Channel::Email | Channel::Webform => {
            let (limit, greeting, signoff) = match channel {
                Channel::Email => (EMAIL_MAX_WORDS, ["Dear ", "Hello,"], config.email_signature()),
                _ => (WEBFORM_MAX_WORDS, ["Hi ", "Hi,"], config.webform_signoff()),
            };
            if words(text) > limit {
                v.push(FormatViolation::TooLong { limit: format!("{limit} words"), got: words(text) });
            }
            if !greeting.iter().any(|g| text.starts_with(g)) {
                v.push(FormatViolation::MissingGreeting);
            }
            if !text.trim_end().ends_with(signoff.trim_end()) {
                v.push(FormatViolation::MissingSignature);
            }
            if channel == Channel::Webform && !text.contains(&config.help_portal_line()) {
                v.push(FormatViolation::MissingHelpLink);
            }
            if channel == Channel::Email && ticket_ref.is_some_and(|t| !text.contains(t)) {
                v.push(FormatViolation::MissingTicketReference);
            }
            if emoji > 0 {
                v.push(FormatViolation::Emoji);
            }
        }
        Channel::Whatsapp | Channel::Slack => {
            let max = if channel == Channel::Whatsapp { WHATSAPP_MAX_CHARS } else { SLACK_MAX_CHARS };
            let n = text.chars().count();
            if n > max {
                v.push(FormatViolation::TooLong { limit: format!("{max} characters"), got: n });
            }
            // A cut answer with its marker is within the preferred length too.
            if channel == Channel::Whatsapp && n > WHATSAPP_PREFERRED_CHARS {
                v.push(FormatViolation::TooLong { limit: format!("{WHATSAPP_PREFERRED_CHARS} characters"), got: n });
            }
            if channel == Channel::Whatsapp && emoji > 1 {
                v.push(FormatViolation::TooManyEmoji);
            }
        }
    }
    if text.contains("**") {
        v.push(FormatViolation::MarkdownBold);
    }
    // No channel shows headings, tables or markdown links; chat channels
    // have no headings of any depth.
    let heading =
        |l: &str| if chat { l.starts_with('#') } else { ["# ", "## ", "### "].iter().any(|h| l.starts_with(h)) };
    if text.lines().any(heading) {
        v.push(FormatViolation::Heading);
    }
    if text.contains("](http") {
        v.push(FormatViolation::MarkdownLink);
    }
    if text.lines().any(|l| l.trim_start().starts_with('|') && l.matches('|').count() >= 3) {
        v.push(FormatViolation::Table);
    }
    if channel == Channel::Slack && (text.contains("@channel") || text.contains("@here")) {
        v.push(FormatViolation::BroadcastMention);
    }
    v
}
