//! `format_for_channel`: the single formatter every outgoing AI message goes
//! through (seed 000 IX, the brand voice's channel guide). It takes a reply
//! as plain parts (greeting name, empathy line, body paragraphs written in
//! light markdown: `**bold**`, `1.` steps, `-` bullets, `[text](url)`) and
//! renders it in the channel's shape and limits. [`check_format`] is the
//! independent check of those limits: the eval counts its violations, and
//! a test runs it over every rendering.

use super::config::AgentConfig;
use crate::domain::Channel;

/// Email replies: at most this many words.
pub const EMAIL_MAX_WORDS: usize = 500;
/// Web-form replies: at most this many words.
pub const WEBFORM_MAX_WORDS: usize = 300;
/// WhatsApp: the preferred length, and the provider's hard cap.
pub const WHATSAPP_PREFERRED_CHARS: usize = 300;
/// A longer WhatsApp answer is cut to this many characters (at a word
/// boundary) and ends with [`WHATSAPP_MORE`] (seed 000 IX).
pub const WHATSAPP_CUT_CHARS: usize = 297;
pub const WHATSAPP_MORE: &str = "📱 Reply for more help";
pub const WHATSAPP_MAX_CHARS: usize = 1600;
/// Slack: mrkdwn messages up to this many characters.
pub const SLACK_MAX_CHARS: usize = 4000;

/// What a reply says, before it is shaped for a channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplyParts {
    /// The customer's first name, if known.
    pub first_name: Option<String>,
    /// The first reply of the conversation (WhatsApp introduces Robin).
    pub first_reply: bool,
    /// One short empathy line, when the customer is frustrated.
    pub empathy: Option<String>,
    /// The answer, one paragraph (or list) per entry.
    pub paragraphs: Vec<String>,
    /// The customer's subject (web form mentions it; email keeps it).
    pub subject: Option<String>,
    /// Human-facing ticket reference, e.g. `TKT-1042`.
    pub ticket_ref: Option<String>,
    /// A holding reply: no emoji, no offer of more steps.
    pub holding: bool,
}

/// Renders `parts` for `channel`, within the channel's limits.
pub fn format_for_channel(channel: Channel, parts: &ReplyParts, config: &AgentConfig) -> String {
    // No channel shows tables: rows become list items.
    let parts = &ReplyParts { paragraphs: parts.paragraphs.iter().map(|p| detable(p)).collect(), ..parts.clone() };
    match channel {
        Channel::Email => email(parts, config),
        Channel::Webform => webform(parts, config),
        Channel::Whatsapp => whatsapp(parts, config),
        Channel::Slack => slack(parts),
    }
}

/// Why a human's reply cannot go out as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HumanReplyError {
    #[error("the reply is empty")]
    Empty,
    #[error("the reply is {got} {unit} long; {channel} takes at most {limit}")]
    TooLong { channel: Channel, limit: usize, got: usize, unit: &'static str },
}

/// A support agent's own reply (or edited draft), shaped for `channel`:
/// their words unchanged, the light markdown turned into the channel's
/// markup (WhatsApp and Slack bold, Slack links and bullets, no headings or
/// tables anywhere, no `@channel` / `@here` broadcasts). Unlike the AI's
/// answers a human's text is never cut: one over the channel's limit is
/// refused so they can shorten it themselves.
pub fn format_human_reply(channel: Channel, text: &str) -> Result<String, HumanReplyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(HumanReplyError::Empty);
    }
    let paragraphs: Vec<String> = text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(detable).collect();
    let (shaped, limit, unit) = match channel {
        Channel::Whatsapp => (
            paragraphs.iter().map(|p| whatsapp_markup(p)).collect::<Vec<_>>().join("\n\n"),
            WHATSAPP_MAX_CHARS,
            "characters",
        ),
        Channel::Slack => {
            let joined = paragraphs.iter().map(|p| slack_markup(p)).collect::<Vec<_>>().join("\n\n");
            (joined.replace("@channel", "channel").replace("@here", "here"), SLACK_MAX_CHARS, "characters")
        }
        Channel::Email | Channel::Webform => {
            let plain = paragraphs
                .iter()
                .map(|p| {
                    p.lines()
                        .map(|l| strip_links(l.trim_start_matches('#').trim_start()))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .collect::<Vec<_>>()
                .join("\n\n");
            let limit = if channel == Channel::Email { EMAIL_MAX_WORDS } else { WEBFORM_MAX_WORDS };
            (plain, limit, "words")
        }
    };
    let got = if unit == "words" { words(&shaped) } else { shaped.chars().count() };
    if got > limit {
        return Err(HumanReplyError::TooLong { channel, limit, got, unit });
    }
    Ok(shaped)
}

/// Markdown table rows → `- first cell — header: cell; …` list items.
fn detable(p: &str) -> String {
    let is_row = |l: &str| l.trim_start().starts_with('|');
    if !p.lines().any(is_row) {
        return p.to_string();
    }
    let cells =
        |l: &str| -> Vec<String> { l.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect() };
    let mut out = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for line in p.lines() {
        if !is_row(line) {
            header = None;
            out.push(line.to_string());
            continue;
        }
        let row = cells(line);
        if row.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':') && !c.is_empty()) {
            continue;
        }
        match &header {
            None => header = Some(row),
            Some(h) => {
                let first = row.first().cloned().unwrap_or_default();
                let rest: Vec<String> = h
                    .iter()
                    .zip(row.iter())
                    .skip(1)
                    .filter(|(_, c)| !c.is_empty())
                    .map(|(h, c)| if h.is_empty() { c.clone() } else { format!("{h}: {c}") })
                    .collect();
                out.push(format!("- {first} — {}", rest.join("; ")));
            }
        }
    }
    out.join("\n")
}

fn email(parts: &ReplyParts, config: &AgentConfig) -> String {
    let greeting = match &parts.first_name {
        Some(name) => format!("Dear {name},"),
        None => "Hello,".to_string(),
    };
    let mut closing = Vec::new();
    if let Some(t) = &parts.ticket_ref {
        closing.push(format!("Your ticket reference is {t}; please keep it in the subject line if you write again."));
    }
    if !parts.holding {
        closing.push("If anything is unclear, please reply to this email and I will help.".to_string());
    }
    let signature = config.email_signature();
    letter(&greeting, parts, &closing, &signature, EMAIL_MAX_WORDS, |p| strip_links(&strip_emoji(p)))
}

fn webform(parts: &ReplyParts, config: &AgentConfig) -> String {
    let greeting = match &parts.first_name {
        Some(name) => format!("Hi {name},"),
        None => "Hi,".to_string(),
    };
    let mut closing = Vec::new();
    if let Some(t) = &parts.ticket_ref {
        closing.push(format!("Your ticket reference is {t}."));
    }
    closing.push(config.help_portal_line());
    let signoff = config.webform_signoff();
    letter(&greeting, parts, &closing, &signoff, WEBFORM_MAX_WORDS, |p| strip_links(&strip_emoji(p)))
}

/// Greeting, empathy, body, closing lines and sign-off, with body
/// paragraphs dropped from the end (then the last one cut at a sentence)
/// until the whole fits in `max_words`.
fn letter(
    greeting: &str,
    parts: &ReplyParts,
    closing: &[String],
    signoff: &str,
    max_words: usize,
    clean: impl Fn(&str) -> String,
) -> String {
    let mut body: Vec<String> = Vec::new();
    if let Some(e) = &parts.empathy {
        body.push(clean(e));
    }
    body.extend(parts.paragraphs.iter().map(|p| clean(p)).filter(|p| !p.trim().is_empty()));
    let fixed = words(greeting) + closing.iter().map(|c| words(c)).sum::<usize>() + words(signoff);
    let budget = max_words.saturating_sub(fixed);
    let body = fit_words(body, budget);
    let mut out = vec![greeting.to_string()];
    out.extend(body);
    out.extend(closing.iter().cloned());
    out.push(signoff.to_string());
    out.join("\n\n")
}

fn whatsapp(parts: &ReplyParts, config: &AgentConfig) -> String {
    let mut lines = Vec::new();
    let mut opening = String::new();
    if parts.first_reply {
        opening = match &parts.first_name {
            Some(name) => format!("Hi {name}! "),
            None => "Hi there! ".to_string(),
        };
        opening.push_str(&format!("I'm {}, {}'s AI assistant.", config.assistant_name, config.company));
    }
    if let Some(e) = &parts.empathy {
        opening = if opening.is_empty() { e.clone() } else { format!("{opening} {e}") };
    }
    if !opening.is_empty() {
        lines.push(opening);
    }
    for p in &parts.paragraphs {
        lines.push(whatsapp_markup(p));
    }
    let text = lines.join("\n\n");
    let text = if parts.holding { strip_emoji(&text) } else { keep_one_emoji(&text) };
    if text.chars().count() <= WHATSAPP_PREFERRED_CHARS {
        return text;
    }
    // The cut text gives up its own emoji: the marker is the one allowed.
    let cut = cut_at_word(&strip_emoji(&text), WHATSAPP_CUT_CHARS);
    cut_chars(&format!("{cut}\n\n{WHATSAPP_MORE}"), WHATSAPP_MAX_CHARS)
}

/// The longest prefix of `s` of at most `max` characters that ends at a
/// word boundary (unless the first word alone is longer), trimmed, with
/// "…" in place of the rest.
fn cut_at_word(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.trim_end().to_string();
    }
    let room = max.saturating_sub(1);
    let prefix: String = s.chars().take(room).collect();
    let next_is_space = s.chars().nth(room).is_none_or(char::is_whitespace);
    let kept = if next_is_space {
        prefix.as_str()
    } else {
        match prefix.rfind(char::is_whitespace) {
            Some(i) if i > 0 => &prefix[..i],
            _ => prefix.as_str(),
        }
    };
    let kept = kept.trim_end().trim_end_matches([',', ';', ':', '-', '—', '(']).trim_end();
    format!("{kept}…")
}

fn slack(parts: &ReplyParts) -> String {
    let mut lines = Vec::new();
    let mut first = String::new();
    if let Some(name) = &parts.first_name {
        first = format!("Hi {name} —");
    }
    if let Some(e) = &parts.empathy {
        first = if first.is_empty() { e.clone() } else { format!("{first} {e}") };
    }
    if !first.is_empty() {
        lines.push(first);
    }
    for p in &parts.paragraphs {
        lines.push(slack_markup(p));
    }
    let text = lines.join("\n\n").replace("@channel", "channel").replace("@here", "here");
    cut_chars(&text, SLACK_MAX_CHARS)
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

fn fit_words(mut body: Vec<String>, budget: usize) -> Vec<String> {
    while body.iter().map(|p| words(p)).sum::<usize>() > budget && body.len() > 1 {
        body.pop();
    }
    if let Some(last) = body.last_mut().filter(|l| words(l) > budget) {
        *last = cut_words(last, budget);
    }
    body
}

/// Cuts at the last sentence end within `max` words (or at `max` words).
fn cut_words(s: &str, max: usize) -> String {
    let cut: Vec<&str> = s.split_whitespace().take(max).collect();
    let joined = cut.join(" ");
    match joined.rfind(['.', '!', '?']) {
        Some(i) if i > joined.len() / 2 => joined[..=i].to_string(),
        _ => joined,
    }
}

/// Cuts at the last paragraph or sentence end within `max` characters.
fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let prefix: String = s.chars().take(max).collect();
    let end =
        prefix.rfind("\n\n").filter(|i| *i > prefix.len() / 2).or_else(|| prefix.rfind(['.', '!', '?']).map(|i| i + 1));
    match end {
        Some(i) if i > 0 => prefix[..i].trim_end().to_string(),
        _ => prefix,
    }
}

/// `**bold**` → `*bold*`, headings to plain lines, `[text](url)` → `text: url`.
fn whatsapp_markup(p: &str) -> String {
    p.lines()
        .map(|l| {
            let l = l.trim_start_matches('#').trim_start();
            strip_links(&l.replace("**", "*"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `**bold**` → `*bold*`, `- ` bullets → `• `, `[text](url)` → `<url|text>`.
fn slack_markup(p: &str) -> String {
    p.lines()
        .map(|l| {
            let l = l.trim_start_matches('#').trim_start();
            let l = match l.strip_prefix("- ") {
                Some(rest) => format!("• {rest}"),
                None => l.to_string(),
            };
            slack_links(&l.replace("**", "*"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Replaces markdown links using `render(text, url)`.
fn map_links(s: &str, render: impl Fn(&str, &str) -> String) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else { break };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else { break };
        out.push_str(&rest[..open]);
        out.push_str(&render(&rest[open + 1..close], &rest[close + 2..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn strip_links(s: &str) -> String {
    map_links(s, |text, url| if text == url { url.to_string() } else { format!("{text}: {url}") })
}

fn slack_links(s: &str) -> String {
    map_links(s, |text, url| format!("<{url}|{text}>"))
}

pub(crate) fn is_emoji(c: char) -> bool {
    matches!(u32::from(c), 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x1F000..=0x1F2FF | 0xFE0F)
}

fn strip_emoji(s: &str) -> String {
    let cleaned: String = s.chars().filter(|c| !is_emoji(*c)).collect();
    cleaned.replace("  ", " ")
}

fn keep_one_emoji(s: &str) -> String {
    let mut seen = false;
    s.chars()
        .filter(|c| {
            if !is_emoji(*c) {
                return true;
            }
            let keep = !seen;
            seen = true;
            keep
        })
        .collect()
}

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
            // Over the preferred length only as a cut answer with its marker.
            let cut_len = WHATSAPP_CUT_CHARS + 2 + WHATSAPP_MORE.chars().count();
            if channel == Channel::Whatsapp
                && n > WHATSAPP_PREFERRED_CHARS
                && !(text.ends_with(WHATSAPP_MORE) && n <= cut_len)
            {
                v.push(FormatViolation::TooLong { limit: format!("{WHATSAPP_PREFERRED_CHARS} characters"), got: n });
            }
            if channel == Channel::Whatsapp && emoji > 1 {
                v.push(FormatViolation::TooManyEmoji);
            }
            if text.contains("**") {
                v.push(FormatViolation::MarkdownBold);
            }
        }
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

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
