//! Fetching one message: `users.messages.get` with `format=raw`
//! (developers.google.com/gmail/api/reference/rest/v1/users.messages/get and
//! the `Message` resource: `{"id", "threadId", "labelIds", "snippet",
//! "historyId", "internalDate" (epoch ms as a string), "sizeEstimate",
//! "raw" (the RFC 2822 message, base64url)}`). Owns `FetchedMessage`; the
//! MIME inside `raw` is read by `mime` and `email`.

use super::api::{ApiError, GmailApi, check_id, check_status, parse_json};
use super::b64;
use super::oauth::AccessToken;
use super::push::parse_history_id;
use crate::channels::ProviderRequest;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

impl GmailApi {
    /// `users.messages.get?format=raw` of message `id`.
    pub fn message_get_raw(&self, token: &AccessToken, id: &str) -> Result<ProviderRequest, ApiError> {
        check_id("message id", id)?;
        Ok(self.get(token, self.user_url(&format!("messages/{id}?format=raw"))))
    }
}

/// A message as `messages.get?format=raw` returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedMessage {
    /// Gmail's message id: the dedupe key (`external_id`).
    pub id: String,
    pub thread_id: String,
    pub label_ids: Vec<String>,
    pub history_id: Option<u64>,
    /// When Gmail received it (`internalDate`).
    pub internal_date: Option<DateTime<Utc>>,
    /// The RFC 2822 message bytes.
    pub raw: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageBody {
    id: Option<String>,
    thread_id: Option<String>,
    #[serde(default)]
    label_ids: Vec<String>,
    history_id: Option<Value>,
    internal_date: Option<Value>,
    raw: Option<String>,
}

/// Reads `messages.get`'s answer. A 404 (message deleted since the
/// notification) is a permanent `ApiError::Google`: skip the message.
pub fn parse_message_response(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<FetchedMessage, ApiError> {
    check_status(http_status, retry_after, body)?;
    let m: MessageBody = parse_json(body)?;
    let id = m.id.filter(|s| !s.is_empty()).ok_or_else(|| ApiError::BadResponse("no message id".into()))?;
    let thread_id = m.thread_id.filter(|s| !s.is_empty()).ok_or_else(|| ApiError::BadResponse("no threadId".into()))?;
    let raw = m.raw.ok_or_else(|| ApiError::BadResponse("no raw message (was format=raw requested?)".into()))?;
    let raw = b64::decode(raw.as_bytes()).map_err(|_| ApiError::BadResponse("raw is not base64url".into()))?;
    let internal_date = m
        .internal_date
        .as_ref()
        .and_then(parse_history_id)
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(DateTime::from_timestamp_millis);
    Ok(FetchedMessage {
        id,
        thread_id,
        label_ids: m.label_ids,
        history_id: m.history_id.as_ref().and_then(parse_history_id),
        internal_date,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE;
    use chrono::TimeZone;

    #[test]
    fn builds_and_parses_messages_get() {
        let api = GmailApi::new("http://127.0.0.1:9000/", "me").unwrap();
        let tok = AccessToken::new("t", Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()).unwrap();
        let r = api.message_get_raw(&tok, "18c2f4a9b7e3d001").unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9000/gmail/v1/users/me/messages/18c2f4a9b7e3d001?format=raw");
        assert!(api.message_get_raw(&tok, "../../x").is_err());

        let raw = "From: a@b.co\r\nSubject: hi?>\r\n\r\nbody\r\n";
        let body = format!(
            r#"{{"id":"18c2","threadId":"18c0","labelIds":["INBOX","UNREAD"],"snippet":"body","historyId":"9901","internalDate":"1714554000000","sizeEstimate":42,"raw":"{}"}}"#,
            URL_SAFE.encode(raw)
        );
        let m = parse_message_response(200, None, body.as_bytes()).unwrap();
        assert_eq!((m.id.as_str(), m.thread_id.as_str()), ("18c2", "18c0"));
        assert_eq!(m.label_ids, ["INBOX", "UNREAD"]);
        assert_eq!(m.history_id, Some(9901));
        assert_eq!(m.internal_date, Some(Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap()));
        assert_eq!(m.raw, raw.as_bytes());
    }

    #[test]
    fn rejects_unreadable_messages() {
        for body in [&b"{}"[..], br#"{"id":"1","threadId":"1"}"#, br#"{"id":"1","threadId":"1","raw":"***"}"#, b"x"] {
            let e = parse_message_response(200, None, body).unwrap_err();
            assert!(matches!(e, ApiError::BadResponse(_)), "{body:?}");
        }
        let e = parse_message_response(404, None, br#"{"error":{"code":404,"message":"Not Found"}}"#).unwrap_err();
        assert!(!e.retryable() && e.http_status() == Some(404));
    }
}
