//! Reading the Cloud API's answer to a send: success is
//! `{"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],
//! "messages":[{"id":"wamid.…","message_status":"accepted"}]}`; failure is
//! a Graph API error body `{"error":{"message","type","code",
//! "error_subcode","error_data":{"messaging_product","details"},
//! "fbtrace_id"}}` (Meta "Cloud API — Error codes" and "Graph API —
//! Handling errors"). Owns `SendResponse`, `GraphApiError`,
//! `parse_send_response` and the retry decision on `OutboundError`.
//!
//! Classification, by Meta error code first (Meta recommends `code` over
//! HTTP status and subcode): throttling — 4 (app call limit), 80007 (WABA
//! rate limit), 130429 (Cloud API throughput), 131048 (spam rate limit),
//! 131056 (same-recipient pair rate limit) — and temporary failures — 1
//! (API unknown), 2 (API service, temporary), 131000 (something went
//! wrong), 131016 (service unavailable) — are retryable. Known permanent
//! codes are not, whatever the HTTP status: 0 and 190 (authentication,
//! expired token), 3 and 10 and 200–299 (permissions), 100 (invalid
//! parameter), 368 (policy block), 131026 (undeliverable), 131031 (account
//! locked), 131047 (re-engagement: outside the 24-hour window; see
//! `outside_service_window`), 131051 (unsupported type). Any other code:
//! retryable only on HTTP 429 or 5xx. A 2xx whose body cannot be read is
//! never retryable: the message may have been sent. Meta does not
//! document a `Retry-After` on these answers; one is honoured if present
//! (delta-seconds only).

use super::outbound::OutboundError;
use super::status::RE_ENGAGEMENT_CODE;
use crate::channels::delivery::DeliveryStatus;
use serde_json::Value;
use std::time::Duration;

const RETRYABLE_CODES: &[i64] = &[1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056];
const PERMANENT_CODES: &[i64] = &[0, 3, 10, 100, 190, 368, 131026, 131031, RE_ENGAGEMENT_CODE, 131051];
const AUTH_CODES: &[i64] = &[0, 190];
/// A longer `Retry-After` is treated as absent (never wait a day).
const MAX_RETRY_AFTER_SECS: u64 = 3600;

/// A Graph API error body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphApiError {
    /// Meta's error code in parentheses after a hash sign, then its title
    /// (for code 131047: `Re-engagement message`).
    pub message: String,
    /// `OAuthException`, `GraphMethodException`, …
    pub error_type: Option<String>,
    pub code: Option<i64>,
    /// Deprecated by Meta (absent from v16.0 on), kept when present.
    pub error_subcode: Option<i64>,
    /// `error_data.details`: the most specific explanation.
    pub details: Option<String>,
    /// Quote it to Meta support.
    pub fbtrace_id: Option<String>,
}

impl GraphApiError {
    /// Reads `{"error": {...}}`; `None` if the body is not one.
    pub fn from_body(body: &[u8]) -> Option<Self> {
        let root: Value = serde_json::from_slice(body).ok()?;
        let e = root.get("error").filter(|e| e.is_object())?;
        let int = |k: &str| match e.get(k) {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let string = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        Some(Self {
            message: string(e.get("message")).unwrap_or_default(),
            error_type: string(e.get("type")),
            code: int("code"),
            error_subcode: int("error_subcode"),
            details: string(e.get("error_data").and_then(|d| d.get("details"))),
            fbtrace_id: string(e.get("fbtrace_id")),
        })
    }
}

/// Meta's acceptance of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResponse {
    /// `messages[0].id`: the outbound row's `external_id`, and the `id` of
    /// its status webhooks.
    pub message_id: String,
    /// `contacts[0].wa_id`: the recipient's WhatsApp id (may differ from
    /// the number sent to).
    pub wa_id: Option<String>,
    /// `messages[0].message_status` (`accepted`, `held_for_quality_assessment`,
    /// `paused`), when Meta includes it.
    pub message_status: Option<String>,
}

impl SendResponse {
    /// Accepted by Meta, not yet sent to the handset: `queued`. The status
    /// webhooks move it on.
    pub fn delivery_status(&self) -> DeliveryStatus {
        DeliveryStatus::Queued
    }
}

/// Reads the answer to a send: its HTTP status, its `Retry-After` header
/// if any, and its body.
pub fn parse_send_response(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<SendResponse, OutboundError> {
    if !(200..=299).contains(&http_status) {
        let retry_after = retry_after
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&s| s <= MAX_RETRY_AFTER_SECS)
            .map(Duration::from_secs);
        return Err(OutboundError::Api {
            http_status,
            error: GraphApiError::from_body(body).map(Box::new),
            retry_after,
        });
    }
    let bad = |why: &str| OutboundError::BadResponse(why.to_string());
    let root: Value = serde_json::from_slice(body).map_err(|e| OutboundError::BadResponse(format!("not JSON: {e}")))?;
    let first = |key: &str| root.get(key).and_then(Value::as_array).and_then(|a| a.first());
    let message = first("messages").ok_or_else(|| bad("no messages[0]"))?;
    let message_id = message
        .get("id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("no messages[0].id"))?;
    Ok(SendResponse {
        message_id: message_id.to_string(),
        wa_id: first("contacts").and_then(|c| c.get("wa_id")).and_then(Value::as_str).map(str::to_string),
        message_status: message.get("message_status").and_then(Value::as_str).map(str::to_string),
    })
}

impl OutboundError {
    /// Meta's error code, for an error answer that had one.
    pub fn code(&self) -> Option<i64> {
        match self {
            OutboundError::Api { error: Some(e), .. } => e.code,
            _ => None,
        }
    }

    /// Whether sending the same request again later may succeed (see the
    /// module notes for the codes).
    pub fn retryable(&self) -> bool {
        let OutboundError::Api { http_status, .. } = self else { return false };
        match self.code() {
            Some(c) if RETRYABLE_CODES.contains(&c) => true,
            Some(c) if PERMANENT_CODES.contains(&c) || (200..=299).contains(&c) => false,
            _ => *http_status == 429 || (500..=599).contains(http_status),
        }
    }

    /// How long Meta asked to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            OutboundError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether Meta refused a free-form message because the customer last
    /// wrote more than 24 hours ago (131047): send a template instead.
    pub fn outside_service_window(&self) -> bool {
        self.code() == Some(RE_ENGAGEMENT_CODE)
    }

    /// Whether the access token is expired or invalid (0, 190, or HTTP 401
    /// without a code): an operator must replace it.
    pub fn auth_failure(&self) -> bool {
        match (self, self.code()) {
            (_, Some(c)) => AUTH_CODES.contains(&c),
            (OutboundError::Api { http_status: 401, .. }, None) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_success() {
        let body = br#"{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","message_status":"accepted"}]}"#;
        let r = parse_send_response(200, None, body).unwrap();
        assert_eq!(
            r,
            SendResponse {
                message_id: "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA".into(),
                wa_id: Some("16505551234".into()),
                message_status: Some("accepted".into()),
            }
        );
        assert_eq!(r.delivery_status(), DeliveryStatus::Queued);
        let minimal = parse_send_response(200, None, br#"{"messages":[{"id":"wamid.X"}]}"#).unwrap();
        assert_eq!((minimal.wa_id, minimal.message_status), (None, None));
    }

    #[test]
    fn unreadable_success_is_not_retryable() {
        for body in [&b""[..], b"<html>", br#"{"messages":[]}"#, br#"{"messages":[{"id":" "}]}"#, br#"{"contacts":[]}"#]
        {
            let e = parse_send_response(200, None, body).unwrap_err();
            assert!(matches!(e, OutboundError::BadResponse(_)), "{e:?}");
            assert!(!e.retryable());
            assert!(!e.outside_service_window());
        }
    }

    fn graph_error(code: i64, message: &str) -> String {
        format!(
            r#"{{"error":{{"message":"(#{code}) {message}","type":"OAuthException","code":{code},"error_data":{{"messaging_product":"whatsapp","details":"{message} details"}},"error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}}}"#
        )
    }

    #[test]
    fn parses_graph_errors() {
        let e = parse_send_response(400, None, graph_error(131047, "Re-engagement message").as_bytes()).unwrap_err();
        let OutboundError::Api { http_status: 400, error: Some(ref g), retry_after: None } = e else { panic!("{e:?}") };
        assert_eq!(g.message, format!("(#{}) Re-engagement message", 131047));
        assert_eq!(g.error_type.as_deref(), Some("OAuthException"));
        assert_eq!((g.code, g.error_subcode), (Some(131047), Some(2494055)));
        assert_eq!(g.details.as_deref(), Some("Re-engagement message details"));
        assert_eq!(g.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
        assert!(e.outside_service_window());
        assert!(!e.retryable());
        assert!(e.to_string().contains("131047"), "{e}");

        let e = parse_send_response(503, Some("<html>"), b"<html>Service Unavailable</html>").unwrap_err();
        assert!(matches!(e, OutboundError::Api { http_status: 503, error: None, retry_after: None }));
        assert!(e.retryable());
        assert!(e.to_string().contains("503"));
        assert_eq!(GraphApiError::from_body(br#"{"error":"nope"}"#), None);
        assert_eq!(GraphApiError::from_body(br#"{"error":{"code":"100"}}"#).unwrap().code, Some(100));
    }

    #[test]
    fn classifies_errors() {
        // (HTTP status, code, retryable)
        let cases = [
            (400, 130429, true),
            (429, 4, true),
            (400, 80007, true),
            (400, 131048, true),
            (400, 131056, true),
            (400, 1, true),
            (503, 2, true),
            (500, 131000, true),
            (503, 131016, true),
            (401, 190, false),
            (400, 100, false),
            (400, 131026, false),
            (400, 131047, false),
            (400, 131051, false),
            (403, 10, false),
            (403, 200, false),
            (500, 3, false),
            (403, 368, false),
            (400, 131031, false),
            (400, 132001, false),
            (500, 999_999, true),
            (429, 999_999, true),
        ];
        for (http, code, retry) in cases {
            let e = parse_send_response(http, None, graph_error(code, "x").as_bytes()).unwrap_err();
            assert_eq!(e.retryable(), retry, "HTTP {http} code {code}");
            assert_eq!(e.code(), Some(code));
            assert_eq!(e.outside_service_window(), code == 131047);
            assert_eq!(e.auth_failure(), code == 190, "{code}");
        }
        assert!(parse_send_response(401, None, b"").unwrap_err().auth_failure());
        assert!(parse_send_response(429, None, b"").unwrap_err().retryable());
        assert!(!parse_send_response(404, None, b"").unwrap_err().retryable());
        assert!(!OutboundError::EmptyBody.retryable());
        assert_eq!(OutboundError::EmptyBody.code(), None);
    }

    #[test]
    fn honours_retry_after_seconds() {
        let e = parse_send_response(429, Some(" 30 "), graph_error(130429, "Rate limit hit").as_bytes()).unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        for ignored in ["Wed, 21 Oct 2015 07:28:00 GMT", "-5", "86400", ""] {
            let e = parse_send_response(429, Some(ignored), b"").unwrap_err();
            assert_eq!(e.retry_after(), None, "{ignored}");
        }
        assert_eq!(OutboundError::EmptyBody.retry_after(), None);
    }
}
