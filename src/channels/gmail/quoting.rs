//! Reducing an email's text to what the customer wrote this time: cuts the
//! quoted history (Gmail/Apple "On … wrote:" — also when wrapped over two
//! lines — and its French, German, Spanish, Portuguese, Italian and Dutch
//! forms; Outlook's "-----Original Message-----" and its "From: … Sent: …"
//! header block, with the underscore rule above it), drops `>` lines, and
//! separates the signature (the RFC 3676 `-- ` line, or a mobile footer
//! such as "Sent from my iPhone"). The signature is kept aside, not in the
//! body, because it may hold the customer's phone number
//! (`signature_phone`). If stripping would leave nothing, the text is kept
//! whole. Forwarded messages are not cut: their content is the question.

use crate::domain::PhoneNumber;

/// The text with quotes and signature separated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanText {
    pub body: String,
    /// Whether quoted history was cut.
    pub quote_stripped: bool,
    /// The signature block, if one was found (its delimiter excluded).
    pub signature: Option<String>,
}

const WROTE_ENDINGS: [&str; 9] = [
    "wrote:",
    "a écrit :",
    "a écrit:",
    "schrieb:",
    "escribió:",
    "escreveu:",
    "scrisse:",
    "het volgende geschreven:",
    "geschreven:",
];
const WROTE_STARTS: [&str; 7] = ["On ", "Le ", "Am ", "El ", "Em ", "Il ", "Op "];

const MOBILE_FOOTERS: [&str; 8] = [
    "sent from my ",
    "sent from outlook",
    "get outlook for ",
    "sent from yahoo mail",
    "sent from mail for windows",
    "sent from the all new aol app",
    "envoyé de mon ",
    "von meinem iphone gesendet",
];

fn is_wrote_line(line: &str) -> bool {
    let l = line.trim();
    l.len() < 400 && WROTE_STARTS.iter().any(|s| l.starts_with(s)) && WROTE_ENDINGS.iter().any(|e| l.ends_with(e))
}

fn is_original_message(line: &str) -> bool {
    let l = line.trim().trim_matches('-').trim().to_ascii_lowercase();
    line.trim_start().starts_with("--")
        && (l == "original message" || l == "ursprüngliche nachricht" || l == "message d'origine")
}

fn header_label(line: &str, labels: &[&str]) -> bool {
    let l = line.trim().trim_start_matches('*').to_ascii_lowercase();
    labels.iter().any(|lab| l.starts_with(lab))
}

/// Outlook's quoted header block: `From:` then, within five lines,
/// `Sent:`/`Date:` and `To:`/`Subject:`.
fn is_outlook_header(lines: &[&str], i: usize) -> bool {
    if !header_label(lines[i], &["from:", "von:", "de:"]) {
        return false;
    }
    let window = &lines[i + 1..lines.len().min(i + 6)];
    let sent =
        window.iter().any(|l| header_label(l, &["sent:", "date:", "gesendet:", "envoyé :", "envoyé:", "enviado:"]));
    let to = window
        .iter()
        .any(|l| header_label(l, &["to:", "subject:", "an:", "betreff:", "à :", "objet :", "para:", "asunto:"]));
    sent && to
}

fn is_underscore_rule(line: &str) -> bool {
    let l = line.trim();
    l.len() >= 10 && l.chars().all(|c| c == '_')
}

/// Where the quoted history starts, if anywhere.
fn quote_start(lines: &[&str]) -> Option<usize> {
    for i in 0..lines.len() {
        if is_wrote_line(lines[i]) || is_original_message(lines[i]) {
            return Some(i);
        }
        let l = lines[i].trim();
        if WROTE_STARTS.iter().any(|s| l.starts_with(s))
            && let Some(next) = lines.get(i + 1)
            && is_wrote_line(&format!("{l} {}", next.trim()))
        {
            return Some(i);
        }
        if is_outlook_header(lines, i) {
            let prev = (0..i).rev().find(|&j| !lines[j].trim().is_empty());
            return Some(prev.filter(|&j| is_underscore_rule(lines[j])).unwrap_or(i));
        }
    }
    None
}

/// Where the signature starts: (index of the delimiter line, whether the
/// delimiter itself is part of the signature text).
fn signature_start(lines: &[&str]) -> Option<(usize, bool)> {
    if let Some(i) = lines.iter().position(|l| *l == "-- " || l.trim_end() == "--") {
        return Some((i, false));
    }
    lines
        .iter()
        .position(|l| {
            let l = l.trim().to_lowercase();
            MOBILE_FOOTERS.iter().any(|f| l.starts_with(f)) && l.len() < 80
        })
        .map(|i| (i, true))
}

/// Separates what the customer wrote from quotes and signature.
pub fn clean(text: &str) -> CleanText {
    let lines: Vec<&str> = text.lines().collect();
    let cut = quote_start(&lines);
    let kept = &lines[..cut.unwrap_or(lines.len())];
    let unquoted: Vec<&str> = kept.iter().copied().filter(|l| !l.trim_start().starts_with('>')).collect();
    let quote_stripped = cut.is_some() || unquoted.len() != kept.len();
    let (body_lines, signature) = match signature_start(&unquoted) {
        Some((i, keep_delimiter)) => {
            let from = if keep_delimiter { i } else { i + 1 };
            let sig = unquoted[from..].join("\n").trim().to_string();
            (&unquoted[..i], (!sig.is_empty()).then_some(sig))
        }
        None => (&unquoted[..], None),
    };
    let body = body_lines.join("\n").trim().to_string();
    if body.is_empty() {
        return CleanText { body: text.trim().to_string(), quote_stripped: false, signature: None };
    }
    CleanText { body, quote_stripped, signature }
}

/// The first E.164-able phone number in the signature, or — when there is
/// no delimited signature — in the closing block of the body (the lines
/// after its last blank line, if there are at most six and the body has
/// more than one block). A number must carry its country code (`+44 …` or
/// `0044 …`); a UK-style trunk `(0)` is dropped.
pub fn signature_phone(clean: &CleanText) -> Option<PhoneNumber> {
    let block = match &clean.signature {
        Some(sig) => sig.as_str(),
        None => {
            let body = clean.body.trim_end();
            let last_blank = body.rfind("\n\n")?;
            let tail = &body[last_blank + 2..];
            if tail.lines().count() > 6 {
                return None;
            }
            tail
        }
    };
    block.lines().flat_map(phone_candidates).find_map(|c| PhoneNumber::parse(&c).ok())
}

/// Runs starting with `+` or `00` at a word start, made of digits and
/// separators, holding 8 to 15 digits.
fn phone_candidates(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = (chars[i] == '+' || (chars[i] == '0' && chars.get(i + 1) == Some(&'0')))
            && (i == 0 || !chars[i - 1].is_alphanumeric());
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len()
            && (chars[j].is_ascii_digit() || matches!(chars[j], ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        {
            j += 1;
        }
        let run: String = chars[i..j].iter().collect();
        let run = run.replace("(0)", "");
        let run = run.trim_end_matches([' ', '-', '.', '(', '\u{a0}']).to_string();
        let digits = run.chars().filter(char::is_ascii_digit).count();
        if (8..=17).contains(&digits) {
            found.push(run);
        }
        i = j.max(i + 1);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_gmail_quotes() {
        let t = "Thanks, that worked!\n\nOn Mon, 6 May 2024 at 10:12, Acme Support <help@acme.com> wrote:\n> Try again.\n> Bye";
        let c = clean(t);
        assert_eq!(c.body, "Thanks, that worked!");
        assert!(c.quote_stripped);
        // Wrapped over two lines, as Gmail does with long names.
        let t = "Yes please.\n\nOn Mon, May 6, 2024 at 10:12 AM Acme Customer Support Team <\nhelp@acme.com> wrote:\n\n> old";
        assert_eq!(clean(t).body, "Yes please.");
        let t = "Merci !\n\nLe lun. 6 mai 2024 à 10:12, Acme <help@acme.com> a écrit :\n> vieux";
        assert_eq!(clean(t).body, "Merci !");
    }

    #[test]
    fn cuts_outlook_quotes() {
        let t = "Still broken.\n\n-----Original Message-----\nFrom: Acme <help@acme.com>\nSent: Monday\nTo: me\n\nold";
        assert_eq!(clean(t).body, "Still broken.");
        let t = "Still broken.\n\n________________________________\nFrom: Acme Support <help@acme.com>\nSent: Monday, May 6, 2024 10:12 AM\nTo: Jane <jane@x.com>\nSubject: RE: Invoice\n\nold text";
        let c = clean(t);
        assert_eq!(c.body, "Still broken.");
        assert!(c.quote_stripped);
        // A lone "From:" line in the customer's own text is not a quote.
        let t = "From: my office I cannot log in.\nPlease help.";
        assert_eq!(clean(t).body, t);
    }

    #[test]
    fn drops_inline_quote_lines() {
        let t = "> Which plan?\nThe Pro plan.\n> And the date?\nYesterday.";
        let c = clean(t);
        assert_eq!(c.body, "The Pro plan.\nYesterday.");
        assert!(c.quote_stripped);
    }

    #[test]
    fn separates_signatures() {
        let c = clean("Please call me.\n\n-- \nJane Doe\nAcme Ltd\nTel: +44 (0)20 7946 0958");
        assert_eq!(c.body, "Please call me.");
        assert_eq!(c.signature.as_deref(), Some("Jane Doe\nAcme Ltd\nTel: +44 (0)20 7946 0958"));
        assert!(!c.quote_stripped);
        assert_eq!(signature_phone(&c).unwrap().as_str(), "+442079460958");
        let c = clean("Is it fixed?\n\nSent from my iPhone");
        assert_eq!((c.body.as_str(), c.signature.as_deref()), ("Is it fixed?", Some("Sent from my iPhone")));
    }

    #[test]
    fn keeps_everything_when_stripping_would_empty_it() {
        let t = "> only a quote\n> nothing else";
        let c = clean(t);
        assert_eq!(c.body, t);
        assert!(!c.quote_stripped);
        assert_eq!(clean("").body, "");
    }

    #[test]
    fn finds_phones_in_closing_blocks() {
        let c = clean("Hi,\n\nMy invoice 00123456789 is wrong.\n\nThanks,\nMarisol Ortega\nMobile: 0044 7700 900418");
        assert_eq!(signature_phone(&c).unwrap().as_str(), "+447700900418");
        // One block only: a number in the text is not a signature.
        assert!(signature_phone(&clean("Call +44 7700 900418 please")).is_none());
        // No country code: not E.164-able.
        assert!(signature_phone(&clean("Hi\n\nJane\nTel 020 7946 0958")).is_none());
        assert_eq!(phone_candidates("T +1 (202) 555-0147 / +31 20 808 4417"), ["+1 (202) 555-0147", "+31 20 808 4417"]);
        assert!(phone_candidates("version2+3 a+44").is_empty());
    }
}
