//! Who a Slack user is: the Web API's `users.info`
//! (docs.slack.dev/reference/methods/users.info), `GET
//! {base}/api/users.info?user=U…` with the bot token as Bearer. The answer
//! is `{"ok": true, "user": {"id", "team_id", "name", "real_name",
//! "deleted", "is_bot", "profile": {"email", "real_name", "display_name",
//! …}}}`; `profile.email` is there only when the token has the
//! `users:read.email` scope (and the user has an email: not bots), and
//! profile fields the user left blank may be missing, null or `""`.
//! Refusals come as in `outbound`: `{"ok": false, "error": "user_not_found"
//! | "user_not_visible" | "missing_scope" | "invalid_auth" | …}` under HTTP
//! 200, HTTP 429 with `Retry-After: <seconds>` and `ratelimited`, or a
//! 5xx. No I/O. Owns `UsersError`, `SlackProfile` and the two functions.

use super::outbound::{
    AUTH_ERRORS, BotToken, Refusal, SlackAnswer, api_retryable, is_http_url, open_answer, parse_retry_after,
};
use crate::channels::ProviderRequest;
use crate::channels::gmail::urlenc::component;
use crate::domain::{EmailAddress, SlackUserId};
use serde::Deserialize;
use std::time::Duration;

/// Longest display name kept from a profile (characters).
pub const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsersError {
    #[error("Slack base URL {0:?} is not an http(s) URL")]
    BadBaseUrl(String),
    #[error("Slack answered HTTP {http_status} to users.info: {}", .error.as_deref().unwrap_or("no Slack error code"))]
    Api { http_status: u16, error: Option<String>, retry_after: Option<Duration> },
    #[error("Slack's users.info answer could not be read: {0}")]
    BadResponse(String),
}

impl UsersError {
    /// Slack's error code, if it gave one.
    pub fn slack_error(&self) -> Option<&str> {
        match self {
            UsersError::Api { error, .. } => error.as_deref(),
            _ => None,
        }
    }

    /// Slack is throttling us: HTTP 429, or `ratelimited`.
    pub fn rate_limited(&self) -> bool {
        match self {
            UsersError::Api { http_status, error, .. } => {
                *http_status == 429 || matches!(error.as_deref(), Some("ratelimited" | "rate_limited"))
            }
            _ => false,
        }
    }

    /// Whether the same call may succeed later: throttling, 5xx, the
    /// Slack-side error codes, an answer that could not be read.
    pub fn retryable(&self) -> bool {
        match self {
            UsersError::Api { http_status, error, .. } => api_retryable(*http_status, error.as_deref()),
            UsersError::BadResponse(_) => true,
            UsersError::BadBaseUrl(_) => false,
        }
    }

    /// Whether the token or the installation cannot make this call for any
    /// user (`missing_scope`, `invalid_auth`, a revoked token...), as
    /// opposed to a refusal about this one user (`user_not_found`).
    pub fn auth_failed(&self) -> bool {
        self.slack_error().is_some_and(|e| AUTH_ERRORS.contains(&e))
    }

    /// How long Slack asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            UsersError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The request reading `user`'s profile. `base_url` is
/// `outbound::DEFAULT_BASE_URL` in production.
pub fn users_info_request(base_url: &str, token: &BotToken, user: &SlackUserId) -> Result<ProviderRequest, UsersError> {
    let base = base_url.trim_end_matches('/');
    if !is_http_url(base) {
        return Err(UsersError::BadBaseUrl(base_url.to_string()));
    }
    Ok(ProviderRequest {
        method: "GET",
        url: format!("{base}/api/users.info?user={}", component(user.as_str())),
        authorization: token.bearer(),
        content_type: "application/x-www-form-urlencoded",
        body: String::new(),
    })
}

/// What a profile tells about the person behind a Slack user.
#[derive(Clone, PartialEq, Eq)]
pub struct SlackProfile {
    /// `profile.email`, when present and a valid address.
    pub email: Option<EmailAddress>,
    /// `profile.real_name`, else `profile.display_name`, else the user's
    /// `real_name`: trimmed, at most `MAX_NAME_CHARS`.
    pub name: Option<String>,
}

/// Personal data: only what it holds is shown, never the values.
impl std::fmt::Debug for SlackProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackProfile")
            .field("email", &self.email.as_ref().map(|_| "<email>"))
            .field("name", &self.name.as_ref().map(|_| "<name>"))
            .finish()
    }
}

#[derive(Deserialize)]
struct InfoBody {
    ok: Option<bool>,
    error: Option<String>,
    user: Option<UserBody>,
}

#[derive(Deserialize)]
struct UserBody {
    id: Option<String>,
    real_name: Option<String>,
    profile: Option<ProfileBody>,
}

#[derive(Deserialize)]
struct ProfileBody {
    email: Option<String>,
    real_name: Option<String>,
    display_name: Option<String>,
}

impl SlackAnswer for InfoBody {
    fn ok(&self) -> Option<bool> {
        self.ok
    }
    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

fn name(raw: Option<String>) -> Option<String> {
    let raw = raw?;
    let one_line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = one_line.chars().take(MAX_NAME_CHARS).collect();
    (!cut.is_empty()).then_some(cut)
}

/// Reads the answer to a `users_info_request` for `user`: the HTTP status,
/// the `Retry-After` header if any, and the body. An `ok: true` answer
/// without a `user` object, or about another user, is `BadResponse`; an
/// email that is not a valid address is left out.
pub fn parse_users_info_response(
    user: &SlackUserId,
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<SlackProfile, UsersError> {
    let retry_after = retry_after.and_then(parse_retry_after);
    let parsed = open_answer::<InfoBody>(http_status, body).map_err(|refusal| match refusal {
        Refusal::Api { error } => UsersError::Api { http_status, error, retry_after },
        Refusal::Unreadable(reason) => UsersError::BadResponse(reason),
    })?;
    let found = parsed.user.ok_or_else(|| UsersError::BadResponse("no user object".into()))?;
    if found.id.as_deref().is_some_and(|id| id != user.as_str()) {
        return Err(UsersError::BadResponse("the answer is about another user".into()));
    }
    let (email, real_name, display_name) = match found.profile {
        Some(p) => (p.email, p.real_name, p.display_name),
        None => (None, None, None),
    };
    let email = email.filter(|e| !e.trim().is_empty()).and_then(|e| EmailAddress::parse(&e).ok());
    let name = name(real_name).or_else(|| name(display_name)).or_else(|| name(found.real_name));
    Ok(SlackProfile { email, name })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";

    fn user() -> SlackUserId {
        SlackUserId::parse("W012A3CDE").unwrap()
    }

    /// Slack's documented example answer (docs.slack.dev, users.info).
    fn spengler() -> serde_json::Value {
        json!({
            "ok": true,
            "user": {
                "id": "W012A3CDE", "team_id": "T012AB3C4", "name": "spengler", "deleted": false,
                "color": "9f69e7", "real_name": "Egon Spengler", "tz": "America/Los_Angeles",
                "tz_label": "Pacific Daylight Time", "tz_offset": -25200,
                "profile": {
                    "avatar_hash": "ge3b51ca72de", "status_text": "Print is dead", "status_emoji": ":books:",
                    "real_name": "Egon Spengler", "display_name": "spengler",
                    "real_name_normalized": "Egon Spengler", "display_name_normalized": "spengler",
                    "email": "spengler@ghostbusters.example.com",
                    "image_24": "https://.../avatar/e3b51ca72dee4ef87916ae2b9240df50.jpg", "team": "T012AB3C4"
                },
                "is_admin": true, "is_owner": false, "is_primary_owner": false, "is_restricted": false,
                "is_ultra_restricted": false, "is_bot": false, "updated": 1502138686, "is_app_user": false,
                "has_2fa": false
            }
        })
    }

    #[test]
    fn builds_the_read() {
        let token = BotToken::new(TOKEN).unwrap();
        let r = users_info_request("https://slack.com/", &token, &user()).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.url, "https://slack.com/api/users.info?user=W012A3CDE");
        assert_eq!(r.authorization, format!("Bearer {TOKEN}"));
        assert!(r.body.is_empty());
        assert!(!format!("{r:?}").contains("pdFZ"));
        let odd = SlackUserId::parse("lena.h").unwrap();
        assert_eq!(
            users_info_request("http://127.0.0.1:9", &token, &odd).unwrap().url,
            "http://127.0.0.1:9/api/users.info?user=lena.h"
        );
        assert!(matches!(users_info_request("slack.com", &token, &user()), Err(UsersError::BadBaseUrl(_))));
    }

    #[test]
    fn reads_the_profile() {
        let p = parse_users_info_response(&user(), 200, None, spengler().to_string().as_bytes()).unwrap();
        assert_eq!(p.email.unwrap().as_str(), "spengler@ghostbusters.example.com");
        assert_eq!(p.name.as_deref(), Some("Egon Spengler"));
        // Without users:read.email: no email; blank names fall back.
        let mut v = spengler();
        let profile = v["user"]["profile"].as_object_mut().unwrap();
        profile.remove("email");
        profile.insert("real_name".into(), json!(""));
        let p = parse_users_info_response(&user(), 200, None, v.to_string().as_bytes()).unwrap();
        assert_eq!(p.email, None);
        assert_eq!(p.name.as_deref(), Some("spengler"));
        v["user"]["profile"]["display_name"] = json!(null);
        let p = parse_users_info_response(&user(), 200, None, v.to_string().as_bytes()).unwrap();
        assert_eq!(p.name.as_deref(), Some("Egon Spengler"), "the user's real_name");
        // A bot: no profile email, no names.
        let bot = json!({"ok": true, "user": {"id": "W012A3CDE", "is_bot": true, "profile": {"real_name": null}}});
        let p = parse_users_info_response(&user(), 200, None, bot.to_string().as_bytes()).unwrap();
        assert_eq!((p.email, p.name), (None, None));
        // Not an address: left out. Upper case: normalised.
        let mut v = spengler();
        v["user"]["profile"]["email"] = json!("not-an-address");
        assert_eq!(parse_users_info_response(&user(), 200, None, v.to_string().as_bytes()).unwrap().email, None);
        v["user"]["profile"]["email"] = json!(" Egon@GhostBusters.example.com ");
        let p = parse_users_info_response(&user(), 200, None, v.to_string().as_bytes()).unwrap();
        assert_eq!(p.email.unwrap().as_str(), "egon@ghostbusters.example.com");
        assert!(
            !format!("{:?}", parse_users_info_response(&user(), 200, None, spengler().to_string().as_bytes()))
                .contains("spengler")
        );
    }

    #[test]
    fn long_names_are_cut_to_one_line() {
        let mut v = spengler();
        v["user"]["profile"]["real_name"] = json!(format!("Egon\n\t{}", "é".repeat(500)));
        let p = parse_users_info_response(&user(), 200, None, v.to_string().as_bytes()).unwrap();
        let name = p.name.unwrap();
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.starts_with("Egon é"));
    }

    #[test]
    fn classifies_refusals() {
        let refusal = |status: u16, retry: Option<&str>, body: &str| {
            parse_users_info_response(&user(), status, retry, body.as_bytes()).unwrap_err()
        };
        let e =
            refusal(200, None, r#"{"ok":false,"error":"missing_scope","needed":"users:read","provided":"chat:write"}"#);
        assert_eq!(e.slack_error(), Some("missing_scope"));
        assert!(e.auth_failed() && !e.retryable() && !e.rate_limited());
        for code in ["invalid_auth", "token_revoked", "account_inactive", "not_authed"] {
            assert!(refusal(200, None, &format!(r#"{{"ok":false,"error":"{code}"}}"#)).auth_failed(), "{code}");
        }
        let e = refusal(200, None, r#"{"ok":false,"error":"user_not_found"}"#);
        assert!(!e.auth_failed() && !e.retryable());
        assert_eq!(e.to_string(), "Slack answered HTTP 200 to users.info: user_not_found");
        let e = refusal(429, Some("30"), r#"{"ok":false,"error":"ratelimited"}"#);
        assert!(e.rate_limited() && e.retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        let e = refusal(200, None, r#"{"ok":false,"error":"ratelimited"}"#);
        assert!(e.rate_limited());
        assert!(refusal(503, None, "<html>").retryable());
        for body in ["", "<html>", "{}", r#"{"ok":true}"#] {
            assert!(matches!(refusal(200, None, body), UsersError::BadResponse(_)), "{body:?}");
        }
        let other = json!({"ok": true, "user": {"id": "U999", "profile": {"email": "x@example.com"}}});
        assert!(matches!(refusal(200, None, &other.to_string()), UsersError::BadResponse(_)));
    }
}
