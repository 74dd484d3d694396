//! Reply texts in the brand voice (`../shared/context/brand-voice.md`):
//! holding replies per escalation reason, the "what can I help with"
//! reply to an empty message, and answers composed from knowledge-base
//! passages: split into sentences and list items, led by the best-scoring
//! one with the conditions and continuations the article attaches to it
//! ([`focused`]). The output is [`ReplyParts`]; `format_for_channel`
//! shapes it.

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
/// lead-ins, blank-line separated blocks stay blocks, except that a list
/// joins the sentence ending in ":" that introduces it (its items mean
/// nothing without it: "These don't use a seat:").
pub fn answer_paragraphs(passages: &[&SearchHit]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in passages {
        let first = out.len();
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
            let in_passage = out.len() > first;
            match out.last_mut() {
                Some(intro) if in_passage && intro.ends_with(':') && starts_list(&block) => {
                    intro.push('\n');
                    intro.push_str(&block);
                }
                _ => out.push(block),
            }
        }
    }
    out
}

/// Whether a block or line opens with a list item ("- …", "1. …").
pub fn starts_list(block: &str) -> bool {
    block.starts_with("- ") || block.chars().next().is_some_and(|c| c.is_ascii_digit())
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
        // A table is one unit: its rows mean nothing without its header.
        let table = p.lines().map(str::trim).filter(|l| !l.is_empty()).all(|l| l.starts_with('|'));
        if table && !p.trim().is_empty() {
            units.push(Unit { paragraph: pi, line: 0, text: p.trim().to_string(), item: true });
            continue;
        }
        for (li, line) in p.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || (line.starts_with("**") && line.ends_with("**")) {
                continue;
            }
            let item = starts_list(line);
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

/// Unit indices, best score first (stable: earlier ones first among equals).
fn rank(n: usize, scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let score = |i: usize| scores.get(i).copied().unwrap_or(0.0);
    order.sort_by(|&a, &b| score(b).total_cmp(&score(a)));
    order
}

/// The best-scoring units within `budget` characters (the best one always),
/// put back in their original order and paragraphs.
pub fn condense_units(units: &[Unit], scores: &[f32], budget: usize) -> Vec<String> {
    let order = rank(units.len(), scores);
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
    assemble(units, &kept, &kept)
}

/// [`condense_units`] by [`lexical_scores`] alone.
pub fn condense(paragraphs: &[String], query: &str, budget: usize) -> Vec<String> {
    let units = answer_units(paragraphs);
    condense_units(&units, &lexical_scores(&units, query), budget)
}

/// Whether a sentence sets a condition on what it stands next to: who may
/// do it (Owner, Admin), on which plans, a limit ("up to", "at most",
/// "only") or a negation ("can't", "isn't available").
pub fn is_condition(text: &str) -> bool {
    const WORDS: [&str; 16] = [
        "only",
        "must",
        "never",
        "unless",
        "except",
        "requires",
        "within",
        "owner",
        "owners",
        "admin",
        "admins",
        "starter",
        "pro",
        "enterprise",
        "plan",
        "plans",
    ];
    const PHRASES: [&str; 12] = [
        "up to ",
        "at most",
        "at least",
        "not available",
        "can't",
        "cannot",
        "isn't",
        "aren't",
        "doesn't",
        "don't",
        "won't",
        "on team",
    ];
    let lower = text.to_lowercase().replace('’', "'");
    PHRASES.iter().any(|p| lower.contains(p)) || lower.split(|c: char| !c.is_alphanumeric()).any(|w| WORDS.contains(&w))
}

/// Whether a sentence continues the one before it ("It…", "This…",
/// "The entry…", "Otherwise…"), so that it cannot stand without it.
fn continues(text: &str) -> bool {
    const OPENERS: [&str; 16] = [
        "it",
        "its",
        "this",
        "that",
        "they",
        "their",
        "these",
        "those",
        "then",
        "the",
        "otherwise",
        "unless",
        "except",
        "but",
        "however",
        "after",
    ];
    let first = text.split(|c: char| !c.is_alphanumeric()).find(|w| !w.is_empty()).unwrap_or_default();
    OPENERS.contains(&first.to_lowercase().as_str())
}

/// The unit `i` with what the article attaches to it, in order: the
/// neighbouring sentences of its paragraph that set a condition on it or
/// continue it (or that it continues), the list a sentence ending in ":"
/// introduces, and for a list item its lead-in line — with the whole list
/// when the item is a numbered step and `whole_lists` (channels with room
/// for every step).
pub fn lead_group(units: &[Unit], i: usize, whole_lists: bool) -> Vec<usize> {
    attached(units, i, whole_lists, true)
}

/// [`lead_group`], with the sentences that merely continue the unit left
/// out when `continuations` is false (its conditions stay).
fn attached(units: &[Unit], i: usize, whole_lists: bool, continuations: bool) -> Vec<usize> {
    let continues = |text: &str| continuations && continues(text);
    let Some(u) = units.get(i) else { return Vec::new() };
    let same = |j: usize| units.get(j).is_some_and(|v| v.paragraph == u.paragraph);
    let mut group = vec![i];
    if u.item {
        // The list's lead-in: the paragraph's sentences before its first item.
        let list = list_of(units, i);
        let mut j = list.first().copied().unwrap_or(i);
        while j > 0 && same(j - 1) && !units[j - 1].item {
            j -= 1;
            if is_condition(&units[j].text) || units[j].text.ends_with(':') {
                group.push(j);
            }
        }
        let numbered = u.text.chars().next().is_some_and(|c| c.is_ascii_digit());
        if whole_lists && numbered {
            group.extend(list);
        }
    } else {
        if i > 0 && same(i - 1) && !units[i - 1].item && (continues(&u.text) || is_condition(&units[i - 1].text)) {
            group.push(i - 1);
        }
        let mut j = i + 1;
        while same(j) && !units[j].item && (continues(&units[j].text) || is_condition(&units[j].text)) {
            group.push(j);
            j += 1;
        }
        if u.text.ends_with(':') {
            group.extend((i + 1..units.len()).take_while(|&j| same(j) && units[j].item));
        }
    }
    group.sort_unstable();
    group.dedup();
    group
}

/// The items of the list the item `i` belongs to (its paragraph's run of
/// items around it).
fn list_of(units: &[Unit], i: usize) -> Vec<usize> {
    let same = |j: usize| units.get(j).is_some_and(|v| v.paragraph == units[i].paragraph && v.item);
    let first = (0..=i).rev().take_while(|&j| same(j)).last().unwrap_or(i);
    (first..units.len()).take_while(|&j| same(j)).collect()
}

/// Units put back into paragraphs: in their original order, sentences of
/// one line joined by a space, lines of one paragraph by a newline. A
/// numbered step whose earlier steps are not among `shown` (every unit of
/// the answer) loses its number: "2. Enter your email" alone would send
/// the customer looking for step 1.
fn assemble(units: &[Unit], kept: &[usize], shown: &[usize]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut last: Option<(usize, usize)> = None;
    for &i in kept {
        let u = &units[i];
        let text = match numbered_step(&u.text) {
            Some(step) if list_of(units, i).iter().take_while(|&&j| j < i).any(|j| !shown.contains(j)) => {
                format!("- {step}")
            }
            _ => u.text.clone(),
        };
        match (last, out.last_mut()) {
            (Some((lp, ll)), Some(prev)) if lp == u.paragraph => {
                prev.push(if ll == u.line && !u.item { ' ' } else { '\n' });
                prev.push_str(&text);
            }
            _ => out.push(text),
        }
        last = Some((u.paragraph, u.line));
    }
    out
}

/// The text of a numbered step ("2. Enter your email" → "Enter your email").
fn numbered_step(text: &str) -> Option<&str> {
    let rest = text.trim_start_matches(|c: char| c.is_ascii_digit());
    (rest.len() < text.len()).then(|| rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") "))).flatten()
}

/// A query-focused answer: the unit with the best `lead_scores` with what
/// the article attaches to it ([`lead_group`]) comes first, as its own
/// paragraph (also returned: the answer's key sentence); then the other
/// units by `scores`, each with
/// its own attachments, chosen best first while they fit in `budget`
/// characters: the lead's own paragraph before the others, each in its original order.
pub fn focused(
    units: &[Unit],
    scores: &[f32],
    lead_scores: &[f32],
    budget: usize,
    whole_lists: bool,
) -> (Vec<String>, Option<String>) {
    let order = rank(units.len(), scores);
    let Some(&best) = rank(units.len(), lead_scores).first() else { return (Vec::new(), None) };
    let len = |ids: &[usize]| ids.iter().map(|&j| units[j].text.chars().count() + 1).sum::<usize>();
    let mut lead = lead_group(units, best, whole_lists);
    // A list's items are checks or steps that belong together: a short
    // channel quotes the lead's whole list too when it fits.
    if !whole_lists && units[best].item {
        let mut list = lead.clone();
        list.extend(list_of(units, best));
        list.sort_unstable();
        list.dedup();
        if len(&list) <= budget {
            lead = list;
        }
    }
    let mut used = len(&lead);
    let mut rest: Vec<usize> = Vec::new();
    for i in order {
        if lead.contains(&i) || rest.contains(&i) {
            continue;
        }
        // With what continues it if there is room, else with its conditions
        // alone.
        for continuations in [true, false] {
            let group: Vec<usize> = attached(units, i, whole_lists, continuations)
                .into_iter()
                .filter(|j| !lead.contains(j) && !rest.contains(j))
                .collect();
            if used + len(&group) <= budget {
                used += len(&group);
                rest.extend(group);
                break;
            }
        }
    }
    rest.sort_unstable();
    // The lead's paragraph first, then the others in their order.
    let lead_paragraph = units[best].paragraph;
    let (mut own, other): (Vec<usize>, Vec<usize>) =
        rest.into_iter().partition(|&j| units[j].paragraph == lead_paragraph);
    own.extend(other);
    let shown: Vec<usize> = lead.iter().chain(&own).copied().collect();
    let lead_text = assemble(units, &lead, &shown).join("\n");
    let mut out = vec![lead_text.clone()];
    out.extend(assemble(units, &own, &shown));
    (out, Some(lead_text))
}

#[cfg(test)]
#[path = "compose_tests.rs"]
mod tests;
