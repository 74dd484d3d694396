//! Parses an Events API payload (already verified) into what the runtime
//! does with it. Formats followed: the Events API envelope
//! (docs.slack.dev/apis/events-api: `type` `url_verification` with
//! `challenge`, or `event_callback` with `team_id`, `api_app_id`,
//! `event_id`, `event_time`, `authorizations`, `event`), the `app_mention`
//! event (docs.slack.dev/reference/events/app_mention) and the `message.im`
//! event (a `message` with `channel_type: "im"`): `user`, `text`, `ts`,
//! `thread_ts`, `channel`, `bot_id`, `subtype`, `app_id`, `client_msg_id`.
//!
//! What is kept: mentions of the app in channels (`app_mention`; Slack
//! sends these for channels only, never for DMs) and direct messages
//! (`message` in an `im`). Everything else is `Ignored` with a reason, not
//! an error: other envelope or event types, messages from bots (`bot_id`)
//! or from this app, `message` events outside DMs (a channel message that
//! matters mentions the app and comes as `app_mention`), and subtypes
//! (edits, deletions, joins...) except `file_share` and `thread_broadcast`,
//! which are a person's message with a file / also sent to the channel.
//! Owns `EventOutcome`, `IgnoreReason` and `parse`.

use super::inbound::InboundError;
use super::message::{SlackEventKind, SlackFile, SlackMessage};
use crate::domain::SlackUserId;
use serde_json::{Map, Value};
use std::fmt;

/// Message subtypes that are still a person writing to us.
const KEPT_SUBTYPES: [&str; 2] = ["file_share", "thread_broadcast"];

/// What a verified Events API request asks of us.
#[derive(Clone, Debug, PartialEq)]
pub enum EventOutcome {
    /// Slack is checking the request URL: answer 200 with this `challenge`
    /// (as `text/plain`, or `{"challenge": ...}` as JSON).
    UrlVerification { challenge: String },
    /// A customer's message. Dedupe the delivery on `event_id` (retries
    /// repeat it), store it under `dedupe_key()`.
    Message(Box<SlackMessage>),
    /// Nothing to do: acknowledge with 200 so that Slack does not retry.
    Ignored(IgnoreReason),
}

/// Why a well-formed payload is not a customer message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// `app_rate_limited`: Slack is dropping our events for a minute.
    AppRateLimited,
    /// An envelope `type` other than `url_verification` / `event_callback`.
    UnsupportedEnvelope(String),
    /// An event type other than `app_mention` / `message`.
    UnsupportedEvent(String),
    /// Posted by a bot (`bot_id` set): never answer bots, loops follow.
    FromBot(String),
    /// Posted by this app itself (`app_id` is ours, or the author is our
    /// bot user).
    OwnMessage,
    /// A message subtype that is not a person writing (`message_changed`,
    /// `message_deleted`, `channel_join`, `bot_message`...).
    Subtype(String),
    /// A `message` event outside a direct message (`channel_type` other
    /// than `im`): in channels only `app_mention` is answered.
    NotDirectMessage(Option<String>),
    /// No text (once the app's mention is removed) and no file.
    Empty,
}

impl IgnoreReason {
    /// A short code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AppRateLimited => "app_rate_limited",
            Self::UnsupportedEnvelope(_) => "unsupported_envelope",
            Self::UnsupportedEvent(_) => "unsupported_event",
            Self::FromBot(_) => "from_bot",
            Self::OwnMessage => "own_message",
            Self::Subtype(_) => "subtype",
            Self::NotDirectMessage(_) => "not_direct_message",
            Self::Empty => "empty",
        }
    }
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AppRateLimited => f.write_str("Slack is rate-limiting this app's events (app_rate_limited)"),
            Self::UnsupportedEnvelope(t) => write!(f, "payload type {t:?} is not handled"),
            Self::UnsupportedEvent(t) => write!(f, "event type {t:?} is not handled"),
            Self::FromBot(b) => write!(f, "posted by bot {b}"),
            Self::OwnMessage => f.write_str("posted by this app"),
            Self::Subtype(s) => write!(f, "message subtype {s:?} is not a customer message"),
            Self::NotDirectMessage(t) => {
                write!(
                    f,
                    "message in a {} conversation without a mention of the app",
                    t.as_deref().unwrap_or("unknown")
                )
            }
            Self::Empty => f.write_str("the message has no text and no file"),
        }
    }
}

/// Parses a verified Events API body.
pub fn parse(body: &[u8]) -> Result<EventOutcome, InboundError> {
    let text = std::str::from_utf8(body).map_err(|e| InboundError::NotUtf8(e.valid_up_to()))?;
    let value: Value = serde_json::from_str(text).map_err(|e| InboundError::BadJson(e.to_string()))?;
    let Value::Object(envelope) = value else {
        return Err(InboundError::NotAnObject);
    };
    let kind = str_field(&envelope, "type", "type")?.ok_or(InboundError::Missing("type"))?;
    match kind {
        "url_verification" => {
            let challenge = str_field(&envelope, "challenge", "challenge")?
                .filter(|c| !c.is_empty())
                .ok_or(InboundError::Missing("challenge"))?;
            Ok(EventOutcome::UrlVerification { challenge: challenge.to_string() })
        }
        "event_callback" => event_callback(&envelope),
        "app_rate_limited" => Ok(EventOutcome::Ignored(IgnoreReason::AppRateLimited)),
        other => Ok(EventOutcome::Ignored(IgnoreReason::UnsupportedEnvelope(short(other)))),
    }
}

fn event_callback(envelope: &Map<String, Value>) -> Result<EventOutcome, InboundError> {
    let team_id = required_id(envelope, "team_id", "team_id", "workspace id")?;
    let api_app_id = required_id(envelope, "api_app_id", "api_app_id", "app id")?;
    let event_id = required_id(envelope, "event_id", "event_id", "event id")?;
    let event_time = match envelope.get("event_time") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or(InboundError::WrongType { field: "event_time", expected: "an integer" })?),
    };
    let enterprise_id = optional_id(envelope, "enterprise_id", "enterprise_id", "enterprise id")?;
    let event = match envelope.get("event") {
        Some(Value::Object(e)) => e,
        None | Some(Value::Null) => return Err(InboundError::Missing("event")),
        Some(_) => return Err(InboundError::WrongType { field: "event", expected: "an object" }),
    };
    let event_type = str_field(event, "type", "event.type")?.ok_or(InboundError::Missing("event.type"))?;
    let kind = match event_type {
        "app_mention" => SlackEventKind::AppMention,
        "message" => SlackEventKind::DirectMessage,
        other => return Ok(EventOutcome::Ignored(IgnoreReason::UnsupportedEvent(short(other)))),
    };
    let bot_user_id = bot_user_id(envelope, &team_id);
    let user = str_field(event, "user", "event.user")?;

    // Who wrote it: never answer ourselves or another bot.
    let app_id = str_field(event, "app_id", "event.app_id")?;
    if app_id == Some(api_app_id.as_str()) || (user.is_some() && user == bot_user_id.as_deref()) {
        return Ok(EventOutcome::Ignored(IgnoreReason::OwnMessage));
    }
    if let Some(bot_id) = str_field(event, "bot_id", "event.bot_id")?.filter(|b| !b.is_empty()) {
        return Ok(EventOutcome::Ignored(IgnoreReason::FromBot(short(bot_id))));
    }
    let subtype = str_field(event, "subtype", "event.subtype")?.filter(|s| !s.is_empty());
    if let Some(s) = subtype.filter(|s| !KEPT_SUBTYPES.contains(s)) {
        return Ok(EventOutcome::Ignored(IgnoreReason::Subtype(short(s))));
    }
    let channel_type = str_field(event, "channel_type", "event.channel_type")?.map(str::to_string);
    if kind == SlackEventKind::DirectMessage && channel_type.as_deref() != Some("im") {
        return Ok(EventOutcome::Ignored(IgnoreReason::NotDirectMessage(channel_type.map(|t| short(&t)))));
    }

    let user = user.ok_or(InboundError::Missing("event.user"))?;
    let user = SlackUserId::parse(user).map_err(InboundError::BadUser)?;
    let channel = required_id(event, "channel", "event.channel", "channel id")?;
    let ts = message_ts(event, "ts", "event.ts")?.ok_or(InboundError::Missing("event.ts"))?;
    let thread_ts = message_ts(event, "thread_ts", "event.thread_ts")?;
    let text = str_field(event, "text", "event.text")?.unwrap_or_default().to_string();
    let client_msg_id = str_field(event, "client_msg_id", "event.client_msg_id")?.map(short);
    let user_team = optional_id(event, "user_team", "event.user_team", "workspace id")?;
    let files = files(event);

    let message = SlackMessage {
        kind,
        team_id,
        api_app_id,
        event_id,
        event_time,
        enterprise_id,
        user,
        user_team,
        text,
        ts,
        thread_ts,
        channel,
        channel_type,
        client_msg_id,
        subtype: subtype.map(str::to_string),
        bot_user_id,
        files,
    };
    if message.body().is_empty() && message.files.is_empty() {
        return Ok(EventOutcome::Ignored(IgnoreReason::Empty));
    }
    Ok(EventOutcome::Message(Box::new(message)))
}

/// The app's bot user, from `authorizations` (Slack lists one installation
/// the event is visible to; it is ours only if it is the bot of the
/// workspace the event was delivered for).
fn bot_user_id(envelope: &Map<String, Value>, team_id: &str) -> Option<String> {
    envelope.get("authorizations")?.as_array()?.iter().find_map(|a| {
        let is_bot = a.get("is_bot")?.as_bool()?;
        let same_team = a.get("team_id").and_then(Value::as_str).is_none_or(|t| t == team_id);
        let user_id = a.get("user_id")?.as_str()?;
        (is_bot && same_team && is_slack_id(user_id)).then(|| user_id.to_string())
    })
}

/// The attached files Slack describes (`files`); entries without an id
/// (e.g. `hidden_by_limit` placeholders keep theirs) are skipped.
fn files(event: &Map<String, Value>) -> Vec<SlackFile> {
    let Some(files) = event.get("files").and_then(Value::as_array) else {
        return Vec::new();
    };
    let text = |f: &Value, k: &str| f.get(k).and_then(Value::as_str).map(|s| s.chars().take(2048).collect::<String>());
    files
        .iter()
        .filter_map(|f| {
            let id = f.get("id")?.as_str().filter(|id| is_slack_id(id))?.to_string();
            Some(SlackFile {
                id,
                name: text(f, "name"),
                mimetype: text(f, "mimetype"),
                url_private: text(f, "url_private"),
            })
        })
        .take(100)
        .collect()
}

/// A string field: `None` when absent or null, an error when of another
/// type.
fn str_field<'a>(obj: &'a Map<String, Value>, key: &str, field: &'static str) -> Result<Option<&'a str>, InboundError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(InboundError::WrongType { field, expected: "a string" }),
    }
}

fn required_id(
    obj: &Map<String, Value>,
    key: &str,
    field: &'static str,
    what: &'static str,
) -> Result<String, InboundError> {
    optional_id(obj, key, field, what)?.ok_or(InboundError::Missing(field))
}

fn optional_id(
    obj: &Map<String, Value>,
    key: &str,
    field: &'static str,
    what: &'static str,
) -> Result<Option<String>, InboundError> {
    match str_field(obj, key, field)? {
        None | Some("") => Ok(None),
        Some(id) if is_slack_id(id) => Ok(Some(id.to_string())),
        Some(id) => Err(InboundError::BadId { field, value: short(id), what }),
    }
}

/// A message timestamp: `1515449522.000016` (seconds, a dot, a sequence).
fn message_ts(obj: &Map<String, Value>, key: &str, field: &'static str) -> Result<Option<String>, InboundError> {
    match str_field(obj, key, field)? {
        None | Some("") => Ok(None),
        Some(ts) => {
            let ok = ts.len() <= 32
                && ts.split_once('.').is_some_and(|(s, n)| {
                    !s.is_empty() && !n.is_empty() && s.bytes().chain(n.bytes()).all(|b| b.is_ascii_digit())
                });
            if ok {
                Ok(Some(ts.to_string()))
            } else {
                Err(InboundError::BadId { field, value: short(ts), what: "message ts" })
            }
        }
    }
}

/// Slack's ids (`T…`, `A…`, `C…`, `D…`, `Ev…`, `F…`) are short and
/// alphanumeric; `_` and `-` are let through for test fixtures' sake.
fn is_slack_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A value quoted back in an error or reason, cut to a loggable length.
fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
