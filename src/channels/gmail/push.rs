//! Gmail push notifications, as Cloud Pub/Sub delivers them to a push
//! endpoint. Documented formats followed:
//! - Pub/Sub push body (cloud.google.com/pubsub/docs/push, "Receive
//!   messages"): `{"message": {"attributes": {}, "data": "<base64>",
//!   "messageId": "…", "message_id": "…", "publishTime": "…",
//!   "publish_time": "…"}, "subscription": "projects/…/subscriptions/…"}`
//!   — Pub/Sub sends both spellings of the id and time, so the body is
//!   read as a JSON value rather than with serde aliases (which would
//!   reject the duplicate).
//! - Gmail's payload in `data` (developers.google.com/gmail/api/guides/push,
//!   "Receiving notifications"): `{"emailAddress": "user@example.com",
//!   "historyId": "9876543210"}`; `historyId` is a uint64 that Google may
//!   write as a JSON number or string, and snake_case keys are accepted too.
//!
//! Owns `GmailNotification` and `PushError`. The push's authenticity is
//! checked separately, from its `Authorization` header (see `jwt`).

use super::b64;
use crate::domain::{ContactError, EmailAddress};
use serde_json::Value;

/// Pub/Sub caps a message at 10 MB, but a Gmail notification is about 200
/// bytes: anything larger than this is not one.
pub const MAX_PUSH_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PushError {
    #[error("the push body has {0} bytes; a Gmail notification is far smaller (limit 65536)")]
    TooLarge(usize),
    #[error("the push body is not JSON: {0}")]
    NotJson(String),
    #[error("the push body has no `message` object")]
    MissingMessage,
    #[error("the push message has no {0}")]
    Missing(&'static str),
    #[error("the push message's data is not base64")]
    BadBase64,
    #[error("the push message's data is not a JSON object: {0}")]
    DataNotJson(String),
    #[error("the notification's emailAddress: {0}")]
    BadMailbox(#[from] ContactError),
    #[error("the notification's historyId {0:?} is not an unsigned integer")]
    BadHistoryId(String),
}

/// "Something changed in `mailbox`; list its history since your last
/// `history_id`."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GmailNotification {
    /// The watched mailbox (`emailAddress`): selects the tenant.
    pub mailbox: EmailAddress,
    /// The mailbox's history id after the change. Notifications can arrive
    /// out of order and be redelivered; list history from the stored id,
    /// not from this one.
    pub history_id: u64,
    /// Pub/Sub's message id: the dedupe key of the push itself.
    pub push_message_id: String,
    /// `projects/…/subscriptions/…`, if the body named it.
    pub subscription: Option<String>,
    /// `publishTime` (RFC 3339), as sent.
    pub publish_time: Option<String>,
}

impl GmailNotification {
    /// Parses a Pub/Sub push body. Authenticate the request first.
    pub fn parse(body: &[u8]) -> Result<Self, PushError> {
        if body.len() > MAX_PUSH_BODY_BYTES {
            return Err(PushError::TooLarge(body.len()));
        }
        let envelope: Value = serde_json::from_slice(body).map_err(|e| PushError::NotJson(e.to_string()))?;
        let message = envelope.get("message").filter(|m| m.is_object()).ok_or(PushError::MissingMessage)?;
        let push_message_id =
            string_field(message, &["messageId", "message_id"]).ok_or(PushError::Missing("messageId"))?;
        let data = string_field(message, &["data"]).ok_or(PushError::Missing("data"))?;
        let decoded = b64::decode(data.as_bytes()).map_err(|_| PushError::BadBase64)?;
        let payload: Value = serde_json::from_slice(&decoded).map_err(|e| PushError::DataNotJson(e.to_string()))?;
        if !payload.is_object() {
            return Err(PushError::DataNotJson("not an object".to_string()));
        }
        let mailbox = string_field(&payload, &["emailAddress", "email_address"])
            .ok_or(PushError::Missing("emailAddress in data"))?;
        let mailbox = EmailAddress::parse(&mailbox)?;
        let history = ["historyId", "history_id"]
            .iter()
            .find_map(|k| payload.get(*k))
            .ok_or(PushError::Missing("historyId in data"))?;
        let history_id = parse_history_id(history).ok_or_else(|| PushError::BadHistoryId(history.to_string()))?;
        Ok(Self {
            mailbox,
            history_id,
            push_message_id,
            subscription: string_field(&envelope, &["subscription"]),
            publish_time: string_field(message, &["publishTime", "publish_time"]),
        })
    }
}

/// The first of `keys` holding a non-blank string.
fn string_field(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()))
        .map(String::from)
}

/// A Google uint64: a JSON number, or a string of digits.
pub(crate) fn parse_history_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    fn body(data: &str) -> String {
        format!(
            r#"{{"message":{{"attributes":{{}},"data":"{data}","messageId":"2070443601311540","message_id":"2070443601311540","publishTime":"2021-02-26T19:13:55.749Z","publish_time":"2021-02-26T19:13:55.749Z"}},"subscription":"projects/acme/subscriptions/gmail-push"}}"#
        )
    }

    #[test]
    fn parses_the_documented_notification() {
        let data = STANDARD.encode(r#"{"emailAddress": "Support@Acme.com", "historyId": "9876543210"}"#);
        let n = GmailNotification::parse(body(&data).as_bytes()).unwrap();
        assert_eq!(n.mailbox.as_str(), "support@acme.com");
        assert_eq!(n.history_id, 9_876_543_210);
        assert_eq!(n.push_message_id, "2070443601311540");
        assert_eq!(n.subscription.as_deref(), Some("projects/acme/subscriptions/gmail-push"));
        assert_eq!(n.publish_time.as_deref(), Some("2021-02-26T19:13:55.749Z"));
    }

    #[test]
    fn accepts_variants_of_spelling_and_encoding() {
        let payloads = [
            r#"{"emailAddress":"support@acme.com","historyId":1234}"#,
            r#"{"email_address":"support@acme.com","history_id":"1234"}"#,
        ];
        for p in payloads {
            for data in [STANDARD.encode(p), URL_SAFE_NO_PAD.encode(p)] {
                let n = GmailNotification::parse(body(&data).as_bytes()).unwrap();
                assert_eq!((n.mailbox.as_str(), n.history_id), ("support@acme.com", 1234), "{p} as {data}");
            }
        }
        // Only the snake_case id, no subscription.
        let data = STANDARD.encode(r#"{"emailAddress":"a@b.co","historyId":7}"#);
        let b = format!(r#"{{"message":{{"data":"{data}","message_id":"42"}}}}"#);
        let n = GmailNotification::parse(b.as_bytes()).unwrap();
        assert_eq!((n.push_message_id.as_str(), n.subscription), ("42", None));
    }

    #[test]
    fn rejects_malformed_pushes() {
        let enc = |s: &str| STANDARD.encode(s);
        assert!(matches!(GmailNotification::parse(b"not json"), Err(PushError::NotJson(_))));
        assert_eq!(GmailNotification::parse(b"{}"), Err(PushError::MissingMessage));
        assert_eq!(GmailNotification::parse(br#"{"message":{"data":"e30="}}"#), Err(PushError::Missing("messageId")));
        assert_eq!(GmailNotification::parse(br#"{"message":{"messageId":"1"}}"#), Err(PushError::Missing("data")));
        assert_eq!(GmailNotification::parse(body("!!!").as_bytes()), Err(PushError::BadBase64));
        assert!(matches!(GmailNotification::parse(body(&enc("nope")).as_bytes()), Err(PushError::DataNotJson(_))));
        assert!(matches!(GmailNotification::parse(body(&enc("[1]")).as_bytes()), Err(PushError::DataNotJson(_))));
        let no_mailbox = enc(r#"{"historyId":1}"#);
        assert_eq!(
            GmailNotification::parse(body(&no_mailbox).as_bytes()),
            Err(PushError::Missing("emailAddress in data"))
        );
        let bad_mailbox = enc(r#"{"emailAddress":"nobody","historyId":1}"#);
        assert!(matches!(GmailNotification::parse(body(&bad_mailbox).as_bytes()), Err(PushError::BadMailbox(_))));
        for h in [r#""-1""#, "-1", r#""12a""#, "1.5", r#""""#, "null", "99999999999999999999"] {
            let data = enc(&format!(r#"{{"emailAddress":"a@b.co","historyId":{h}}}"#));
            assert!(matches!(GmailNotification::parse(body(&data).as_bytes()), Err(PushError::BadHistoryId(_))), "{h}");
        }
        let huge = vec![b' '; MAX_PUSH_BODY_BYTES + 1];
        assert_eq!(GmailNotification::parse(&huge), Err(PushError::TooLarge(MAX_PUSH_BODY_BYTES + 1)));
    }
}
