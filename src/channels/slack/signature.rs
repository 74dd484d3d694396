//! Slack request signing, checked as slack_sdk's `SignatureVerifier` (Python,
//! 3.x) does it and as "Verifying requests from Slack"
//! (docs.slack.dev/authentication/verifying-requests-from-slack) documents:
//! the basestring is `v0:{X-Slack-Request-Timestamp}:{raw body}`, its
//! HMAC-SHA256 under the app's signing secret is sent, lower-case hex, as
//! `X-Slack-Signature: v0=<hex>`; a timestamp more than 5 minutes from now,
//! in either direction, is refused (replay protection), exactly 300 s is
//! still accepted. The comparison is constant-time (`ring::hmac::verify`).
//! Owns `SigningSecret`, `SignatureVerifier` and `SignatureError`.
//!
//! Deviations from the SDK, on inputs Slack does not send: the timestamp
//! must be plain ASCII digits (Python's `int()` also takes `+`, `-`, `_` and
//! surrounding spaces), and a body that is not UTF-8 is signed as the raw
//! bytes it is (the SDK raises on it); the body parser refuses it anyway.
//! Upper-case hex is refused, as by the SDK's string comparison.

use chrono::{DateTime, Utc};
use ring::hmac;
use std::fmt;

/// The header carrying the Unix time (seconds) Slack signed the request at.
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// The header carrying `v0=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// How far, in seconds, a request's timestamp may be from now.
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;

const VERSION_PREFIX: &str = "v0=";
const NANOS_PER_SECOND: i128 = 1_000_000_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the Slack signing secret is empty")]
    EmptySecret,
    #[error("the request has no X-Slack-Request-Timestamp header")]
    MissingTimestamp,
    #[error("the request has no X-Slack-Signature header")]
    MissingSignature,
    #[error("X-Slack-Request-Timestamp {0:?} is not a Unix time in seconds")]
    BadTimestamp(String),
    #[error(
        "X-Slack-Request-Timestamp {timestamp} is {} s {} our clock: more than 5 minutes (a replay, or a clock out of sync)",
        .age_seconds.unsigned_abs(),
        if *.age_seconds >= 0 { "behind" } else { "ahead of" }
    )]
    Stale { timestamp: i64, age_seconds: i64 },
    #[error("X-Slack-Signature is not v0= followed by 64 lower-case hex digits")]
    Malformed,
    #[error("X-Slack-Signature does not match the request (wrong signing secret, or an altered body)")]
    Mismatch,
}

/// An app's signing secret (Slack app settings > Basic Information > App
/// Credentials). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    /// Refuses a blank secret, as the SDK does: anyone could sign with it.
    pub fn new(secret: impl Into<String>) -> Result<Self, SignatureError> {
        let secret = secret.into();
        if secret.trim().is_empty() {
            return Err(SignatureError::EmptySecret);
        }
        Ok(Self(secret))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Checks Slack request signatures for one app.
#[derive(Clone)]
pub struct SignatureVerifier {
    key: hmac::Key,
}

impl fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignatureVerifier { signing_secret: <redacted> }")
    }
}

impl SignatureVerifier {
    pub fn new(secret: &SigningSecret) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes()) }
    }

    /// The `X-Slack-Signature` value Slack sends for `timestamp` and the raw
    /// `body` (the SDK's `generate_signature`).
    pub fn generate_signature(&self, timestamp: &str, body: &[u8]) -> String {
        let tag = self.context(timestamp, body).sign();
        let mut out = String::with_capacity(VERSION_PREFIX.len() + 64);
        out.push_str(VERSION_PREFIX);
        for b in tag.as_ref() {
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
        out
    }

    /// Checks a request: `timestamp` and `signature` are the
    /// `X-Slack-Request-Timestamp` and `X-Slack-Signature` headers (`None`
    /// if absent), `body` the raw bytes as received, `now` the current
    /// time. The timestamp is checked first, so a replayed request costs no
    /// HMAC.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), SignatureError> {
        let timestamp = timestamp.filter(|t| !t.is_empty()).ok_or(SignatureError::MissingTimestamp)?;
        let signature = signature.filter(|s| !s.is_empty()).ok_or(SignatureError::MissingSignature)?;
        check_freshness(timestamp, now)?;
        let tag = decode_signature(signature).ok_or(SignatureError::Malformed)?;
        let mut message = Vec::with_capacity(timestamp.len() + body.len() + 4);
        message.extend_from_slice(b"v0:");
        message.extend_from_slice(timestamp.as_bytes());
        message.push(b':');
        message.extend_from_slice(body);
        // ring compares in constant time.
        hmac::verify(&self.key, &message, &tag).map_err(|_| SignatureError::Mismatch)
    }

    fn context(&self, timestamp: &str, body: &[u8]) -> hmac::Context {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"v0:");
        ctx.update(timestamp.as_bytes());
        ctx.update(b":");
        ctx.update(body);
        ctx
    }
}

/// Refuses a timestamp that is not digits, or more than `MAX_SKEW_SECONDS`
/// from `now` (compared to the nanosecond, as the SDK compares against a
/// float clock: 300.5 s is too far).
fn check_freshness(timestamp: &str, now: DateTime<Utc>) -> Result<(), SignatureError> {
    if !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::BadTimestamp(timestamp.chars().take(40).collect()));
    }
    let now_ns = i128::from(now.timestamp()) * NANOS_PER_SECOND + i128::from(now.timestamp_subsec_nanos());
    let Ok(ts) = timestamp.parse::<i64>() else {
        // All digits but beyond i64: some time far in the future.
        return Err(SignatureError::Stale { timestamp: i64::MAX, age_seconds: i64::MIN });
    };
    let age_ns = now_ns - i128::from(ts) * NANOS_PER_SECOND;
    if age_ns.abs() > i128::from(MAX_SKEW_SECONDS) * NANOS_PER_SECOND {
        let age_seconds = i64::try_from(age_ns / NANOS_PER_SECOND).unwrap_or(i64::MIN);
        return Err(SignatureError::Stale { timestamp: ts, age_seconds });
    }
    Ok(())
}

/// `v0=` and 64 lower-case hex digits, as the 32 bytes they spell.
fn decode_signature(signature: &str) -> Option<[u8; 32]> {
    let hex = signature.strip_prefix(VERSION_PREFIX)?.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(if nibble < 10 { b'0' + nibble } else { b'a' + nibble - 10 })
}

#[cfg(test)]
mod tests {
    //! `signature_vectors.json` was produced with the official SDK, slack_sdk
    //! 3.47.0 from PyPI, by tests/clients/slack_signature_vectors.py:
    //! `signatures` are `SignatureVerifier(secret).generate_signature(...)`
    //! (each also accepted by the SDK's `is_valid` at its own timestamp),
    //! `checks` are `is_valid`'s answers with the clock frozen at `now`.

    use super::*;
    use chrono::TimeZone;
    use serde::Deserialize;

    const VECTORS: &str = include_str!("signature_vectors.json");

    #[derive(Deserialize)]
    struct Vectors {
        signatures: Vec<Signed>,
        checks: Vec<Check>,
    }

    #[derive(Deserialize)]
    struct Signed {
        secret: String,
        timestamp: String,
        body: String,
        signature: String,
    }

    #[derive(Deserialize)]
    struct Check {
        label: String,
        secret: String,
        timestamp: String,
        body: String,
        signature: String,
        now: f64,
        valid: bool,
    }

    fn vectors() -> Vectors {
        serde_json::from_str(VECTORS).unwrap()
    }

    fn verifier(secret: &str) -> SignatureVerifier {
        SignatureVerifier::new(&SigningSecret::new(secret).unwrap())
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn at_f64(secs: f64) -> DateTime<Utc> {
        let whole = secs.floor();
        Utc.timestamp_opt(whole as i64, ((secs - whole) * 1e9).round() as u32).unwrap()
    }

    // Slack's published example ("Verifying requests from Slack").
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TS: &str = "1531420618";
    const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow\
        &channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner\
        &command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands\
        %2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN\
        &trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_published_example() {
        let v = verifier(DOC_SECRET);
        assert_eq!(v.generate_signature(DOC_TS, DOC_BODY.as_bytes()), DOC_SIG);
        let now = at(1_531_420_618 + 60);
        assert_eq!(v.verify(Some(DOC_TS), Some(DOC_SIG), DOC_BODY.as_bytes(), now), Ok(()));
    }

    #[test]
    fn matches_every_slack_sdk_signature() {
        let vectors = vectors();
        assert!(vectors.signatures.len() >= 100);
        for s in &vectors.signatures {
            let v = verifier(&s.secret);
            let body = s.body.as_bytes();
            assert_eq!(v.generate_signature(&s.timestamp, body), s.signature, "{:?} {:?}", s.timestamp, s.body);
            let now = at(s.timestamp.parse().unwrap());
            assert_eq!(v.verify(Some(&s.timestamp), Some(&s.signature), body, now), Ok(()));
        }
    }

    #[test]
    fn rejects_tampered_copies_of_every_sdk_signature() {
        for s in &vectors().signatures {
            let v = verifier(&s.secret);
            let now = at(s.timestamp.parse().unwrap());
            let mut body = s.body.clone().into_bytes();
            body.push(b' ');
            assert_eq!(v.verify(Some(&s.timestamp), Some(&s.signature), &body, now), Err(SignatureError::Mismatch));
            let other_ts = (s.timestamp.parse::<i64>().unwrap() + 1).to_string();
            let r = v.verify(Some(&other_ts), Some(&s.signature), s.body.as_bytes(), now);
            assert_eq!(r, Err(SignatureError::Mismatch));
            // Flip one hex digit, keeping it lower-case hex.
            let mut sig = s.signature.clone().into_bytes();
            let last = sig.len() - 1;
            sig[last] = if sig[last] == b'0' { b'1' } else { b'0' };
            let sig = String::from_utf8(sig).unwrap();
            let r = v.verify(Some(&s.timestamp), Some(&sig), s.body.as_bytes(), now);
            assert_eq!(r, Err(SignatureError::Mismatch));
            let other = verifier(&format!("{}-", s.secret));
            let r = other.verify(Some(&s.timestamp), Some(&s.signature), s.body.as_bytes(), now);
            assert_eq!(r, Err(SignatureError::Mismatch));
        }
    }

    #[test]
    fn agrees_with_slack_sdk_is_valid() {
        let checks = vectors().checks;
        assert!(checks.iter().any(|c| c.valid) && checks.iter().any(|c| !c.valid));
        for c in checks {
            let r =
                verifier(&c.secret).verify(Some(&c.timestamp), Some(&c.signature), c.body.as_bytes(), at_f64(c.now));
            assert_eq!(r.is_ok(), c.valid, "{}: {r:?}", c.label);
        }
    }

    #[test]
    fn five_minute_window_edges_both_ways() {
        let v = verifier(DOC_SECRET);
        let body = DOC_BODY.as_bytes();
        let ts = 1_531_420_618_i64;
        let check = |now: DateTime<Utc>| v.verify(Some(DOC_TS), Some(DOC_SIG), body, now);
        assert_eq!(check(at(ts + 300)), Ok(()));
        assert_eq!(check(at(ts - 300)), Ok(()));
        assert_eq!(check(at(ts + 301)), Err(SignatureError::Stale { timestamp: ts, age_seconds: 301 }));
        assert_eq!(check(at(ts - 301)), Err(SignatureError::Stale { timestamp: ts, age_seconds: -301 }));
        // Sub-second: 300.001 s is already too far, as with the SDK's float clock.
        let just_over = at(ts + 300) + chrono::Duration::milliseconds(1);
        assert!(matches!(check(just_over), Err(SignatureError::Stale { .. })));
        let just_under = at(ts - 300) - chrono::Duration::milliseconds(1);
        assert!(matches!(check(just_under), Err(SignatureError::Stale { .. })));
        // A day-old replay with a valid signature is still refused.
        assert!(matches!(check(at(ts + 86_400)), Err(SignatureError::Stale { .. })));
    }

    #[test]
    fn stale_messages_say_which_way() {
        let late = SignatureError::Stale { timestamp: 10, age_seconds: 400 }.to_string();
        assert!(late.contains("400 s behind"), "{late}");
        let early = SignatureError::Stale { timestamp: 10, age_seconds: -400 }.to_string();
        assert!(early.contains("400 s ahead of"), "{early}");
    }

    #[test]
    fn missing_headers_are_distinct_errors() {
        let v = verifier(DOC_SECRET);
        let b = DOC_BODY.as_bytes();
        let now = at(1_531_420_618);
        assert_eq!(v.verify(None, Some(DOC_SIG), b, now), Err(SignatureError::MissingTimestamp));
        assert_eq!(v.verify(Some(""), Some(DOC_SIG), b, now), Err(SignatureError::MissingTimestamp));
        assert_eq!(v.verify(Some(DOC_TS), None, b, now), Err(SignatureError::MissingSignature));
        assert_eq!(v.verify(Some(DOC_TS), Some(""), b, now), Err(SignatureError::MissingSignature));
    }

    #[test]
    fn non_numeric_timestamps_are_refused() {
        let v = verifier(DOC_SECRET);
        let b = DOC_BODY.as_bytes();
        let now = at(1_531_420_618);
        for ts in ["abc", "1531420618.5", " 1531420618", "+1531420618", "-5", "1_531_420_618", "１２３"] {
            assert!(matches!(v.verify(Some(ts), Some(DOC_SIG), b, now), Err(SignatureError::BadTimestamp(_))), "{ts}");
        }
        // Digits beyond i64: far in the future, not a panic.
        let huge = "99999999999999999999999999";
        assert!(matches!(v.verify(Some(huge), Some(DOC_SIG), b, now), Err(SignatureError::Stale { .. })));
        let r = v.verify(Some("9223372036854775807"), Some(DOC_SIG), b, now);
        assert!(matches!(r, Err(SignatureError::Stale { .. })));
        assert!(matches!(v.verify(Some("0"), Some(DOC_SIG), b, now), Err(SignatureError::Stale { .. })));
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let v = verifier(DOC_SECRET);
        let b = DOC_BODY.as_bytes();
        let now = at(1_531_420_618);
        let upper = format!("v0={}", DOC_SIG[3..].to_uppercase());
        let v1 = DOC_SIG.replace("v0=", "v1=");
        for sig in [&DOC_SIG[3..], &v1, &upper, &DOC_SIG[..DOC_SIG.len() - 2], &format!("{DOC_SIG}00"), "v0=", "v0=zz"]
        {
            assert_eq!(v.verify(Some(DOC_TS), Some(sig), b, now), Err(SignatureError::Malformed), "{sig}");
        }
    }

    #[test]
    fn non_utf8_bodies_are_signed_as_raw_bytes() {
        let v = verifier("secret");
        let body = [0xff, 0xfe, b'{', 0x80];
        let sig = v.generate_signature("1700000000", &body);
        assert_eq!(v.verify(Some("1700000000"), Some(&sig), &body, at(1_700_000_000)), Ok(()));
    }

    #[test]
    fn multi_megabyte_bodies_verify() {
        let v = verifier("secret");
        let body = "x".repeat(5 * 1024 * 1024);
        let sig = v.generate_signature("1700000000", body.as_bytes());
        assert_eq!(v.verify(Some("1700000000"), Some(&sig), body.as_bytes(), at(1_700_000_000)), Ok(()));
    }

    #[test]
    fn secrets_are_never_printed() {
        let secret = SigningSecret::new(DOC_SECRET).unwrap();
        assert!(!format!("{secret:?}").contains("8f74"));
        assert!(!format!("{:?}", SignatureVerifier::new(&secret)).contains("8f74"));
        assert_eq!(SigningSecret::new("  "), Err(SignatureError::EmptySecret));
        assert_eq!(SigningSecret::new(""), Err(SignatureError::EmptySecret));
    }
}
