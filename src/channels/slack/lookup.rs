//! Finding a reply an earlier attempt may have posted: the reply's thread
//! (`conversations.replies`, docs.slack.dev/reference/methods/conversations.replies)
//! or, for a reply outside a thread, the conversation's history
//! (`conversations.history`), read from `oldest` on with the messages'
//! metadata: `GET {base}/api/conversations.replies?channel=C…&ts=<thread
//! ts>&include_all_metadata=true&oldest=<epoch seconds, 6 decimals>&limit=200`
//! (the same minus `ts` for the history) with the bot token as Bearer.
//! The answer is `{"ok": true, "messages": [{"type": "message", "ts",
//! "text", "metadata": {"event_type", "event_payload"}, …}], "has_more",
//! "response_metadata": {"next_cursor"}}`, paged with `cursor`; errors
//! come as in `outbound` (`{"ok": false, "error"}` under HTTP 200, 429 with
//! `Retry-After`, 5xx). A reply is known by the metadata `chat.postMessage`
//! attached to it (`outbound::REPLY_EVENT_TYPE`, `event_payload.reply_id`),
//! so two replies with the same text are told apart. No I/O. Owns
//! `LookupError`, `HistoryMessage`, `HistoryPage` and the three functions.

use super::outbound::{
    BotToken, PostedMessage, REPLY_EVENT_TYPE, Refusal, SlackAnswer, api_retryable, is_http_url, is_message_ts,
    open_answer, parse_retry_after,
};
use crate::channels::ProviderRequest;
use crate::channels::gmail::urlenc::component;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::Duration;

/// Messages asked for per page.
pub const PAGE_LIMIT: u32 = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("Slack base URL {0:?} is not an http(s) URL")]
    BadBaseUrl(String),
    #[error("{0:?} is not a Slack channel id")]
    BadChannel(String),
    #[error("thread_ts {0:?} is not a Slack message ts")]
    BadThreadTs(String),
    #[error("Slack answered HTTP {http_status} to the history read: {}", .error.as_deref().unwrap_or("no Slack error code"))]
    Api { http_status: u16, error: Option<String>, retry_after: Option<Duration> },
    #[error("Slack's history answer could not be read: {0}")]
    BadResponse(String),
}

impl LookupError {
    /// Whether asking again later may get an answer: HTTP 429, 5xx, the
    /// throttling / Slack-side error codes, and a 2xx whose body could not
    /// be read (it says nothing either way). Everything else
    /// (`channel_not_found`, `not_in_channel`, `invalid_auth`,
    /// `missing_scope`, `thread_not_found`...) will fail the same way.
    pub fn retryable(&self) -> bool {
        match self {
            LookupError::Api { http_status, error, .. } => api_retryable(*http_status, error.as_deref()),
            LookupError::BadResponse(_) => true,
            LookupError::BadBaseUrl(_) | LookupError::BadChannel(_) | LookupError::BadThreadTs(_) => false,
        }
    }

    /// How long Slack asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LookupError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Slack's `oldest`/`latest` form: epoch seconds with six decimals.
pub fn slack_ts(at: DateTime<Utc>) -> String {
    format!("{}.{:06}", at.timestamp().max(0), at.timestamp_subsec_micros().min(999_999))
}

/// The request reading `channel` from `oldest` on, with metadata: the
/// thread `thread_ts` (`conversations.replies`) when the reply went in
/// one, else the conversation (`conversations.history`); `cursor` is the
/// previous page's `next_cursor`.
pub fn find_reply_request(
    base_url: &str,
    token: &BotToken,
    channel: &str,
    thread_ts: Option<&str>,
    oldest: DateTime<Utc>,
    cursor: Option<&str>,
) -> Result<ProviderRequest, LookupError> {
    let base = base_url.trim_end_matches('/');
    if !is_http_url(base) {
        return Err(LookupError::BadBaseUrl(base_url.to_string()));
    }
    let channel_ok = !channel.is_empty() && channel.len() <= 64 && channel.bytes().all(|b| b.is_ascii_alphanumeric());
    if !channel_ok {
        return Err(LookupError::BadChannel(channel.chars().take(64).collect()));
    }
    let mut query = format!("channel={channel}");
    let method = match thread_ts {
        Some(ts) if !is_message_ts(ts) => return Err(LookupError::BadThreadTs(ts.chars().take(64).collect())),
        Some(ts) => {
            query.push_str(&format!("&ts={ts}"));
            "conversations.replies"
        }
        None => "conversations.history",
    };
    query.push_str(&format!("&include_all_metadata=true&oldest={}&limit={PAGE_LIMIT}", slack_ts(oldest)));
    if let Some(cursor) = cursor {
        query.push_str(&format!("&cursor={}", component(cursor)));
    }
    Ok(ProviderRequest {
        method: "GET",
        url: format!("{base}/api/{method}?{query}"),
        authorization: token.bearer(),
        content_type: "application/x-www-form-urlencoded",
        body: String::new(),
    })
}

/// A message of a history page, as far as finding a reply needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryMessage {
    pub ts: String,
    /// `event_payload.reply_id` of `REPLY_EVENT_TYPE` metadata, if any.
    pub reply_id: Option<String>,
}

/// One page of a thread or a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryPage {
    pub messages: Vec<HistoryMessage>,
    /// Where the next page starts, while Slack has more.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct HistoryBody {
    ok: Option<bool>,
    error: Option<String>,
    messages: Option<Vec<MessageBody>>,
    has_more: Option<bool>,
    response_metadata: Option<ResponseMetadata>,
}

#[derive(Deserialize)]
struct MessageBody {
    ts: Option<String>,
    metadata: Option<MetadataBody>,
}

#[derive(Deserialize)]
struct MetadataBody {
    event_type: Option<String>,
    event_payload: Option<serde_json::Value>,
}

impl SlackAnswer for HistoryBody {
    fn ok(&self) -> Option<bool> {
        self.ok
    }
    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

#[derive(Deserialize)]
struct ResponseMetadata {
    next_cursor: Option<String>,
}

/// Reads the answer to a `find_reply_request`: the HTTP status, the
/// `Retry-After` header if any, and the body. An `ok: true` answer without
/// a `messages` array, or with a message lacking a readable `ts`, is
/// `BadResponse`: an answer not understood is never taken to mean "not
/// there".
pub fn parse_history_response(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<HistoryPage, LookupError> {
    let retry_after = retry_after.and_then(parse_retry_after);
    let parsed = open_answer::<HistoryBody>(http_status, body).map_err(|refusal| match refusal {
        Refusal::Api { error } => LookupError::Api { http_status, error, retry_after },
        Refusal::Unreadable(reason) => LookupError::BadResponse(reason),
    })?;
    let listed = parsed.messages.ok_or_else(|| LookupError::BadResponse("no messages array".into()))?;
    let mut messages = Vec::with_capacity(listed.len());
    for m in listed {
        let ts =
            m.ts.filter(|ts| is_message_ts(ts))
                .ok_or_else(|| LookupError::BadResponse("a message without ts".into()))?;
        let reply_id = m
            .metadata
            .filter(|md| md.event_type.as_deref() == Some(REPLY_EVENT_TYPE))
            .and_then(|md| md.event_payload)
            .and_then(|p| p.get("reply_id").and_then(|v| v.as_str()).map(str::to_string));
        messages.push(HistoryMessage { ts, reply_id });
    }
    let next_cursor = parsed
        .response_metadata
        .and_then(|r| r.next_cursor)
        .filter(|c| !c.trim().is_empty() && parsed.has_more != Some(false));
    Ok(HistoryPage { messages, next_cursor })
}

/// The message on `page` posted for `reply_id` in `channel`, unless its
/// external id (`channel:ts`, as the send stores it) is in `taken`.
pub fn find_reply(page: &HistoryPage, channel: &str, reply_id: &str, taken: &[String]) -> Option<PostedMessage> {
    page.messages
        .iter()
        .filter(|m| m.reply_id.as_deref() == Some(reply_id))
        .map(|m| PostedMessage { channel: channel.to_string(), ts: m.ts.clone() })
        .find(|p| !taken.contains(&format!("{}:{}", p.channel, p.ts)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";
    const REPLY_ID: &str = "0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57";

    fn token() -> BotToken {
        BotToken::new(TOKEN).unwrap()
    }

    fn since() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_100, 42_000).unwrap()
    }

    #[test]
    fn builds_the_thread_and_history_reads() {
        let r =
            find_reply_request("https://slack.com/", &token(), "C123ABC456", Some("1700000001.000100"), since(), None)
                .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "https://slack.com/api/conversations.replies?channel=C123ABC456&ts=1700000001.000100&include_all_metadata=true&oldest=1700000100.000042&limit=200"
        );
        assert_eq!(r.authorization, format!("Bearer {TOKEN}"));
        assert_eq!(r.body, "");
        assert!(!format!("{r:?}").contains("pdFZ"));
        let r = find_reply_request(
            "http://127.0.0.1:9999",
            &token(),
            "D0442US94JD",
            None,
            since(),
            Some("bmV4dF90czoxNzAwMDAwMjAwMDAwNTAw+/="),
        )
        .unwrap();
        assert_eq!(
            r.url,
            "http://127.0.0.1:9999/api/conversations.history?channel=D0442US94JD&include_all_metadata=true&oldest=1700000100.000042&limit=200&cursor=bmV4dF90czoxNzAwMDAwMjAwMDAwNTAw%2B%2F%3D"
        );
    }

    #[test]
    fn refuses_bad_reads() {
        let t = token();
        let r = |base: &str, ch: &str, ts: Option<&str>| find_reply_request(base, &t, ch, ts, since(), None);
        assert!(matches!(r("slack.com", "C1", None), Err(LookupError::BadBaseUrl(_))));
        assert!(matches!(r("https://slack.com", "#general", None), Err(LookupError::BadChannel(_))));
        assert!(matches!(r("https://slack.com", "C1&x=1", None), Err(LookupError::BadChannel(_))));
        assert!(matches!(r("https://slack.com", "C1", Some("1&ts=2")), Err(LookupError::BadThreadTs(_))));
        assert_eq!(slack_ts(Utc.timestamp_opt(1_700_000_000, 999_999_999).unwrap()), "1700000000.999999");
    }

    fn thread(reply_meta: serde_json::Value, has_more: bool, cursor: &str) -> Vec<u8> {
        json!({
            "ok": true,
            "messages": [
                {
                    "type": "message", "user": "U061F7AUR", "text": "How do I export invoices?",
                    "thread_ts": "1700000001.000100", "reply_count": 3, "reply_users_count": 1,
                    "latest_reply": "1700000160.000500", "reply_users": ["U0BOT1234"],
                    "is_locked": false, "subscribed": false, "ts": "1700000001.000100", "team": "T061EG9R6"
                },
                {
                    "type": "message", "text": "Exports are under *Reports > Export*.", "user": "U0BOT1234",
                    "bot_id": "B061F7JD2", "app_id": "A0APP5678", "team": "T061EG9R6",
                    "thread_ts": "1700000001.000100", "parent_user_id": "U061F7AUR", "ts": "1700000120.000300",
                    "metadata": {"event_type": "fte_reply", "event_payload": {"reply_id": "0190a5d2-0000-7000-8000-000000000001"}}
                },
                {
                    "type": "message", "text": "Exports are under *Reports > Export*.", "user": "U0BOT1234",
                    "bot_id": "B061F7JD2", "app_id": "A0APP5678", "team": "T061EG9R6",
                    "thread_ts": "1700000001.000100", "parent_user_id": "U061F7AUR", "ts": "1700000160.000500",
                    "metadata": reply_meta
                },
                {
                    "type": "message", "text": "deploy done", "bot_id": "B0OTHER99", "ts": "1700000161.000600",
                    "thread_ts": "1700000001.000100",
                    "metadata": {"event_type": "deploy_finished", "event_payload": {"reply_id": REPLY_ID}}
                }
            ],
            "has_more": has_more,
            "response_metadata": {"next_cursor": cursor}
        })
        .to_string()
        .into_bytes()
    }

    fn ours() -> serde_json::Value {
        json!({"event_type": "fte_reply", "event_payload": {"reply_id": REPLY_ID}})
    }

    #[test]
    fn finds_the_reply_by_its_metadata() {
        let page = parse_history_response(200, None, &thread(ours(), false, "")).unwrap();
        assert_eq!(page.messages.len(), 4);
        assert_eq!(page.messages[0].reply_id, None);
        assert_eq!(page.next_cursor, None);
        let found = find_reply(&page, "C123ABC456", REPLY_ID, &[]).unwrap();
        assert_eq!(found, PostedMessage { channel: "C123ABC456".into(), ts: "1700000160.000500".into() });
        // Same text, another reply: not it. Another app's metadata type: not it.
        assert!(find_reply(&page, "C123ABC456", "0190a5d2-0000-7000-8000-000000000002", &[]).is_none());
        // Already stored for another reply (cannot happen for a unique id,
        // but `taken` is honoured all the same).
        assert!(find_reply(&page, "C123ABC456", REPLY_ID, &["C123ABC456:1700000160.000500".into()]).is_none());
    }

    #[test]
    fn not_there_and_paging() {
        let none = parse_history_response(200, None, &thread(json!(null), true, "bmV4dF90czoxNzAw")).unwrap();
        assert!(find_reply(&none, "C1", REPLY_ID, &[]).is_none());
        assert_eq!(none.next_cursor.as_deref(), Some("bmV4dF90czoxNzAw"));
        let last = parse_history_response(200, None, br#"{"ok":true,"messages":[],"has_more":false,"pin_count":0,"channel_actions_ts":null,"channel_actions_count":0}"#).unwrap();
        assert!(last.messages.is_empty() && last.next_cursor.is_none());
        // A metadata-less answer (no include_all_metadata) finds nothing.
        let plain =
            json!({"ok":true,"messages":[{"type":"message","text":"x","ts":"1700000160.000500"}],"has_more":false});
        let plain = parse_history_response(200, None, plain.to_string().as_bytes()).unwrap();
        assert!(find_reply(&plain, "C1", REPLY_ID, &[]).is_none());
    }

    #[test]
    fn classifies_errors() {
        for code in ["ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"] {
            let e = parse_history_response(200, None, format!(r#"{{"ok":false,"error":"{code}"}}"#).as_bytes())
                .unwrap_err();
            assert!(e.retryable(), "{code}");
        }
        for code in ["channel_not_found", "not_in_channel", "invalid_auth", "missing_scope", "thread_not_found"] {
            let e = parse_history_response(200, None, format!(r#"{{"ok":false,"error":"{code}"}}"#).as_bytes())
                .unwrap_err();
            assert!(!e.retryable(), "{code}");
            assert_eq!(e.to_string(), format!("Slack answered HTTP 200 to the history read: {code}"));
        }
        let e = parse_history_response(429, Some("30"), br#"{"ok":false,"error":"ratelimited"}"#).unwrap_err();
        assert!(e.retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        assert!(parse_history_response(502, None, b"<html>Bad Gateway</html>").unwrap_err().retryable());
        assert!(
            !parse_history_response(403, None, br#"{"ok":false,"error":"no_permission"}"#).unwrap_err().retryable()
        );
        for body in [&b""[..], b"<html>", b"{\"ok\":true}", br#"{"ok":true,"messages":[{"type":"message"}]}"#, b"{}"] {
            let e = parse_history_response(200, None, body).unwrap_err();
            assert!(matches!(e, LookupError::BadResponse(_)), "{body:?}: {e:?}");
            assert!(e.retryable());
        }
    }
}
