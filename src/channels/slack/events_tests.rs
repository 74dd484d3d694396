//! Tests of parsing Events API payloads: Slack's documented examples, what
//! is kept, what is ignored and why, malformed envelopes.

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
