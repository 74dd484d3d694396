//! Sending a composed reply: `users.messages.send`
//! (developers.google.com/gmail/api/reference/rest/v1/users.messages/send
//! and the "Sending email" guide): `POST
//! {base}/gmail/v1/users/{userId}/messages/send` with `{"raw":
//! "<base64url RFC 2822>", "threadId": "…"}` (the thread id keeps the
//! reply in the customer's conversation, together with matching
//! `References`/`In-Reply-To` and subject). The answer is the sent
//! `Message` (`{"id", "threadId", "labelIds": ["SENT"]}`). Gmail has no
//! delivery callbacks: an accepted send is `DeliveryStatus::Sent`. Owns
//! `SentMessage`.

use super::api::{ApiError, GmailApi, check_id, check_status, parse_json};
use super::oauth::AccessToken;
use crate::channels::{DeliveryStatus, ProviderRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use serde::Deserialize;
use serde_json::json;

impl GmailApi {
    /// `users.messages.send` of `raw` (from `compose::compose_reply`) in
    /// `thread_id`, if the reply belongs to one.
    pub fn send_message(
        &self,
        token: &AccessToken,
        raw: &str,
        thread_id: Option<&str>,
    ) -> Result<ProviderRequest, ApiError> {
        let mut body = json!({ "raw": URL_SAFE.encode(raw) });
        if let Some(t) = thread_id {
            check_id("thread id", t)?;
            body["threadId"] = json!(t);
        }
        Ok(self.post_json(token, self.user_url("messages/send"), &body))
    }
}

/// Gmail's acceptance of a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    /// The sent message's Gmail id: the outbound row's `external_id`.
    pub id: String,
    pub thread_id: Option<String>,
    pub label_ids: Vec<String>,
}

impl SentMessage {
    pub fn delivery_status(&self) -> DeliveryStatus {
        DeliveryStatus::Sent
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentBody {
    id: Option<String>,
    thread_id: Option<String>,
    #[serde(default)]
    label_ids: Vec<String>,
}

/// Reads `messages.send`'s answer. A 2xx without an id is `BadResponse`
/// (not retryable: the message may have gone out).
pub fn parse_send_response(http_status: u16, retry_after: Option<&str>, body: &[u8]) -> Result<SentMessage, ApiError> {
    check_status(http_status, retry_after, body)?;
    let b: SentBody = parse_json(body)?;
    let id = b.id.filter(|i| !i.is_empty()).ok_or_else(|| ApiError::BadResponse("no message id".into()))?;
    Ok(SentMessage { id, thread_id: b.thread_id, label_ids: b.label_ids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::Value;

    #[test]
    fn builds_the_send_request() {
        let api = GmailApi::new("https://gmail.googleapis.com", "support@acme.com").unwrap();
        let tok = AccessToken::new("ya29.x", Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()).unwrap();
        let raw = "From: a@b.co\r\nSubject: ??>\r\n\r\nhi\r\n";
        let r = api.send_message(&tok, raw, Some("18c0")).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://gmail.googleapis.com/gmail/v1/users/support%40acme.com/messages/send");
        assert_eq!(r.authorization, "Bearer ya29.x");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["threadId"], "18c0");
        let encoded = body["raw"].as_str().unwrap();
        assert!(!encoded.contains(['+', '/']));
        assert_eq!(URL_SAFE.decode(encoded).unwrap(), raw.as_bytes());
        let r = api.send_message(&tok, raw, None).unwrap();
        assert!(serde_json::from_str::<Value>(&r.body).unwrap().get("threadId").is_none());
        assert!(api.send_message(&tok, raw, Some("a b")).is_err());
    }

    #[test]
    fn parses_send_answers() {
        let s = parse_send_response(200, None, br#"{"id":"18c9","threadId":"18c0","labelIds":["SENT"]}"#).unwrap();
        assert_eq!((s.id.as_str(), s.thread_id.as_deref()), ("18c9", Some("18c0")));
        assert_eq!(s.delivery_status(), DeliveryStatus::Sent);
        let e = parse_send_response(200, None, b"{}").unwrap_err();
        assert!(matches!(e, ApiError::BadResponse(_)) && !e.retryable());
        let e = parse_send_response(200, None, b"garbage").unwrap_err();
        assert!(!e.retryable());
        let e = parse_send_response(400, None, br#"{"error":{"code":400,"message":"Invalid To header","status":"INVALID_ARGUMENT","errors":[{"reason":"invalidArgument"}]}}"#).unwrap_err();
        assert!(!e.retryable() && !e.unauthorized());
        let e = parse_send_response(403, Some("10"), br#"{"error":{"code":403,"message":"User-rate limit exceeded.","errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded"}]}}"#).unwrap_err();
        assert!(e.retryable());
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(10)));
        assert!(parse_send_response(401, None, b"").unwrap_err().unauthorized());
        assert!(
            parse_send_response(500, None, br#"{"error":{"code":500,"errors":[{"reason":"backendError"}]}}"#)
                .unwrap_err()
                .retryable()
        );
    }
}
