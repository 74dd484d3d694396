//! Tests of Slack replies: the chat.postMessage request built for a
//! reply, the answers Slack gives and what each one means.

use super::*;
use serde_json::{Value, json};

const TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";

fn token() -> BotToken {
    BotToken::new(TOKEN).unwrap()
}

#[test]
fn builds_the_post_message_request() {
    let req = post_message_request(
        "https://slack.com/",
        &token(),
        "C123ABC456",
        "Hi Ana — *exports* are under `Reports > Export` & <https://tallyloom.com/docs|the docs>.",
        Some("1515449522.000016"),
        Some("0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57"),
    )
    .unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.url, "https://slack.com/api/chat.postMessage");
    assert_eq!(req.authorization, format!("Bearer {TOKEN}"));
    assert_eq!(req.content_type, "application/json; charset=utf-8");
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(
        body,
        json!({
            "channel": "C123ABC456",
            "text": "Hi Ana — *exports* are under `Reports > Export` & <https://tallyloom.com/docs|the docs>.",
            "thread_ts": "1515449522.000016",
            "mrkdwn": true,
            "unfurl_links": false,
            "metadata": {
                "event_type": "fte_reply",
                "event_payload": {"reply_id": "0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57"}
            }
        })
    );
    assert!(!format!("{req:?}").contains("pdFZ"));
    assert!(!format!("{:?}", token()).contains("pdFZ"));
}

#[test]
fn omits_thread_ts_and_metadata_when_not_given_and_uses_the_base_url() {
    let req = post_message_request("http://127.0.0.1:9999", &token(), "D0442US94JD", "hello", None, None).unwrap();
    assert_eq!(req.url, "http://127.0.0.1:9999/api/chat.postMessage");
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert!(body.get("thread_ts").is_none());
    assert!(body.get("metadata").is_none());
    assert_eq!(DEFAULT_BASE_URL, "https://slack.com");
}

#[test]
fn refuses_bad_requests() {
    let t = token();
    let r =
        |base: &str, ch: &str, text: &str, ts: Option<&str>| post_message_request(base, &t, ch, text, ts, Some("r"));
    assert!(matches!(r("slack.com", "C1", "hi", None), Err(OutboundError::BadBaseUrl(_))));
    assert!(matches!(r("ftp://slack.com", "C1", "hi", None), Err(OutboundError::BadBaseUrl(_))));
    assert!(matches!(r(DEFAULT_BASE_URL, "", "hi", None), Err(OutboundError::BadChannel(_))));
    assert!(matches!(r(DEFAULT_BASE_URL, "#general", "hi", None), Err(OutboundError::BadChannel(_))));
    assert!(matches!(r(DEFAULT_BASE_URL, "C1", "hi", Some("soon")), Err(OutboundError::BadThreadTs(_))));
    assert_eq!(r(DEFAULT_BASE_URL, "C1", " \n ", None), Err(OutboundError::EmptyText));
    assert_eq!(r(DEFAULT_BASE_URL, "C1", "", None), Err(OutboundError::EmptyText));
    let max = "é".repeat(MAX_TEXT_CHARS);
    assert!(r(DEFAULT_BASE_URL, "C1", &max, None).is_ok());
    let over = "é".repeat(MAX_TEXT_CHARS + 1);
    assert_eq!(r(DEFAULT_BASE_URL, "C1", &over, None), Err(OutboundError::TextTooLong(MAX_TEXT_CHARS + 1)));
}

#[test]
fn accepts_only_bot_tokens() {
    assert!(BotToken::new("xoxe.xoxb-1-MTIzNDU2Nzg5").is_ok());
    for bad in ["", "xoxp-123-456-789-abc", "xapp-1-A1-1-abc", "Bearer xoxb-1-2-3", "xoxb-1-2\r\nX: y", "xoxb-"] {
        assert_eq!(BotToken::new(bad), Err(OutboundError::BadToken), "{bad:?}");
    }
}

#[test]
fn reads_a_success() {
    let body = br#"{"ok":true,"channel":"C1H9RESGL","ts":"1503435956.000247","message":{"text":"Here's a message for you","username":"ecto1","bot_id":"B19LU7CSY","type":"message","subtype":"bot_message","ts":"1503435956.000247"}}"#;
    let posted = parse_post_message_response(200, None, body).unwrap();
    assert_eq!(posted, PostedMessage { channel: "C1H9RESGL".into(), ts: "1503435956.000247".into() });
    assert_eq!(posted.delivery_status(), DeliveryStatus::Delivered);
    // Warnings ride along with ok: true.
    let body = br#"{"ok":true,"channel":"C1","ts":"1.2","warning":"missing_charset","response_metadata":{"warnings":["missing_charset"]}}"#;
    assert!(parse_post_message_response(200, None, body).is_ok());
}

#[test]
fn classifies_slack_error_codes() {
    for code in
        ["ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"]
    {
        let body = format!(r#"{{"ok":false,"error":"{code}"}}"#);
        let e = parse_post_message_response(200, None, body.as_bytes()).unwrap_err();
        assert_eq!(e.slack_error(), Some(code));
        assert!(e.retryable(), "{code} should be retryable");
    }
    for code in [
        "channel_not_found",
        "not_in_channel",
        "invalid_auth",
        "token_revoked",
        "msg_too_long",
        "is_archived",
        "no_text",
        "restricted_action",
        "missing_scope",
        "some_future_error",
    ] {
        let body = format!(r#"{{"ok":false,"error":"{code}"}}"#);
        let e = parse_post_message_response(200, None, body.as_bytes()).unwrap_err();
        assert!(!e.retryable(), "{code} should be permanent");
        assert_eq!(e.to_string(), format!("Slack answered HTTP 200: {code}"));
    }
    let e = parse_post_message_response(200, None, br#"{"ok":false,"error":"token_revoked"}"#).unwrap_err();
    assert!(e.auth_failed());
    let e = parse_post_message_response(200, None, br#"{"ok":false,"error":"channel_not_found"}"#).unwrap_err();
    assert!(!e.auth_failed());
    let e = parse_post_message_response(200, None, br#"{"ok":false}"#).unwrap_err();
    assert_eq!(e, OutboundError::Api { http_status: 200, error: None, retry_after: None });
    assert!(!e.retryable());
}

#[test]
fn http_429_is_retryable_after_the_given_delay() {
    let e = parse_post_message_response(429, Some("30"), br#"{"ok":false,"error":"ratelimited"}"#).unwrap_err();
    assert!(e.retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(e.slack_error(), Some("ratelimited"));
    assert_eq!(e.to_string(), "Slack answered HTTP 429: ratelimited (retry after 30 s)");
    // Without a readable Retry-After, or without a body, still retryable.
    for (after, body) in [(None, &b""[..]), (Some("soon"), &b"<html>"[..]), (Some(" 5 "), &b""[..])] {
        let e = parse_post_message_response(429, after, body).unwrap_err();
        assert!(e.retryable());
        assert_eq!(e.retry_after(), if after == Some(" 5 ") { Some(Duration::from_secs(5)) } else { None });
    }
    let e = parse_post_message_response(429, Some("Wed, 21 Oct 2015 07:28:00 GMT"), b"").unwrap_err();
    assert_eq!(e.retry_after(), None);
}

#[test]
fn server_errors_are_retryable_client_errors_are_not() {
    for status in [500, 502, 503, 504] {
        let e = parse_post_message_response(status, None, b"<html>Bad Gateway</html>").unwrap_err();
        assert!(e.retryable(), "{status}");
        assert_eq!(e.slack_error(), None);
    }
    for status in [400, 401, 403, 404, 410] {
        let e = parse_post_message_response(status, None, br#"{"ok":false,"error":"invalid_arguments"}"#).unwrap_err();
        assert!(!e.retryable(), "{status}");
    }
    let e = parse_post_message_response(503, Some("10"), br#"{"ok":false,"error":"service_unavailable"}"#).unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(10)));
}

#[test]
fn unreadable_successes_are_not_retryable() {
    for body in [
        &b""[..],
        b"<html>ok</html>",
        b"{\"ok\":true}",
        b"{\"ok\":true,\"channel\":\"C1\"}",
        b"{\"channel\":\"C1\",\"ts\":\"1.2\"}",
        b"[]",
        b"{\"ok\":true,\"channel\":\"C1\",\"ts\":\"x\"}",
        b"\xff",
    ] {
        let e = parse_post_message_response(200, None, body).unwrap_err();
        assert!(matches!(e, OutboundError::BadResponse(_)), "{body:?}: {e:?}");
        assert!(!e.retryable());
    }
}
