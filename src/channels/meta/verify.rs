//! The webhook verification handshake: when a callback URL is configured,
//! Meta sends `GET <callback>?hub.mode=subscribe&hub.verify_token=<token>
//! &hub.challenge=<n>` and expects `200` with the challenge as the body, but
//! only if the token is the one configured in the App Dashboard (Meta
//! "Webhooks — Getting started: Verification requests"; WhatsApp Node.js
//! SDK `webhooks.start`). Owns `verify_subscription`, `parse_query` and
//! `VerifyError`; any error should be answered `403`.
//!
//! The token is compared in constant time on SHA-256 digests, so neither
//! its content nor its length leaks through timing. The challenge is echoed
//! only if it is 1 to 512 characters of `A-Z a-z 0-9 - _ . ~` (Meta sends a
//! number): an echo endpoint must never reflect markup.

use super::signature::constant_time_eq;
use sha2::{Digest, Sha256};

pub const MODE: &str = "hub.mode";
pub const VERIFY_TOKEN: &str = "hub.verify_token";
pub const CHALLENGE: &str = "hub.challenge";

const MAX_CHALLENGE_LEN: usize = 512;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("no verify token is configured for this webhook, so no subscription can be confirmed")]
    NoExpectedToken,
    #[error("the verification request has no hub.mode")]
    MissingMode,
    #[error("hub.mode is {0:?}, not \"subscribe\"")]
    WrongMode(String),
    #[error("the verification request has no hub.verify_token")]
    MissingToken,
    #[error("hub.verify_token does not match the configured verify token")]
    TokenMismatch,
    #[error("the verification request has no hub.challenge")]
    MissingChallenge,
    #[error("hub.challenge is not 1 to 512 URL-safe characters")]
    BadChallenge,
    #[error("the query string is not valid UTF-8 once decoded")]
    NotUtf8,
}

/// Checks a verification request given its decoded query pairs and the
/// verify token configured for the webhook; returns the challenge to send
/// back as the `200` body. Repeated parameters: the first one counts.
pub fn verify_subscription<K, V>(query_pairs: &[(K, V)], expected_verify_token: &str) -> Result<String, VerifyError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    if expected_verify_token.is_empty() {
        return Err(VerifyError::NoExpectedToken);
    }
    let get = |name: &str| query_pairs.iter().find(|(k, _)| k.as_ref() == name).map(|(_, v)| v.as_ref());
    let mode = get(MODE).filter(|m| !m.is_empty()).ok_or(VerifyError::MissingMode)?;
    if mode != "subscribe" {
        return Err(VerifyError::WrongMode(mode.chars().take(64).collect()));
    }
    let token = get(VERIFY_TOKEN).filter(|t| !t.is_empty()).ok_or(VerifyError::MissingToken)?;
    if !constant_time_eq(&Sha256::digest(token.as_bytes()), &Sha256::digest(expected_verify_token.as_bytes())) {
        return Err(VerifyError::TokenMismatch);
    }
    let challenge = get(CHALLENGE).filter(|c| !c.is_empty()).ok_or(VerifyError::MissingChallenge)?;
    let safe = challenge.len() <= MAX_CHALLENGE_LEN
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if !safe {
        return Err(VerifyError::BadChallenge);
    }
    Ok(challenge.to_string())
}

/// Decodes a raw query string (`a=1&b=x%20y`, with or without the leading
/// `?`) into pairs, for servers that hand over the query undecoded. `+` is
/// a space; a malformed `%` escape is kept as it is.
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, VerifyError> {
    let raw = raw.strip_prefix('?').unwrap_or(raw);
    raw.split('&')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            let (k, v) = segment.split_once('=').unwrap_or((segment, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Result<String, VerifyError> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| VerifyError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "meatballs-and-7-other-things";

    fn q(s: &str) -> Vec<(String, String)> {
        parse_query(s).unwrap()
    }

    #[test]
    fn echoes_the_challenge_for_the_right_token() {
        let pairs = q("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatballs-and-7-other-things");
        assert_eq!(verify_subscription(&pairs, TOKEN), Ok("1158201444".to_string()));
        // Borrowed pairs work too, and a leading `?` is fine.
        let borrowed = [("hub.mode", "subscribe"), ("hub.verify_token", TOKEN), ("hub.challenge", "abc-_.~9")];
        assert_eq!(verify_subscription(&borrowed, TOKEN), Ok("abc-_.~9".to_string()));
        let pairs = q("?hub.mode=subscribe&hub.verify_token=a%20b+c&hub.challenge=42");
        assert_eq!(verify_subscription(&pairs, "a b c"), Ok("42".to_string()));
    }

    #[test]
    fn refuses_bad_requests() {
        let base = |mode: &str, token: &str, challenge: &str| {
            vec![
                ("hub.mode".to_string(), mode.to_string()),
                ("hub.verify_token".to_string(), token.to_string()),
                ("hub.challenge".to_string(), challenge.to_string()),
            ]
        };
        assert_eq!(verify_subscription(&base("subscribe", TOKEN, "1"), ""), Err(VerifyError::NoExpectedToken));
        assert_eq!(verify_subscription(&base("", TOKEN, "1"), TOKEN), Err(VerifyError::MissingMode));
        assert_eq!(
            verify_subscription(&base("unsubscribe", TOKEN, "1"), TOKEN),
            Err(VerifyError::WrongMode("unsubscribe".into()))
        );
        assert_eq!(verify_subscription(&base("subscribe", "", "1"), TOKEN), Err(VerifyError::MissingToken));
        assert_eq!(verify_subscription(&base("subscribe", "wrong", "1"), TOKEN), Err(VerifyError::TokenMismatch));
        let prefix = &TOKEN[..TOKEN.len() - 1];
        assert_eq!(verify_subscription(&base("subscribe", prefix, "1"), TOKEN), Err(VerifyError::TokenMismatch));
        let longer = format!("{TOKEN}x");
        assert_eq!(verify_subscription(&base("subscribe", &longer, "1"), TOKEN), Err(VerifyError::TokenMismatch));
        assert_eq!(verify_subscription(&base("subscribe", TOKEN, ""), TOKEN), Err(VerifyError::MissingChallenge));
        for bad in ["<script>alert(1)</script>", "a b", "1\n2", &"9".repeat(513)] {
            assert_eq!(verify_subscription(&base("subscribe", TOKEN, bad), TOKEN), Err(VerifyError::BadChallenge));
        }
        assert!(verify_subscription(&base("subscribe", TOKEN, &"9".repeat(512)), TOKEN).is_ok());
        let empty: [(&str, &str); 0] = [];
        assert_eq!(verify_subscription(&empty, TOKEN), Err(VerifyError::MissingMode));
        let pairs = q("hub.mode=subscribe&hub.challenge=5");
        assert_eq!(verify_subscription(&pairs, TOKEN), Err(VerifyError::MissingToken));
    }

    #[test]
    fn the_first_of_repeated_parameters_counts() {
        let pairs = q(
            "hub.mode=subscribe&hub.verify_token=wrong&hub.verify_token=meatballs-and-7-other-things&hub.challenge=1",
        );
        assert_eq!(verify_subscription(&pairs, TOKEN), Err(VerifyError::TokenMismatch));
    }

    #[test]
    fn decodes_queries() {
        assert_eq!(
            q("a=1&&b=x%2By+z&c&d=%zz%4&e=%C3%A9"),
            [("a", "1"), ("b", "x+y z"), ("c", ""), ("d", "%zz%4"), ("e", "é")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(parse_query("a=%FF"), Err(VerifyError::NotUtf8));
        assert_eq!(parse_query(""), Ok(vec![]));
    }
}
