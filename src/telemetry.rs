//! Logging set-up: `tracing` with an `RUST_LOG` filter, JSON lines when not
//! on a terminal (collectors parse them), readable text on a terminal.
//! Spans carry `tenant_id`, `customer_id`, `conversation_id` and `channel`
//! where known; JSON output includes the current span's fields. Logs go to
//! standard error, so a command's own output (standard output) stays clean.
//!
//! No personal data at info level or above: message bodies, subjects,
//! names, email addresses and phone numbers are never logged. Customers
//! and messages are named by internal ids; where a personal value must be
//! correlated across lines it is logged as [`pii_hash`]; free text that
//! comes from outside (a provider's error message, a parse error quoting
//! its input) is logged through [`Redacted`]. `tests/api/pii_logs.rs`
//! drives every channel through the binary and scans its logs.

use crate::config::LogFormat;
use regex::Regex;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;
use std::io::IsTerminal;
use std::sync::LazyLock;
use tracing_subscriber::EnvFilter;

/// The filter without `RUST_LOG`. `async_openai::error` is off: its one
/// event logs a model answer that does not parse, in full (the reply to a
/// customer, their words in it); the failure itself reaches our own log
/// without the content.
const DEFAULT_FILTER: &str = "info,sqlx=warn,async_openai::error=off";

/// Installs the global subscriber. Call once, from `main`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.init();
    }
}

/// A short stand-in for a personal value (an address, a number), for a log
/// line that must be correlated with others about the same value: the
/// first 12 hex digits of its SHA-256. Unkeyed, so it is the same in every
/// process and release; a value from a small space (a phone number) can
/// be found from its hash by trying them all, so it is a pseudonym, not
/// anonymisation.
pub fn pii_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// A provider's message id as logged. Meta's `wamid.…` ids encode the
/// customer's phone number (base64), so they are logged as
/// `wamid#<pii_hash>`; other ids (Twilio SIDs, Gmail and Slack ids, our
/// own UUIDs) as they are.
pub fn provider_id(id: &str) -> Cow<'_, str> {
    if id.starts_with("wamid.") { Cow::Owned(format!("wamid#{}", pii_hash(id))) } else { Cow::Borrowed(id) }
}

/// Displays a value with the email addresses and phone numbers in its text
/// replaced by `<email#hash>` and `<phone#hash>` ([`pii_hash`] of the
/// match): for error texts that may quote what a provider or a customer
/// sent. Names and free text cannot be recognised, so this is a net under
/// the rule that such values are never put in an error that is logged.
pub struct Redacted<T>(pub T);

impl<T: fmt::Display> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0.to_string()))
    }
}

/// Email addresses, also percent-encoded (`%40`) as in a URL.
static EMAIL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)[a-z0-9._%+\-]+(?:@|%40)[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}").ok());

/// `text` with email addresses and phone numbers replaced (see [`Redacted`]).
/// A phone number is a run of 7 to 15 digits after `+` (or `%2B`), or a
/// run of 10 to 15 digits standing alone (WhatsApp ids have no `+`); a run
/// inside a word (a hex id) or the 12-digit tail of a UUID is left alone.
pub fn redact(text: &str) -> Cow<'_, str> {
    let emails = match EMAIL.as_ref() {
        Some(re) if re.is_match(text) => Cow::Owned(
            re.replace_all(text, |c: &regex::Captures<'_>| format!("<email#{}>", pii_hash(&c[0]))).into_owned(),
        ),
        _ => Cow::Borrowed(text),
    };
    match redact_phones(&emails) {
        Some(done) => Cow::Owned(done),
        None => emails,
    }
}

/// `text` with its phone numbers replaced, or `None` when it has none.
fn redact_phones(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let digits = i - start;
        let before = &text[..start];
        let plus = if before.ends_with('+') {
            Some(start - 1)
        } else if before.len() >= 3 && before.as_bytes()[before.len() - 3..].eq_ignore_ascii_case(b"%2b") {
            Some(start - 3)
        } else {
            None
        };
        let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'#'));
        let alone = !word(before.as_bytes().last()) && !word(bytes.get(i));
        let uuid_tail = digits == 12 && before.ends_with('-');
        let from = match plus {
            Some(p) if (7..=15).contains(&digits) => p,
            None if alone && !uuid_tail && (10..=15).contains(&digits) => start,
            _ => continue,
        };
        out.push_str(&text[copied..from]);
        out.push_str(&format!("<phone#{}>", pii_hash(&text[start..i])));
        copied = i;
    }
    (copied > 0).then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_short_and_stable() {
        assert_eq!(pii_hash("+15550199101").len(), 12);
        assert_eq!(pii_hash("a@example.com"), pii_hash("a@example.com"));
        assert_ne!(pii_hash("a@example.com"), pii_hash("b@example.com"));
    }

    #[test]
    fn wamids_are_hashed_other_ids_kept() {
        assert!(provider_id("wamid.HBgLMTU1NTAxOTkxMDIVAgASGBQ=").starts_with("wamid#"));
        assert_eq!(provider_id("SM0123456789abcdef"), "SM0123456789abcdef");
    }

    #[test]
    fn addresses_and_numbers_are_redacted() {
        let text = "The 'To' number whatsapp:+15550199101 is not valid; sent to Jo.Doe+x@Example.co.uk, \
                    url ?To=whatsapp%3A%2B15550199101&u=jo%40example.com, wa_id 15550199101";
        let out = redact(text);
        for gone in ["5550199101", "Jo.Doe", "Example.co.uk", "jo%40example"] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("whatsapp:<phone#"), "{out}");
        assert!(out.contains("<email#"), "{out}");
    }

    #[test]
    fn ids_and_counts_are_kept() {
        for kept in [
            "message 0190f3c2-7d2e-7a8b-9c4d-123456789012 failed",
            "SM1555019910123456789abcdef012345 at offset 1234567",
            "HTTP 429 after 3 attempts, 1600 characters",
        ] {
            assert_eq!(redact(kept), kept);
        }
    }
}
