//! The Events API request URL's entry point: checks the signature and the
//! content type of a raw request, then hands the body to `events::parse`.
//! Slack posts every Events API payload as `Content-Type: application/json`
//! (slash commands and interactivity, which are form-encoded, are not
//! handled here). The HTTP handler answers `url_verification` with the
//! challenge, and `Message` / `Ignored` with a 200 within 3 seconds (Slack
//! retries anything slower or non-2xx); errors are the sender's fault
//! (401 for a signature, 400 otherwise). Owns `InboundError`, the one
//! error of the inbound webhook, and `parse_request`.

use super::events::{self, EventOutcome};
use super::signature::{SignatureError, SignatureVerifier};
use crate::domain::ContactError;
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InboundError {
    #[error("Slack request signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("Content-Type {0:?} is not application/json (Events API payloads are JSON)")]
    ContentType(String),
    #[error("the request body is not UTF-8 (invalid byte at offset {0})")]
    NotUtf8(usize),
    #[error("the request body is not JSON: {0}")]
    BadJson(String),
    #[error("the request body is JSON but not an object")]
    NotAnObject,
    #[error("the payload has no {0}")]
    Missing(&'static str),
    #[error("{field} should be {expected}")]
    WrongType { field: &'static str, expected: &'static str },
    #[error("{field} {value:?} is not a Slack {what}")]
    BadId { field: &'static str, value: String, what: &'static str },
    #[error("event.user: {0}")]
    BadUser(ContactError),
}

/// Verifies and parses one Events API request: `timestamp`, `signature`
/// and `content_type` are the `X-Slack-Request-Timestamp`,
/// `X-Slack-Signature` and `Content-Type` headers (`None` if absent),
/// `body` the raw bytes, `now` the current time. The signature is checked
/// first: nothing of an unsigned body is looked at.
pub fn parse_request(
    verifier: &SignatureVerifier,
    timestamp: Option<&str>,
    signature: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<EventOutcome, InboundError> {
    verifier.verify(timestamp, signature, body, now)?;
    let content_type = content_type.unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(InboundError::ContentType(content_type.chars().take(100).collect()));
    }
    events::parse(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::slack::SigningSecret;
    use chrono::TimeZone;

    const BODY: &str = r#"{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456","event":{"type":"app_mention","user":"U061F7AUR","text":"<@U0LAN0Z89> is it everything a river should be?","ts":"1515449522.000016","channel":"C123ABC456","event_ts":"1515449522.000016"},"type":"event_callback","event_id":"Ev123ABC456","event_time":1515449522}"#;

    fn verifier() -> SignatureVerifier {
        SignatureVerifier::new(&SigningSecret::new("e3b8a7c1d2f4061957a8b9c0d1e2f3a4").unwrap())
    }

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_010, 0).unwrap()
    }

    #[test]
    fn accepts_a_signed_json_event() {
        let v = verifier();
        let sig = v.generate_signature("1700000000", BODY.as_bytes());
        let out = parse_request(&v, Some("1700000000"), Some(&sig), Some("application/json"), BODY.as_bytes(), now());
        assert!(matches!(out, Ok(EventOutcome::Message(_))), "{out:?}");
        let out = parse_request(
            &v,
            Some("1700000000"),
            Some(&sig),
            Some("Application/JSON; charset=utf-8"),
            BODY.as_bytes(),
            now(),
        );
        assert!(matches!(out, Ok(EventOutcome::Message(_))), "{out:?}");
    }

    #[test]
    fn checks_the_signature_before_anything_else() {
        let v = verifier();
        let out = parse_request(&v, Some("1700000000"), Some("v0=00"), Some("text/plain"), b"\xff", now());
        assert_eq!(out, Err(InboundError::Signature(SignatureError::Malformed)));
        let sig = v.generate_signature("1700000000", BODY.as_bytes());
        let out = parse_request(&v, Some("1700000000"), Some(&sig), Some("application/json"), b"{}", now());
        assert_eq!(out, Err(InboundError::Signature(SignatureError::Mismatch)));
        let out = parse_request(&v, None, Some(&sig), Some("application/json"), BODY.as_bytes(), now());
        assert_eq!(out, Err(InboundError::Signature(SignatureError::MissingTimestamp)));
    }

    #[test]
    fn a_signed_mention_becomes_an_inbound_message() {
        use crate::domain::{Channel, TenantId};
        let body = BODY.replace(
            r#""event_time":1515449522"#,
            r#""event_time":1515449522,"authorizations":[{"team_id":"T123ABC456","user_id":"U0LAN0Z89","is_bot":true}]"#,
        );
        let v = verifier();
        let sig = v.generate_signature("1700000000", body.as_bytes());
        let out = parse_request(&v, Some("1700000000"), Some(&sig), Some("application/json"), body.as_bytes(), now());
        let Ok(EventOutcome::Message(m)) = out else { panic!("{out:?}") };
        assert_eq!(m.event_id, "Ev123ABC456");
        let tenant = TenantId::new();
        let msg = m.into_inbound_message(tenant, now());
        assert_eq!(msg.channel, Channel::Slack);
        assert_eq!(msg.external_id, "C123ABC456:1515449522.000016");
        assert_eq!(msg.body, "is it everything a river should be?");
        assert_eq!(msg.metadata["reply_thread_ts"], "1515449522.000016");
        assert_eq!(msg.metadata["team_id"], "T123ABC456");
    }

    #[test]
    fn refuses_other_content_types() {
        let v = verifier();
        let sig = v.generate_signature("1700000000", BODY.as_bytes());
        for ct in [None, Some("application/x-www-form-urlencoded"), Some("text/json"), Some("")] {
            let out = parse_request(&v, Some("1700000000"), Some(&sig), ct, BODY.as_bytes(), now());
            assert!(matches!(out, Err(InboundError::ContentType(_))), "{ct:?}: {out:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_body(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let v = verifier();
            let sig = v.generate_signature("1700000000", &body);
            let _ = parse_request(&v, Some("1700000000"), Some(&sig), Some("application/json"), &body, now());
        }

        #[test]
        fn never_panics_on_any_json_shape(text in "[{}\\[\\]\":,a-z0-9 ]{0,200}") {
            let _ = crate::channels::slack::events::parse(text.as_bytes());
        }

        #[test]
        fn never_panics_on_any_headers(ts in "\\PC{0,30}", sig in "\\PC{0,80}") {
            let _ = verifier().verify(Some(&ts), Some(&sig), b"{}", now());
        }
    }
}
