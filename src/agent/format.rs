//! `format_for_channel`: the single formatter every outgoing AI message goes
//! through (seed 000 IX, the brand voice's channel guide). It takes a reply
//! as plain parts (greeting name, empathy line, body paragraphs written in
//! light markdown: `**bold**`, `1.` steps, `-` bullets, `[text](url)`) and
//! renders it in the channel's shape and limits. [`check_format`]
//! (`format_check.rs`) is the independent check of those limits: the eval
//! counts its violations, and a test runs it over every rendering.
//!
//! Markup per channel: email and web form are plain text (`format_plain.rs`:
//! no markdown reaches the customer), WhatsApp and Slack get their own
//! `*bold*` styling. A WhatsApp message is at most 300 characters: the
//! opening (greeting, Robin's introduction, empathy) shrinks before the
//! answer is cut, and a cut keeps the answer's key sentence.

use super::compose;
use super::config::AgentConfig;
use crate::domain::Channel;

#[path = "format_plain.rs"]
mod plain;

#[path = "format_check.rs"]
mod check;
pub use check::{FormatViolation, check_format};
pub use plain::plain_text;

/// Email replies: at most this many words.
pub const EMAIL_MAX_WORDS: usize = 500;
/// Web-form replies: at most this many words.
pub const WEBFORM_MAX_WORDS: usize = 300;
/// WhatsApp: the preferred length, and the provider's hard cap. Lengths
/// are counted in characters (Unicode scalar values, `chars()`), as the
/// senders check Twilio's and Meta's 1,600-character cap.
pub const WHATSAPP_PREFERRED_CHARS: usize = 300;
/// A longer WhatsApp answer is cut to this many characters (at a word
/// boundary) and followed by a blank line and [`WHATSAPP_MORE`]: 277 + 2
/// + 21 = 300, the whole message within the preferred length.
pub const WHATSAPP_CUT_CHARS: usize = 277;
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
    /// The answer's key sentence, as written in `paragraphs` (the local
    /// brain's best-ranked one). A message cut for WhatsApp keeps it, or
    /// its beginning when it alone is too long. None: the answer's first
    /// sentence or list item is the key one.
    pub lead: Option<String>,
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
/// markup (WhatsApp and Slack bold, Slack links and bullets, plain text on
/// email and the web form, no headings or tables anywhere, no `@channel` /
/// `@here` broadcasts). Unlike the AI's answers a human's text is never
/// cut: one over the channel's limit is refused so they can shorten it
/// themselves.
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
            let plain = paragraphs.iter().map(|p| plain_text(p)).collect::<Vec<_>>().join("\n\n");
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
    letter(&greeting, parts, &closing, &signature, EMAIL_MAX_WORDS, |p| plain_text(&strip_emoji(p)))
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
    letter(&greeting, parts, &closing, &signoff, WEBFORM_MAX_WORDS, |p| plain_text(&strip_emoji(p)))
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

/// Over [`WHATSAPP_PREFERRED_CHARS`] the answer comes before the opening:
/// first the opening shrinks (empathy shortened, then dropped, then Robin's
/// introduction, then the greeting) while the whole answer would fit; when
/// it cannot fit, the message is cut at a word with the fullest opening that
/// keeps the key sentence ([`ReplyParts::lead`]) whole, else the key
/// sentence goes first (cut itself when it alone is too long) and the rest
/// of the answer follows as room allows. A cut message ends with
/// [`WHATSAPP_MORE`] and is never over the preferred length.
fn whatsapp(parts: &ReplyParts, config: &AgentConfig) -> String {
    let answer = parts
        .paragraphs
        .iter()
        .map(|p| whatsapp_markup(p))
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let openings = whatsapp_openings(parts, config);
    // Without an answer the opening is the message: it is never dropped.
    let fitting = if answer.trim().is_empty() { &openings[..1] } else { &openings[..] };
    for opening in fitting {
        let text = join_blocks(opening, &answer);
        let text = if parts.holding { strip_emoji(&text) } else { keep_one_emoji(&text) };
        if text.chars().count() <= WHATSAPP_PREFERRED_CHARS {
            return text;
        }
    }
    // The cut text gives up its own emoji: the marker is the one allowed.
    let answer = strip_emoji(&answer);
    let key = key_sentence(parts, &answer);
    for opening in fitting {
        let cut = cut_at_word(&join_blocks(&strip_emoji(opening), &answer), WHATSAPP_CUT_CHARS);
        if key.as_deref().is_none_or(|k| cut.contains(k)) {
            return format!("{cut}\n\n{WHATSAPP_MORE}");
        }
    }
    let key = key.unwrap_or_default();
    let rest = without(&answer, &key);
    let cut = cut_at_word(&join_blocks(&key, &rest), WHATSAPP_CUT_CHARS);
    format!("{cut}\n\n{WHATSAPP_MORE}")
}

/// The WhatsApp openings, fullest first: greeting, Robin's introduction
/// (both on the first reply only) and the empathy line; then the empathy
/// line shortened, without empathy, the greeting alone, and nothing.
fn whatsapp_openings(parts: &ReplyParts, config: &AgentConfig) -> Vec<String> {
    let greeting = parts.first_reply.then(|| match &parts.first_name {
        Some(name) => format!("Hi {name}!"),
        None => "Hi there!".to_string(),
    });
    let intro = parts.first_reply.then(|| format!("I'm {}, {}'s AI assistant.", config.assistant_name, config.company));
    let empathy = parts.empathy.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let short = empathy.map(shorten_empathy);
    let line = |pieces: &[Option<&str>]| pieces.iter().flatten().copied().collect::<Vec<_>>().join(" ");
    let (greeting, intro) = (greeting.as_deref(), intro.as_deref());
    let mut out = vec![
        line(&[greeting, intro, empathy]),
        line(&[greeting, intro, short.as_deref()]),
        line(&[greeting, intro]),
        line(&[greeting]),
        String::new(),
    ];
    out.dedup();
    out
}

/// An empathy line's first clause or sentence ("I'm sorry this got in the
/// way of your work — here's how…" → "I'm sorry this got in the way of
/// your work.").
fn shorten_empathy(e: &str) -> String {
    if let Some((first, _)) = e.split_once(" — ") {
        return format!("{}.", first.trim_end_matches([',', ';', ':']).trim_end());
    }
    match e.char_indices().find(|(i, c)| matches!(c, '.' | '!' | '?') && e[i + c.len_utf8()..].starts_with(' ')) {
        Some((i, c)) => e[..i + c.len_utf8()].to_string(),
        None => e.to_string(),
    }
}

/// The key sentence as it reads in the rendered `answer` (WhatsApp markup,
/// no emoji): [`ReplyParts::lead`] when the answer has it, else the
/// answer's first sentence or list item.
fn key_sentence(parts: &ReplyParts, answer: &str) -> Option<String> {
    let render = |s: &str| strip_emoji(&whatsapp_markup(s)).trim().to_string();
    let lead = parts.lead.as_deref().map(render).filter(|k| !k.is_empty() && answer.contains(k.as_str()));
    lead.or_else(|| {
        let first = compose::answer_units(&parts.paragraphs).into_iter().next()?;
        Some(render(&first.text)).filter(|k| !k.is_empty() && answer.contains(k.as_str()))
    })
}

/// `text` without the first occurrence of `part`, its lines tidied.
fn without(text: &str, part: &str) -> String {
    if part.is_empty() {
        return text.to_string();
    }
    text.replacen(part, "", 1)
        .split("\n\n")
        .map(|p| {
            p.lines()
                .map(|l| l.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn join_blocks(first: &str, second: &str) -> String {
    match (first.trim().is_empty(), second.trim().is_empty()) {
        (true, _) => second.trim().to_string(),
        (false, true) => first.trim().to_string(),
        (false, false) => format!("{}\n\n{}", first.trim(), second.trim()),
    }
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
    // A cut right after a sentence needs no ellipsis.
    if kept.ends_with(['.', '!', '?']) { kept.to_string() } else { format!("{kept}…") }
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

/// `**bold**` → `*bold*`, headings to plain lines, `[text](url)` → `text: url`,
/// tables to list items.
pub fn whatsapp_markup(p: &str) -> String {
    detable(p)
        .lines()
        .map(|l| {
            let l = l.trim_start_matches('#').trim_start();
            strip_links(&single_asterisks(l))
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
            slack_links(&single_asterisks(&l))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `**x**` → `*x*`; longer runs (`***x***`) shrink to one `*` as well.
fn single_asterisks(s: &str) -> String {
    let mut out = s.to_string();
    while out.contains("**") {
        out = out.replace("**", "*");
    }
    out
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

/// Whether `c` counts as an emoji under the channels' emoji rules.
pub fn is_emoji(c: char) -> bool {
    matches!(u32::from(c), 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x1F000..=0x1F2FF | 0xFE0F)
}

fn strip_emoji(s: &str) -> String {
    let cleaned: String = s.chars().filter(|c| !is_emoji(*c)).collect();
    cleaned.replace("  ", " ")
}

fn keep_one_emoji(s: &str) -> String {
    let mut seen = false;
    let kept: String = s
        .chars()
        .filter(|c| {
            if !is_emoji(*c) {
                return true;
            }
            let keep = !seen;
            seen = true;
            keep
        })
        .collect();
    if seen { kept.replace("  ", " ") } else { kept }
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
