//! The Gmail REST API's common ground: `GmailApi` (base URL, default
//! `https://gmail.googleapis.com`, and the `userId` path segment, usually
//! `me`), the GET requests every call shares, and the reading of answers.
//! Errors follow Google's JSON error format (cloud.google.com/apis/design/errors,
//! developers.google.com/gmail/api/guides/handle-errors):
//! `{"error": {"code": 429, "message": "…", "status": "RESOURCE_EXHAUSTED",
//! "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded",
//! "message": "…"}]}}`. Retryable: HTTP 429, 5xx, reasons
//! `rateLimitExceeded`, `userRateLimitExceeded` and `backendError` (Gmail
//! sends the rate-limit reasons with 403); 401 is `unauthorized()` (refresh
//! the access token once and retry); everything else is permanent. A 2xx
//! that cannot be read is `BadResponse`, never retryable (a send may have
//! gone through). Owns `GmailApi`, `GoogleError`, `ErrorDetail` and
//! `ApiError`, the one error of Gmail REST calls (building and answers).

use super::oauth::AccessToken;
use super::urlenc;
use crate::channels::ProviderRequest;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://gmail.googleapis.com";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    #[error("Gmail base URL {0:?} is not an http(s) URL")]
    BadBaseUrl(String),
    #[error("Gmail userId {0:?} is not `me` or an email address")]
    BadUserId(String),
    #[error("{what} {value:?} is not a valid Gmail id")]
    BadId { what: &'static str, value: String },
    #[error("Pub/Sub topic {0:?} is not `projects/<project>/topics/<topic>`")]
    BadTopic(String),
    #[error("Gmail rejected the access token (HTTP 401): refresh it and retry once")]
    Unauthorized { error: Option<GoogleError> },
    #[error("Gmail answered HTTP {http_status}: {}", describe(.error))]
    Google { http_status: u16, error: Option<GoogleError>, retry_after: Option<Duration> },
    #[error("Gmail answered 2xx but the answer could not be read: {0}")]
    BadResponse(String),
}

fn describe(error: &Option<GoogleError>) -> String {
    match error {
        Some(e) => {
            let reasons: Vec<&str> = e.errors.iter().filter_map(|d| d.reason.as_deref()).collect();
            format!("{} ({}; reasons: {})", e.message, e.status.as_deref().unwrap_or("-"), reasons.join(", "))
        }
        None => "no Google error body".to_string(),
    }
}

impl ApiError {
    /// Whether the same request may succeed later: throttling and server
    /// errors. A 401 is not (refresh the token first: `unauthorized()`).
    pub fn retryable(&self) -> bool {
        match self {
            ApiError::Google { http_status, error, .. } => {
                let reason_retryable = error.as_ref().is_some_and(|e| {
                    e.errors
                        .iter()
                        .filter_map(|d| d.reason.as_deref())
                        .any(|r| matches!(r, "rateLimitExceeded" | "userRateLimitExceeded" | "backendError"))
                });
                *http_status == 429 || (500..=599).contains(http_status) || reason_retryable
            }
            _ => false,
        }
    }

    /// Whether the access token was refused: refresh it once, then retry.
    pub fn unauthorized(&self) -> bool {
        matches!(self, ApiError::Unauthorized { .. })
    }

    /// How long Google asked us to wait (`Retry-After`), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Google { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status of a Google refusal.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ApiError::Unauthorized { .. } => Some(401),
            ApiError::Google { http_status, .. } => Some(*http_status),
            _ => None,
        }
    }
}

/// Google's error body (`{"error": {...}}`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct GoogleError {
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: GoogleError,
}

impl GoogleError {
    /// Reads an error body; `None` when it is not Google's format.
    pub fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice::<ErrorEnvelope>(body).ok().map(|e| e.error)
    }
}

/// `Retry-After` in delta-seconds (the form Google uses). An HTTP-date is
/// not interpreted (it would need the clock): `None`.
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value.map(str::trim).and_then(|v| v.parse::<u64>().ok()).map(Duration::from_secs)
}

/// Turns a non-2xx answer into its error; `Ok(())` for a 2xx.
pub(crate) fn check_status(http_status: u16, retry_after: Option<&str>, body: &[u8]) -> Result<(), ApiError> {
    if (200..=299).contains(&http_status) {
        return Ok(());
    }
    let error = GoogleError::parse(body);
    if http_status == 401 {
        return Err(ApiError::Unauthorized { error });
    }
    Err(ApiError::Google { http_status, error, retry_after: parse_retry_after(retry_after) })
}

/// Reads a 2xx JSON answer.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadResponse(format!("not the expected JSON: {e}")))
}

/// Where and as whom to call the Gmail API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GmailApi {
    base_url: String,
    user_id: String,
}

impl GmailApi {
    /// `base_url` is `DEFAULT_BASE_URL` in production (a fake's otherwise);
    /// `user_id` is `me` (the token's account) or the mailbox address.
    pub fn new(base_url: &str, user_id: &str) -> Result<Self, ApiError> {
        let base = base_url.trim().trim_end_matches('/');
        if !urlenc::is_http_url(base) {
            return Err(ApiError::BadBaseUrl(base_url.to_string()));
        }
        let user = user_id.trim();
        let ok = user == "me" || crate::domain::EmailAddress::parse(user).is_ok();
        if !ok {
            return Err(ApiError::BadUserId(user_id.to_string()));
        }
        Ok(Self { base_url: base.to_string(), user_id: user.to_string() })
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// `{base}/gmail/v1/users/{userId}/{path}`.
    pub(crate) fn user_url(&self, path: &str) -> String {
        format!("{}/gmail/v1/users/{}/{path}", self.base_url, urlenc::component(&self.user_id))
    }

    pub(crate) fn get(&self, token: &AccessToken, url: String) -> ProviderRequest {
        ProviderRequest {
            method: "GET",
            url,
            authorization: token.bearer(),
            content_type: "application/json",
            body: String::new(),
        }
    }

    pub(crate) fn post_json(&self, token: &AccessToken, url: String, body: &serde_json::Value) -> ProviderRequest {
        ProviderRequest {
            method: "POST",
            url,
            authorization: token.bearer(),
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}

/// Gmail message, thread and history-page ids are short URL-safe strings
/// (message ids are hex); anything else would change the URL's meaning.
pub(crate) fn check_id(what: &'static str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= 512
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if ok { Ok(()) } else { Err(ApiError::BadId { what, value: value.to_string() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, reason: &str) -> ApiError {
        let body = format!(
            r#"{{"error":{{"code":{status},"message":"m","status":"S","errors":[{{"domain":"usageLimits","reason":"{reason}","message":"m"}}]}}}}"#
        );
        check_status(status, None, body.as_bytes()).unwrap_err()
    }

    #[test]
    fn classifies_google_errors() {
        assert!(err(429, "rateLimitExceeded").retryable());
        assert!(err(403, "rateLimitExceeded").retryable());
        assert!(err(403, "userRateLimitExceeded").retryable());
        assert!(err(500, "backendError").retryable());
        assert!(err(503, "whatever").retryable());
        assert!(!err(403, "insufficientPermissions").retryable());
        assert!(!err(400, "failedPrecondition").retryable());
        assert!(!err(404, "notFound").retryable());
        let unauth = err(401, "authError");
        assert!(unauth.unauthorized() && !unauth.retryable());
        assert_eq!(unauth.http_status(), Some(401));
        // No body at all.
        let e = check_status(502, Some("7"), b"<html>Bad Gateway</html>").unwrap_err();
        assert!(e.retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.to_string().contains("no Google error body"));
        assert!(!ApiError::BadResponse("x".into()).retryable());
        assert!(check_status(204, None, b"").is_ok());
    }

    #[test]
    fn parses_the_error_body() {
        let e = err(429, "rateLimitExceeded");
        let ApiError::Google { error: Some(g), .. } = &e else { panic!("{e:?}") };
        assert_eq!(g.code, Some(429));
        assert_eq!(g.errors[0].reason.as_deref(), Some("rateLimitExceeded"));
        assert!(e.to_string().contains("rateLimitExceeded"));
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(parse_retry_after(Some(" 30 ")), Some(Duration::from_secs(30)));
    }

    #[test]
    fn validates_configuration() {
        assert!(GmailApi::new("https://gmail.googleapis.com/", "me").is_ok());
        assert_eq!(
            GmailApi::new(DEFAULT_BASE_URL, "support@acme.com").unwrap().user_url("history"),
            "https://gmail.googleapis.com/gmail/v1/users/support%40acme.com/history"
        );
        assert!(matches!(GmailApi::new("gmail.googleapis.com", "me"), Err(ApiError::BadBaseUrl(_))));
        assert!(matches!(GmailApi::new(DEFAULT_BASE_URL, "x/../y"), Err(ApiError::BadUserId(_))));
        assert!(check_id("message id", "18c2f4a9b7e3d001").is_ok());
        assert!(check_id("message id", "../x").is_err());
        assert!(check_id("message id", "").is_err());
    }
}
