//! Posting a reply with the Web API's `chat.postMessage`
//! (docs.slack.dev/reference/methods/chat.postMessage): builds
//! `POST {base}/api/chat.postMessage` with `Authorization: Bearer xoxb-…`
//! and the JSON body `{"channel", "text", "thread_ts", "mrkdwn": true,
//! "unfurl_links": false, "metadata": {"event_type": "fte_reply",
//! "event_payload": {"reply_id": "<the reply's message id>"}}}`
//! (`Content-Type: application/json; charset=utf-8`; the message metadata,
//! docs.slack.dev/messaging/message-metadata, is what `history` finds an
//! interrupted send's message by), and parses the answer: `{"ok": true, "channel", "ts"}`,
//! or `{"ok": false, "error": "<code>"}` (Slack answers most errors with
//! HTTP 200), HTTP 429 with `Retry-After: <seconds>` when rate-limited
//! ("Rate limits": about one message per second per channel), or a 5xx.
//! The text is sent as mrkdwn, unescaped: the formatter writes Slack
//! mrkdwn (links as `<url|text>`), so `&`, `<`, `>` are its business.
//! Owns `BotToken`, `PostedMessage`, `OutboundError` and the two functions.
//!
//! Delivery status: Slack has no delivery receipts and no status callbacks
//! for messages an app posts. `ok: true` means Slack stored the message in
//! the conversation (the answer carries its `ts`, and the `message` as
//! stored): it is in the customer's channel or DM from that moment, shown
//! the next time they look, and nothing will ever report on it again. So
//! the send maps to `DeliveryStatus::Delivered`, final, as the row would
//! otherwise sit at `sent` forever waiting for a callback that never comes.

use crate::channels::{DeliveryStatus, ProviderRequest};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://slack.com";

/// Longest text sent: Slack advises keeping `text` to 4,000 characters
/// (it truncates beyond 40,000).
pub const MAX_TEXT_CHARS: usize = 4000;

/// `error` codes worth retrying: throttling and Slack-side failures.
/// Slack notes that after `internal_error` and `fatal_error` "some aspect
/// of the operation" may have succeeded: a retry can, rarely, post twice,
/// which beats a reply never sent.
pub(super) const RETRYABLE_ERRORS: [&str; 6] =
    ["ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"];

/// `error` codes that mean our credentials or the installation are broken:
/// every send will fail until an operator acts.
pub(super) const AUTH_ERRORS: [&str; 8] = [
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "missing_scope",
    "no_permission",
    "org_login_required",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("the Slack token is not a bot token (xoxb-…)")]
    BadToken,
    #[error("Slack base URL {0:?} is not an http(s) URL")]
    BadBaseUrl(String),
    #[error("{0:?} is not a Slack channel id")]
    BadChannel(String),
    #[error("thread_ts {0:?} is not a Slack message ts")]
    BadThreadTs(String),
    #[error("the message text is empty")]
    EmptyText,
    #[error("the message text has {0} characters; Slack messages are kept to 4000")]
    TextTooLong(usize),
    #[error("the request body could not be encoded: {0}")]
    Encode(String),
    #[error("Slack answered HTTP {http_status}: {}{}", .error.as_deref().unwrap_or("no Slack error code"), describe_retry(.retry_after))]
    Api { http_status: u16, error: Option<String>, retry_after: Option<Duration> },
    #[error("Slack accepted the message but its answer could not be read: {0}")]
    BadResponse(String),
}

fn describe_retry(retry_after: &Option<Duration>) -> String {
    retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default()
}

impl OutboundError {
    /// Whether the same request may succeed later: HTTP 429, 5xx, and the
    /// throttling / Slack-side error codes. Everything else (bad channel,
    /// not in channel, archived, bad token, text too long...) will fail the
    /// same way, and an unknown code is not retried either. A success
    /// whose body cannot be read is not retryable: the message may be
    /// posted.
    pub fn retryable(&self) -> bool {
        match self {
            OutboundError::Api { http_status, error, .. } => api_retryable(*http_status, error.as_deref()),
            _ => false,
        }
    }

    /// How long Slack asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            OutboundError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Slack's error code, if it gave one.
    pub fn slack_error(&self) -> Option<&str> {
        match self {
            OutboundError::Api { error, .. } => error.as_deref(),
            _ => None,
        }
    }

    /// Whether the token or installation is unusable (revoked, missing a
    /// scope...): an operator must reconnect the app.
    pub fn auth_failed(&self) -> bool {
        self.slack_error().is_some_and(|e| AUTH_ERRORS.contains(&e))
    }
}

/// A bot token (`xoxb-…`, or `xoxe.xoxb-…` with token rotation). Never
/// printed.
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken(String);

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BotToken(<redacted>)")
    }
}

impl BotToken {
    pub fn new(token: &str) -> Result<Self, OutboundError> {
        let t = token.trim();
        let prefixed = t.starts_with("xoxb-") || t.starts_with("xoxe.xoxb-");
        // Printable ASCII only: it goes into a header.
        let clean = t.bytes().all(|b| b.is_ascii_graphic());
        if !prefixed || !clean || t.len() < 10 {
            return Err(OutboundError::BadToken);
        }
        Ok(Self(t.to_string()))
    }

    pub(super) fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

/// The `event_type` of the metadata every reply is posted with.
pub const REPLY_EVENT_TYPE: &str = "fte_reply";

#[derive(Serialize)]
struct PostMessageBody<'a> {
    channel: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<&'a str>,
    mrkdwn: bool,
    unfurl_links: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<ReplyMetadata<'a>>,
}

#[derive(Serialize)]
struct ReplyMetadata<'a> {
    event_type: &'static str,
    event_payload: ReplyPayload<'a>,
}

#[derive(Serialize)]
struct ReplyPayload<'a> {
    reply_id: &'a str,
}

/// The request posting `text` to `channel` (an id: `C…`, `G…`, `D…`),
/// in the thread `thread_ts` if given (`SlackMessage::reply_thread_ts`),
/// carrying `reply_id` (the reply's message id) as message metadata if
/// given. `base_url` is `DEFAULT_BASE_URL` in production.
pub fn post_message_request(
    base_url: &str,
    token: &BotToken,
    channel: &str,
    text: &str,
    thread_ts: Option<&str>,
    reply_id: Option<&str>,
) -> Result<ProviderRequest, OutboundError> {
    let base = base_url.trim_end_matches('/');
    if !is_http_url(base) {
        return Err(OutboundError::BadBaseUrl(base_url.to_string()));
    }
    let channel_ok = !channel.is_empty() && channel.len() <= 64 && channel.bytes().all(|b| b.is_ascii_alphanumeric());
    if !channel_ok {
        return Err(OutboundError::BadChannel(channel.chars().take(64).collect()));
    }
    if let Some(ts) = thread_ts.filter(|ts| !is_message_ts(ts)) {
        return Err(OutboundError::BadThreadTs(ts.chars().take(64).collect()));
    }
    if text.trim().is_empty() {
        return Err(OutboundError::EmptyText);
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(OutboundError::TextTooLong(chars));
    }
    let metadata = reply_id
        .map(|reply_id| ReplyMetadata { event_type: REPLY_EVENT_TYPE, event_payload: ReplyPayload { reply_id } });
    let body = PostMessageBody { channel, text, thread_ts, mrkdwn: true, unfurl_links: false, metadata };
    Ok(ProviderRequest {
        method: "POST",
        url: format!("{base}/api/chat.postMessage"),
        authorization: token.bearer(),
        content_type: "application/json; charset=utf-8",
        body: serde_json::to_string(&body).map_err(|e| OutboundError::Encode(e.to_string()))?,
    })
}

/// Slack's acceptance of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostedMessage {
    /// The conversation it was posted in.
    pub channel: String,
    /// The message's `ts`: its id at Slack (the outbound row's
    /// `external_id`), needed to edit or thread under it.
    pub ts: String,
}

impl PostedMessage {
    /// `delivered`: see the module header (no receipts exist; the message
    /// is in the conversation once Slack says ok).
    pub fn delivery_status(&self) -> DeliveryStatus {
        DeliveryStatus::Delivered
    }
}

#[derive(Deserialize)]
struct AnswerBody {
    ok: Option<bool>,
    error: Option<String>,
    channel: Option<String>,
    ts: Option<String>,
}

/// Whether a Slack API refusal may go away: HTTP 429, 5xx, or one of the
/// throttling / Slack-side error codes.
pub(super) fn api_retryable(http_status: u16, error: Option<&str>) -> bool {
    http_status == 429 || (500..=599).contains(&http_status) || error.is_some_and(|e| RETRYABLE_ERRORS.contains(&e))
}

/// The fields every Slack Web API answer carries.
pub(super) trait SlackAnswer {
    fn ok(&self) -> Option<bool>;
    fn error(&self) -> Option<&str>;
}

/// Why a Slack answer is not a success.
pub(super) enum Refusal {
    /// A non-2xx status or `ok: false`, with Slack's error code (cut to
    /// 100 characters) when the body gave one.
    Api { error: Option<String> },
    /// Not a Slack answer, or one without `ok`.
    Unreadable(String),
}

/// Opens Slack's envelope: the answer's body when its status is 2xx and
/// it says `ok: true`.
pub(super) fn open_answer<T: SlackAnswer + serde::de::DeserializeOwned>(
    http_status: u16,
    body: &[u8],
) -> Result<T, Refusal> {
    let parsed = serde_json::from_slice::<T>(body);
    let code = |b: &T| b.error().map(|e| e.chars().take(100).collect());
    if !(200..=299).contains(&http_status) {
        return Err(Refusal::Api { error: parsed.ok().as_ref().and_then(code) });
    }
    let parsed = parsed.map_err(|e| Refusal::Unreadable(format!("not a Slack answer: {e}")))?;
    match parsed.ok() {
        Some(true) => Ok(parsed),
        Some(false) => Err(Refusal::Api { error: code(&parsed) }),
        None => Err(Refusal::Unreadable("no \"ok\" field".into())),
    }
}

impl SlackAnswer for AnswerBody {
    fn ok(&self) -> Option<bool> {
        self.ok
    }
    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

/// Reads Slack's answer to a `post_message_request`: the HTTP status, the
/// `Retry-After` header if any, and the body.
pub fn parse_post_message_response(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<PostedMessage, OutboundError> {
    let retry_after = retry_after.and_then(parse_retry_after);
    let parsed = open_answer::<AnswerBody>(http_status, body).map_err(|refusal| match refusal {
        Refusal::Api { error } => OutboundError::Api { http_status, error, retry_after },
        Refusal::Unreadable(reason) => OutboundError::BadResponse(reason),
    })?;
    let ts = parsed.ts.filter(|ts| is_message_ts(ts)).ok_or_else(|| OutboundError::BadResponse("no ts".into()))?;
    let channel = parsed
        .channel
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| OutboundError::BadResponse("no channel".into()))?;
    Ok(PostedMessage { channel, ts })
}

/// `Retry-After` in seconds (Slack's form); an HTTP date is not used by
/// Slack and reads as absent.
pub(super) fn parse_retry_after(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<u64>().ok().map(Duration::from_secs)
}

pub(super) fn is_http_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

pub(super) fn is_message_ts(ts: &str) -> bool {
    ts.len() <= 32
        && ts.split_once('.').is_some_and(|(s, n)| {
            !s.is_empty() && !n.is_empty() && s.bytes().chain(n.bytes()).all(|b| b.is_ascii_digit())
        })
}

#[cfg(test)]
#[path = "outbound_tests.rs"]
mod tests;
