//! Fetching one message: `users.messages.get`
//! (developers.google.com/gmail/api/reference/rest/v1/users.messages/get and
//! the `Message` resource). With `format=raw` (`message_get_raw`): `{"id",
//! "threadId", "labelIds", "snippet", "historyId", "internalDate" (epoch ms
//! as a string), "sizeEstimate", "raw" (the RFC 2822 message,
//! base64url)}`; the MIME inside `raw` is read by `mime` and `email`. With
//! `format=metadata&metadataHeaders=…` (`message_get_metadata`): the same
//! fields without `raw`, and `"payload": {"mimeType", "headers": [{"name",
//! "value"}]}` holding only the asked headers, values unfolded, names as
//! the message wrote them (so looked up case-insensitively): how a sent
//! reply is recognised by its `X-FTE-Reply-Id`. Owns `FetchedMessage` and
//! `MessageMetadata`.

use super::api::{ApiError, GmailApi, check_id, check_status, parse_json};
use super::b64;
use super::oauth::AccessToken;
use super::push::parse_history_id;
use super::urlenc;
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

    /// `users.messages.get?format=metadata` of message `id`, with only the
    /// `headers` named (`metadataHeaders`, repeated, in order).
    pub fn message_get_metadata(
        &self,
        token: &AccessToken,
        id: &str,
        headers: &[&str],
    ) -> Result<ProviderRequest, ApiError> {
        check_id("message id", id)?;
        let mut path = format!("messages/{id}?format=metadata");
        for name in headers {
            // RFC 5322 §3.6.8: a field name is printable ASCII but `:`.
            let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
            if !ok {
                return Err(ApiError::BadId { what: "header name", value: name.chars().take(200).collect() });
            }
            path.push_str("&metadataHeaders=");
            path.push_str(&urlenc::component(name));
        }
        Ok(self.get(token, self.user_url(&path)))
    }
}

/// A message as `messages.get?format=metadata` returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMetadata {
    pub id: String,
    pub thread_id: Option<String>,
    pub label_ids: Vec<String>,
    /// When Gmail received it (`internalDate`).
    pub internal_date: Option<DateTime<Utc>>,
    /// The asked headers as `(name, value)`, names as written.
    pub headers: Vec<(String, String)>,
}

impl MessageMetadata {
    /// The values of every header named `name` (any case), in order.
    pub fn header_values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetadataBody {
    id: Option<String>,
    thread_id: Option<String>,
    #[serde(default)]
    label_ids: Vec<String>,
    internal_date: Option<Value>,
    payload: Option<PayloadBody>,
}

#[derive(Deserialize)]
struct PayloadBody {
    #[serde(default)]
    headers: Vec<HeaderBody>,
}

#[derive(Deserialize)]
struct HeaderBody {
    name: Option<String>,
    value: Option<String>,
}

/// Reads `messages.get?format=metadata`'s answer. A 404 (the message was
/// deleted since it was listed) is a permanent `ApiError::Google`. A 2xx
/// without an id is `BadResponse`; one without `payload` or `headers`
/// (the message has none of the asked headers) has no headers.
pub fn parse_message_metadata_response(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<MessageMetadata, ApiError> {
    check_status(http_status, retry_after, body)?;
    let m: MetadataBody = parse_json(body)?;
    let id = m.id.filter(|s| !s.is_empty()).ok_or_else(|| ApiError::BadResponse("no message id".into()))?;
    let headers = m
        .payload
        .map(|p| p.headers)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|h| Some((h.name.filter(|n| !n.is_empty())?, h.value.unwrap_or_default())))
        .collect();
    Ok(MessageMetadata {
        id,
        thread_id: m.thread_id.filter(|s| !s.is_empty()),
        label_ids: m.label_ids,
        internal_date: internal_date(m.internal_date.as_ref()),
        headers,
    })
}

fn internal_date(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value.and_then(parse_history_id).and_then(|ms| i64::try_from(ms).ok()).and_then(DateTime::from_timestamp_millis)
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
    let internal_date = internal_date(m.internal_date.as_ref());
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

    #[test]
    fn builds_the_metadata_get() {
        let api = GmailApi::new("https://gmail.googleapis.com", "support@acme.com").unwrap();
        let tok = AccessToken::new("ya29.t", Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()).unwrap();
        let r = api.message_get_metadata(&tok, "18c9f2a4b7e3d001", &["X-FTE-Reply-Id", "Message-ID"]).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "https://gmail.googleapis.com/gmail/v1/users/support%40acme.com/messages/18c9f2a4b7e3d001?format=metadata&metadataHeaders=X-FTE-Reply-Id&metadataHeaders=Message-ID"
        );
        assert_eq!(r.authorization, "Bearer ya29.t");
        assert_eq!(r.body, "");
        assert!(api.message_get_metadata(&tok, "../x", &["Message-ID"]).is_err());
        for bad in ["", "X Y", "X:Y", "X\r\nY", "Grüße"] {
            assert!(matches!(api.message_get_metadata(&tok, "18c9", &[bad]), Err(ApiError::BadId { .. })), "{bad:?}");
        }
    }

    #[test]
    fn parses_the_metadata_get() {
        // As Gmail answers it: only the asked headers, names as the message wrote them.
        let body = br#"{
          "id": "18c9f3b5c8f4e002",
          "threadId": "18c9f0e1d2c3b4a5",
          "labelIds": ["SENT"],
          "snippet": "Hi Jo, invoices export from Reports &gt; Export",
          "payload": {
            "partId": "",
            "mimeType": "text/plain",
            "filename": "",
            "headers": [
              {"name": "Message-Id", "value": "<CAKx9f3Q2mWv+1b@mail.gmail.com>"},
              {"name": "x-fte-reply-id", "value": "0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57"}
            ],
            "body": {"size": 61}
          },
          "sizeEstimate": 912,
          "historyId": "982734",
          "internalDate": "1796606198000"
        }"#;
        let m = parse_message_metadata_response(200, None, body).unwrap();
        assert_eq!((m.id.as_str(), m.thread_id.as_deref()), ("18c9f3b5c8f4e002", Some("18c9f0e1d2c3b4a5")));
        assert_eq!(m.label_ids, ["SENT"]);
        assert_eq!(m.internal_date, Some(Utc.with_ymd_and_hms(2026, 12, 7, 1, 16, 38).unwrap()));
        assert_eq!(m.header("X-FTE-Reply-Id"), Some("0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57"));
        assert_eq!(m.header("message-id"), Some("<CAKx9f3Q2mWv+1b@mail.gmail.com>"));
        assert_eq!(m.header("References"), None);
        // None of the asked headers: Gmail leaves `headers` out.
        let bare = br#"{"id":"18c9","threadId":"18c9","labelIds":["SENT"],"payload":{"mimeType":"text/plain"}}"#;
        let m = parse_message_metadata_response(200, None, bare).unwrap();
        assert!(m.headers.is_empty() && m.header("X-FTE-Reply-Id").is_none());
        assert!(matches!(parse_message_metadata_response(200, None, b"{}"), Err(ApiError::BadResponse(_))));
        assert!(matches!(parse_message_metadata_response(200, None, b"<html>"), Err(ApiError::BadResponse(_))));
        let e = parse_message_metadata_response(404, None, br#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","errors":[{"domain":"global","reason":"notFound","message":"Requested entity was not found."}]}}"#).unwrap_err();
        assert!(!e.retryable() && e.http_status() == Some(404));
        assert!(parse_message_metadata_response(503, Some("2"), b"").unwrap_err().retryable());
        assert!(parse_message_metadata_response(401, None, b"").unwrap_err().unauthorized());
    }
}
