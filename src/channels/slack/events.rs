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
mod tests {
    use super::*;
    use serde_json::json;

    /// Slack's documented `app_mention` example (docs.slack.dev/reference/
    /// events/app_mention), with a bot authorization.
    fn app_mention() -> Value {
        json!({
            "token": "XXYYZZ",
            "team_id": "T123ABC456",
            "api_app_id": "A123ABC456",
            "event": {
                "type": "app_mention",
                "user": "U061F7AUR",
                "text": "<@U0LAN0Z89> is it everything a river should be?",
                "ts": "1515449522.000016",
                "channel": "C123ABC456",
                "event_ts": "1515449522.000016"
            },
            "type": "event_callback",
            "authorizations": [
                {"enterprise_id": null, "team_id": "T123ABC456", "user_id": "U0LAN0Z89", "is_bot": true, "is_enterprise_install": false}
            ],
            "event_id": "Ev123ABC456",
            "event_time": 1515449522
        })
    }

    /// A `message.im` delivery, as Slack sends it.
    fn direct_message() -> Value {
        json!({
            "token": "aaaa",
            "team_id": "T043DB835ML",
            "api_app_id": "A0442TUPHGR",
            "event": {
                "client_msg_id": "1efd76a1-5075-4c2c-ad38-1284820b429f",
                "type": "message",
                "text": "My timer stopped &amp; the report says &lt;none&gt;",
                "user": "U043H11ES4V",
                "ts": "1664408649.009629",
                "team": "T043DB835ML",
                "blocks": [{"type": "rich_text", "block_id": "LSo", "elements": []}],
                "channel": "D0442US94JD",
                "event_ts": "1664408649.009629",
                "channel_type": "im"
            },
            "type": "event_callback",
            "event_id": "Ev044C51K43V",
            "event_time": 1664408649,
            "authorizations": [
                {"enterprise_id": null, "team_id": "T043DB835ML", "user_id": "U0442US8QGH", "is_bot": true, "is_enterprise_install": false}
            ],
            "is_ext_shared_channel": false,
            "event_context": "aaaa"
        })
    }

    fn run(v: &Value) -> Result<EventOutcome, InboundError> {
        parse(&serde_json::to_vec(v).unwrap())
    }

    fn message(v: &Value) -> SlackMessage {
        match run(v).unwrap() {
            EventOutcome::Message(m) => *m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    fn ignored(v: &Value) -> IgnoreReason {
        match run(v).unwrap() {
            EventOutcome::Ignored(r) => r,
            other => panic!("expected Ignored, got {other:?}"),
        }
    }

    fn with_event(mut v: Value, key: &str, value: Value) -> Value {
        v["event"][key] = value;
        v
    }

    #[test]
    fn url_verification_returns_the_challenge() {
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            parse(body).unwrap(),
            EventOutcome::UrlVerification { challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into() }
        );
        assert_eq!(parse(br#"{"type":"url_verification"}"#), Err(InboundError::Missing("challenge")));
        assert_eq!(parse(br#"{"type":"url_verification","challenge":""}"#), Err(InboundError::Missing("challenge")));
    }

    #[test]
    fn parses_an_app_mention() {
        let m = message(&app_mention());
        assert_eq!(m.kind, SlackEventKind::AppMention);
        assert_eq!(m.team_id, "T123ABC456");
        assert_eq!(m.api_app_id, "A123ABC456");
        assert_eq!(m.event_id, "Ev123ABC456");
        assert_eq!(m.event_time, Some(1_515_449_522));
        assert_eq!(m.user.as_str(), "U061F7AUR");
        assert_eq!(m.channel, "C123ABC456");
        assert_eq!(m.ts, "1515449522.000016");
        assert_eq!(m.thread_ts, None);
        assert_eq!(m.channel_type, None);
        assert_eq!(m.bot_user_id.as_deref(), Some("U0LAN0Z89"));
        assert_eq!(m.body(), "is it everything a river should be?");
    }

    #[test]
    fn parses_a_direct_message() {
        let m = message(&direct_message());
        assert_eq!(m.kind, SlackEventKind::DirectMessage);
        assert_eq!(m.channel, "D0442US94JD");
        assert_eq!(m.channel_type.as_deref(), Some("im"));
        assert_eq!(m.client_msg_id.as_deref(), Some("1efd76a1-5075-4c2c-ad38-1284820b429f"));
        assert_eq!(m.body(), "My timer stopped & the report says <none>");
    }

    #[test]
    fn ignores_bots_and_own_messages() {
        let v = with_event(direct_message(), "bot_id", json!("B19LU7CSY"));
        assert_eq!(ignored(&v), IgnoreReason::FromBot("B19LU7CSY".into()));
        let v = with_event(app_mention(), "bot_id", json!("B19LU7CSY"));
        assert_eq!(ignored(&v), IgnoreReason::FromBot("B19LU7CSY".into()));
        let v = with_event(direct_message(), "app_id", json!("A0442TUPHGR"));
        assert_eq!(ignored(&v), IgnoreReason::OwnMessage);
        let v = with_event(direct_message(), "user", json!("U0442US8QGH"));
        assert_eq!(ignored(&v), IgnoreReason::OwnMessage);
        // Our app posting as a bot (bot_id and app_id) is "own", not "a bot".
        let v = with_event(with_event(direct_message(), "bot_id", json!("B1")), "app_id", json!("A0442TUPHGR"));
        assert_eq!(ignored(&v), IgnoreReason::OwnMessage);
        // A null or empty bot_id is no bot.
        let v = with_event(direct_message(), "bot_id", Value::Null);
        assert!(matches!(run(&v), Ok(EventOutcome::Message(_))));
        let v = with_event(direct_message(), "bot_id", json!(""));
        assert!(matches!(run(&v), Ok(EventOutcome::Message(_))));
        // Another app's message that a person did not write.
        let v = with_event(direct_message(), "app_id", json!("A999"));
        assert!(matches!(run(&v), Ok(EventOutcome::Message(_))), "app_id alone is not a bot");
    }

    #[test]
    fn ignores_subtypes_but_keeps_files_and_broadcasts() {
        for subtype in ["message_changed", "message_deleted", "channel_join", "bot_message", "me_message"] {
            let v = with_event(direct_message(), "subtype", json!(subtype));
            assert_eq!(ignored(&v), IgnoreReason::Subtype(subtype.into()), "{subtype}");
        }
        let v = with_event(direct_message(), "subtype", json!("thread_broadcast"));
        assert_eq!(message(&v).subtype.as_deref(), Some("thread_broadcast"));
        let mut v = with_event(direct_message(), "subtype", json!("file_share"));
        v["event"]["text"] = json!("");
        v["event"]["files"] = json!([
            {"id": "F0RDC39U1", "name": "screenshot.png", "mimetype": "image/png", "url_private": "https://files.slack.com/files-pri/T1-F0RDC39U1/screenshot.png"},
            {"mode": "tombstone"},
            "junk"
        ]);
        let m = message(&v);
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.files[0].id, "F0RDC39U1");
        assert_eq!(m.files[0].mimetype.as_deref(), Some("image/png"));
        assert_eq!(m.body(), "");
    }

    #[test]
    fn ignores_message_events_outside_direct_messages() {
        for ct in ["channel", "group", "mpim"] {
            let v = with_event(direct_message(), "channel_type", json!(ct));
            assert_eq!(ignored(&v), IgnoreReason::NotDirectMessage(Some(ct.into())), "{ct}");
        }
        let mut v = direct_message();
        v["event"].as_object_mut().unwrap().remove("channel_type");
        assert_eq!(ignored(&v), IgnoreReason::NotDirectMessage(None));
        // An app_mention needs no channel_type.
        let v = with_event(app_mention(), "channel_type", json!("channel"));
        assert!(matches!(run(&v), Ok(EventOutcome::Message(_))));
    }

    #[test]
    fn ignores_other_event_and_envelope_types() {
        let mut v = app_mention();
        v["event"] = json!({"type": "channel_created", "channel": {"id": "C024BE91L", "name": "fun"}});
        assert_eq!(ignored(&v), IgnoreReason::UnsupportedEvent("channel_created".into()));
        v["event"] = json!({"type": "reaction_added", "user": "U1", "item": {"type": "message"}});
        assert_eq!(ignored(&v), IgnoreReason::UnsupportedEvent("reaction_added".into()));
        let limited = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","type":"app_rate_limited","team_id":"T123456","minute_rate_limited":1518467820,"api_app_id":"A123456"}"#;
        assert_eq!(parse(limited), Ok(EventOutcome::Ignored(IgnoreReason::AppRateLimited)));
        assert_eq!(
            parse(br#"{"type":"block_actions"}"#),
            Ok(EventOutcome::Ignored(IgnoreReason::UnsupportedEnvelope("block_actions".into())))
        );
    }

    #[test]
    fn ignores_empty_messages() {
        let v = with_event(app_mention(), "text", json!("<@U0LAN0Z89>"));
        assert_eq!(ignored(&v), IgnoreReason::Empty);
        let v = with_event(direct_message(), "text", json!("   "));
        assert_eq!(ignored(&v), IgnoreReason::Empty);
        let mut v = direct_message();
        v["event"].as_object_mut().unwrap().remove("text");
        assert_eq!(ignored(&v), IgnoreReason::Empty);
    }

    #[test]
    fn keeps_thread_ts() {
        let v = with_event(app_mention(), "thread_ts", json!("1515449000.000100"));
        let m = message(&v);
        assert_eq!(m.thread_ts.as_deref(), Some("1515449000.000100"));
        assert_eq!(m.reply_thread_ts(), "1515449000.000100");
        assert_eq!(message(&app_mention()).reply_thread_ts(), "1515449522.000016");
    }

    #[test]
    fn bot_user_id_comes_only_from_a_bot_authorization_of_the_same_workspace() {
        let mut v = app_mention();
        v["authorizations"][0]["is_bot"] = json!(false);
        assert_eq!(message(&v).bot_user_id, None);
        let mut v = app_mention();
        v["authorizations"][0]["team_id"] = json!("T_OTHER_ORG");
        assert_eq!(message(&v).bot_user_id, None);
        let mut v = app_mention();
        v.as_object_mut().unwrap().remove("authorizations");
        let m = message(&v);
        assert_eq!(m.bot_user_id, None);
        assert_eq!(m.body(), "@U0LAN0Z89 is it everything a river should be?");
        assert_eq!(m.with_bot_user_id("U0LAN0Z89").body(), "is it everything a river should be?");
    }

    #[test]
    fn refuses_malformed_bodies() {
        assert_eq!(parse(b"\xff\xfe{}"), Err(InboundError::NotUtf8(0)));
        assert_eq!(parse(b"{\"type\":\"event_callback\",\"x\":\"\xc3\x28\"}"), Err(InboundError::NotUtf8(30)));
        assert!(matches!(parse(b""), Err(InboundError::BadJson(_))));
        assert!(matches!(parse(b"{\"type\":"), Err(InboundError::BadJson(_))));
        assert!(matches!(parse(b"type=event_callback"), Err(InboundError::BadJson(_))));
        assert_eq!(parse(b"[1,2]"), Err(InboundError::NotAnObject));
        assert_eq!(parse(b"null"), Err(InboundError::NotAnObject));
        assert_eq!(parse(b"{}"), Err(InboundError::Missing("type")));
        assert_eq!(parse(br#"{"type":7}"#), Err(InboundError::WrongType { field: "type", expected: "a string" }));
    }

    #[test]
    fn refuses_event_callbacks_missing_what_we_need() {
        for (key, field) in
            [("team_id", "team_id"), ("api_app_id", "api_app_id"), ("event_id", "event_id"), ("event", "event")]
        {
            let mut v = app_mention();
            v.as_object_mut().unwrap().remove(key);
            assert_eq!(run(&v), Err(InboundError::Missing(field)), "{key}");
        }
        for (key, field) in
            [("user", "event.user"), ("channel", "event.channel"), ("ts", "event.ts"), ("type", "event.type")]
        {
            let mut v = app_mention();
            v["event"].as_object_mut().unwrap().remove(key);
            assert_eq!(run(&v), Err(InboundError::Missing(field)), "{key}");
        }
        let mut v = app_mention();
        v["event"] = json!("not an object");
        assert_eq!(run(&v), Err(InboundError::WrongType { field: "event", expected: "an object" }));
        let mut v = app_mention();
        v["event_time"] = json!("yesterday");
        assert_eq!(run(&v), Err(InboundError::WrongType { field: "event_time", expected: "an integer" }));
        let v = with_event(app_mention(), "text", json!(42));
        assert_eq!(run(&v), Err(InboundError::WrongType { field: "event.text", expected: "a string" }));
    }

    #[test]
    fn refuses_malformed_ids() {
        let v = with_event(app_mention(), "channel", json!("C1; DROP"));
        assert!(matches!(run(&v), Err(InboundError::BadId { field: "event.channel", .. })));
        for ts in ["1515449522", "abc.def", ".5", "1.", "1.2.3"] {
            let v = with_event(app_mention(), "ts", json!(ts));
            assert!(matches!(run(&v), Err(InboundError::BadId { field: "event.ts", .. })), "{ts}");
        }
        let v = with_event(app_mention(), "thread_ts", json!("later"));
        assert!(matches!(run(&v), Err(InboundError::BadId { field: "event.thread_ts", .. })));
        let v = with_event(app_mention(), "user", json!("U 1"));
        assert!(matches!(run(&v), Err(InboundError::BadUser(_))));
        let mut v = app_mention();
        v["team_id"] = json!("T1\n");
        assert!(matches!(run(&v), Err(InboundError::BadId { field: "team_id", .. })));
    }

    #[test]
    fn handles_large_bodies() {
        let text = "ä".repeat(1_500_000);
        let v = with_event(direct_message(), "text", json!(text));
        let m = message(&v);
        assert_eq!(m.text.chars().count(), 1_500_000);
    }
}
