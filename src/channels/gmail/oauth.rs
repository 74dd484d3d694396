//! Google OAuth 2.0 for the mailbox: the refresh-token grant
//! (developers.google.com/identity/protocols/oauth2/web-server,
//! "Refreshing an access token"; RFC 6749 §6): `POST {token_url}` (default
//! `https://oauth2.googleapis.com/token`) with form body
//! `client_id`, `client_secret`, `refresh_token`, `grant_type=refresh_token`;
//! success `{"access_token", "expires_in" (seconds), "token_type":
//! "Bearer", "scope"}`; failure `{"error": "invalid_grant",
//! "error_description": "…"}` (RFC 6749 §5.2). `invalid_grant` (revoked or
//! expired refresh token), `invalid_client` and friends are permanent: a
//! human must re-authorise the mailbox. Owns `OAuthClient`, `AccessToken`
//! and `OAuthError`.
//!
//! Note: the request's body carries the refresh token and client secret,
//! and `ProviderRequest`'s Debug prints bodies: never log this request.

use super::api::parse_retry_after;
use super::urlenc;
use crate::channels::ProviderRequest;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Refresh a token this long before it expires.
pub const REFRESH_MARGIN_SECS: i64 = 120;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OAuthError {
    #[error("token URL {0:?} is not an http(s) URL")]
    BadTokenUrl(String),
    #[error("the OAuth {0} is empty or has control characters")]
    BadCredential(&'static str),
    #[error("Google refused the refresh (HTTP {http_status}, {error}: {description}); re-authorise the mailbox")]
    Rejected { http_status: u16, error: String, description: String },
    #[error("the token endpoint answered HTTP {http_status}; try again later")]
    Unavailable { http_status: u16, retry_after: Option<Duration> },
    #[error("the token endpoint's answer could not be read: {0}")]
    BadResponse(String),
}

impl OAuthError {
    /// Throttling and server errors only.
    pub fn retryable(&self) -> bool {
        matches!(self, OAuthError::Unavailable { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            OAuthError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A Gmail access token and when it stops working.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The bearer credential: never log it.
    pub value: String,
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("value", &"<redacted>").field("expires_at", &self.expires_at).finish()
    }
}

impl AccessToken {
    /// A token from storage (or a test). Rejects values that cannot be an
    /// HTTP header.
    pub fn new(value: &str, expires_at: DateTime<Utc>) -> Result<Self, OAuthError> {
        if !is_header_safe(value) {
            return Err(OAuthError::BadCredential("access token"));
        }
        Ok(Self { value: value.to_string(), expires_at })
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.value)
    }

    /// Whether to refresh before the next call (expired, or less than
    /// `REFRESH_MARGIN_SECS` left).
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now < TimeDelta::seconds(REFRESH_MARGIN_SECS)
    }
}

fn is_header_safe(s: &str) -> bool {
    !s.is_empty() && s.len() <= 8192 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// The OAuth client the mailbox authorised.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    token_url: String,
    client_id: String,
    client_secret: String,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl OAuthClient {
    pub fn new(token_url: &str, client_id: &str, client_secret: &str) -> Result<Self, OAuthError> {
        let url = token_url.trim();
        if !urlenc::is_http_url(url) {
            return Err(OAuthError::BadTokenUrl(token_url.to_string()));
        }
        if !is_header_safe(client_id) {
            return Err(OAuthError::BadCredential("client id"));
        }
        if !is_header_safe(client_secret) {
            return Err(OAuthError::BadCredential("client secret"));
        }
        Ok(Self {
            token_url: url.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
        })
    }

    /// The refresh-token grant. The credentials travel in the body
    /// (`client_secret_post`), so `authorization` is empty: send no
    /// `Authorization` header.
    pub fn refresh_request(&self, refresh_token: &str) -> Result<ProviderRequest, OAuthError> {
        if !is_header_safe(refresh_token) {
            return Err(OAuthError::BadCredential("refresh token"));
        }
        Ok(ProviderRequest {
            method: "POST",
            url: self.token_url.clone(),
            authorization: String::new(),
            content_type: "application/x-www-form-urlencoded",
            body: urlenc::form([
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
            ]),
        })
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

/// Reads the token endpoint's answer into an `AccessToken` expiring
/// `expires_in` seconds after `now`.
pub fn parse_token_response(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<AccessToken, OAuthError> {
    if http_status == 429 || (500..=599).contains(&http_status) {
        return Err(OAuthError::Unavailable { http_status, retry_after: parse_retry_after(retry_after) });
    }
    if !(200..=299).contains(&http_status) {
        let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
        let error = parsed.as_ref().and_then(|p| p.error.clone()).unwrap_or_else(|| "unknown_error".to_string());
        if error == "temporarily_unavailable" {
            return Err(OAuthError::Unavailable { http_status, retry_after: parse_retry_after(retry_after) });
        }
        let description = parsed.and_then(|p| p.error_description).unwrap_or_default();
        return Err(OAuthError::Rejected { http_status, error, description });
    }
    let parsed: TokenBody =
        serde_json::from_slice(body).map_err(|e| OAuthError::BadResponse(format!("not the expected JSON: {e}")))?;
    let value = parsed.access_token.ok_or_else(|| OAuthError::BadResponse("no access_token".into()))?;
    if let Some(t) = parsed.token_type.as_deref()
        && !t.eq_ignore_ascii_case("bearer")
    {
        return Err(OAuthError::BadResponse(format!("token_type {t:?} is not Bearer")));
    }
    let expires_in = match parsed.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|s| (1..=86_400 * 365).contains(s))
    .ok_or_else(|| OAuthError::BadResponse("no usable expires_in".into()))?;
    let expires_at = now + TimeDelta::seconds(expires_in);
    AccessToken::new(&value, expires_at)
        .map_err(|_| OAuthError::BadResponse("access_token is not a header value".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn builds_the_refresh_request() {
        let c = OAuthClient::new(DEFAULT_TOKEN_URL, "123.apps.googleusercontent.com", "s3cr3t/+").unwrap();
        let r = c.refresh_request("1//0g-refresh").unwrap();
        assert_eq!((r.method, r.url.as_str()), ("POST", DEFAULT_TOKEN_URL));
        assert_eq!(r.content_type, "application/x-www-form-urlencoded");
        assert_eq!(r.authorization, "");
        assert_eq!(
            r.body,
            "grant_type=refresh_token&refresh_token=1%2F%2F0g-refresh\
             &client_id=123.apps.googleusercontent.com&client_secret=s3cr3t%2F%2B"
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(c.refresh_request("a\r\nb"), Err(OAuthError::BadCredential("refresh token")));
        assert!(matches!(OAuthClient::new("token", "a", "b"), Err(OAuthError::BadTokenUrl(_))));
        assert_eq!(OAuthClient::new(DEFAULT_TOKEN_URL, "", "b"), Err(OAuthError::BadCredential("client id")));
    }

    #[test]
    fn parses_a_token() {
        let body = br#"{"access_token":"ya29.a0AfH6","expires_in":3599,"scope":"https://www.googleapis.com/auth/gmail.modify","token_type":"Bearer"}"#;
        let t = parse_token_response(200, None, body, now()).unwrap();
        assert_eq!(t.value, "ya29.a0AfH6");
        assert_eq!(t.expires_at, now() + TimeDelta::seconds(3599));
        assert_eq!(t.bearer(), "Bearer ya29.a0AfH6");
        assert!(!format!("{t:?}").contains("ya29"));
        assert!(!t.needs_refresh(now()));
        assert!(t.needs_refresh(now() + TimeDelta::seconds(3500)));
    }

    #[test]
    fn classifies_token_errors() {
        let e = parse_token_response(
            400,
            None,
            br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
            now(),
        )
        .unwrap_err();
        assert!(matches!(&e, OAuthError::Rejected { error, .. } if error == "invalid_grant"));
        assert!(!e.retryable());
        assert!(!parse_token_response(401, None, br#"{"error":"invalid_client"}"#, now()).unwrap_err().retryable());
        let e = parse_token_response(503, Some("5"), b"", now()).unwrap_err();
        assert!(e.retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
        assert!(parse_token_response(429, None, b"", now()).unwrap_err().retryable());
        assert!(
            parse_token_response(400, None, br#"{"error":"temporarily_unavailable"}"#, now()).unwrap_err().retryable()
        );
        for body in [
            &b"nope"[..],
            br#"{"expires_in":10}"#,
            br#"{"access_token":"a","expires_in":0}"#,
            br#"{"access_token":"a","expires_in":10,"token_type":"MAC"}"#,
            br#"{"access_token":"a b","expires_in":10}"#,
        ] {
            let e = parse_token_response(200, None, body, now()).unwrap_err();
            assert!(matches!(e, OAuthError::BadResponse(_)) && !e.retryable(), "{body:?}");
        }
    }
}
