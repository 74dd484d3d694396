//! Keeping push notifications flowing: `users.watch`
//! (developers.google.com/gmail/api/reference/rest/v1/users/watch and the
//! push guide's "Renewing mailbox watch"): `POST
//! {base}/gmail/v1/users/{userId}/watch` with `{"topicName":
//! "projects/…/topics/…", "labelIds": ["INBOX"], "labelFilterBehavior":
//! "INCLUDE"}`, answer `{"historyId": "…", "expiration": "<epoch ms>"}`.
//! A watch lasts 7 days; Google recommends calling watch again daily.
//! Owns `WatchResponse` and `watch_needs_renewal`.

use super::api::{ApiError, GmailApi, check_status, parse_json};
use super::oauth::AccessToken;
use super::push::parse_history_id;
use crate::channels::ProviderRequest;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// Renew a watch when less than this is left.
pub const RENEW_BEFORE_HOURS: i64 = 24;

impl GmailApi {
    /// `users.watch` on INBOX, publishing to `topic_name`
    /// (`projects/<project>/topics/<topic>`).
    pub fn watch(&self, token: &AccessToken, topic_name: &str) -> Result<ProviderRequest, ApiError> {
        let parts: Vec<&str> = topic_name.split('/').collect();
        let ok = parts.len() == 4
            && parts[0] == "projects"
            && parts[2] == "topics"
            && [parts[1], parts[3]]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~+%".contains(&b)));
        if !ok {
            return Err(ApiError::BadTopic(topic_name.to_string()));
        }
        let body = json!({"topicName": topic_name, "labelIds": ["INBOX"], "labelFilterBehavior": "INCLUDE"});
        Ok(self.post_json(token, self.user_url("watch"), &body))
    }
}

/// An active watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchResponse {
    /// The mailbox's history id now: list history from here.
    pub history_id: u64,
    pub expiration: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WatchBody {
    history_id: Option<Value>,
    expiration: Option<Value>,
}

/// Reads `users.watch`'s answer.
pub fn parse_watch_response(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<WatchResponse, ApiError> {
    check_status(http_status, retry_after, body)?;
    let w: WatchBody = parse_json(body)?;
    let history_id =
        w.history_id.as_ref().and_then(parse_history_id).ok_or_else(|| ApiError::BadResponse("no historyId".into()))?;
    let expiration = w
        .expiration
        .as_ref()
        .and_then(parse_history_id)
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| ApiError::BadResponse("no expiration (epoch milliseconds)".into()))?;
    Ok(WatchResponse { history_id, expiration })
}

/// Whether to call `watch` again: less than `RENEW_BEFORE_HOURS` left (or
/// already expired).
pub fn watch_needs_renewal(expiration: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    expiration - now < TimeDelta::hours(RENEW_BEFORE_HOURS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn token() -> AccessToken {
        AccessToken::new("t", Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()).unwrap()
    }

    #[test]
    fn builds_the_watch_request() {
        let api = GmailApi::new(super::super::api::DEFAULT_BASE_URL, "me").unwrap();
        let r = api.watch(&token(), "projects/acme-prod/topics/gmail-inbox").unwrap();
        assert_eq!((r.method, r.content_type), ("POST", "application/json"));
        assert_eq!(r.url, "https://gmail.googleapis.com/gmail/v1/users/me/watch");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            body,
            json!({"topicName": "projects/acme-prod/topics/gmail-inbox", "labelIds": ["INBOX"], "labelFilterBehavior": "INCLUDE"})
        );
        for bad in [
            "gmail-inbox",
            "projects//topics/x",
            "projects/p/subscriptions/x",
            "projects/p/topics/x/y",
            "projects/p/topics/a\"b",
        ] {
            assert!(matches!(api.watch(&token(), bad), Err(ApiError::BadTopic(_))), "{bad}");
        }
    }

    #[test]
    fn parses_the_watch_answer() {
        let w = parse_watch_response(200, None, br#"{"historyId":"1234567","expiration":"1714554000000"}"#).unwrap();
        assert_eq!(w.history_id, 1_234_567);
        assert_eq!(w.expiration, Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap());
        assert!(matches!(parse_watch_response(200, None, br#"{"historyId":"1"}"#), Err(ApiError::BadResponse(_))));
        let e = parse_watch_response(403, None, br#"{"error":{"code":403,"message":"User not authorized to perform this action.","status":"PERMISSION_DENIED","errors":[{"reason":"forbidden"}]}}"#).unwrap_err();
        assert!(!e.retryable());
    }

    #[test]
    fn renews_within_a_day_of_expiry() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap();
        assert!(!watch_needs_renewal(now + TimeDelta::days(7), now));
        assert!(!watch_needs_renewal(now + TimeDelta::hours(25), now));
        assert!(watch_needs_renewal(now + TimeDelta::hours(23), now));
        assert!(watch_needs_renewal(now - TimeDelta::hours(1), now));
    }
}
