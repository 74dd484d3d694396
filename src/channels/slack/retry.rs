//! Slack's redelivery headers. When an Events API delivery fails (no 2xx
//! within 3 seconds, a connection or TLS error, too many redirects...),
//! Slack retries it up to three times, soon, after about a minute and after
//! about five, each time with `X-Slack-Retry-Num: <1..3>` and
//! `X-Slack-Retry-Reason: http_timeout | too_many_redirects |
//! connection_failed | ssl_error | http_error | unknown_error` (Events API
//! docs, "Error handling / Graceful retries"). A retry carries the same
//! `event_id`: the caller dedupes on it, these headers are for logs and
//! metrics. Owns `RetryInfo`, `RetryReason` and `RetryHeaderError`.

use std::fmt;

pub const RETRY_NUM_HEADER: &str = "X-Slack-Retry-Num";
pub const RETRY_REASON_HEADER: &str = "X-Slack-Retry-Reason";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RetryHeaderError {
    #[error("X-Slack-Retry-Num {0:?} is not a positive whole number")]
    BadNum(String),
    #[error("X-Slack-Retry-Reason is present without X-Slack-Retry-Num")]
    ReasonWithoutNum,
}

/// Why Slack is redelivering an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// We did not answer within 3 seconds.
    HttpTimeout,
    TooManyRedirects,
    ConnectionFailed,
    SslError,
    /// We answered something other than 2xx.
    HttpError,
    UnknownError,
    /// A reason Slack did not document when this was written.
    Other(String),
}

impl RetryReason {
    pub fn parse(raw: &str) -> Self {
        match raw.trim() {
            "http_timeout" => Self::HttpTimeout,
            "too_many_redirects" => Self::TooManyRedirects,
            "connection_failed" => Self::ConnectionFailed,
            "ssl_error" => Self::SslError,
            "http_error" => Self::HttpError,
            "unknown_error" => Self::UnknownError,
            other => Self::Other(other.chars().take(64).collect()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::HttpTimeout => "http_timeout",
            Self::TooManyRedirects => "too_many_redirects",
            Self::ConnectionFailed => "connection_failed",
            Self::SslError => "ssl_error",
            Self::HttpError => "http_error",
            Self::UnknownError => "unknown_error",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A redelivery: which attempt (1 for the first retry) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryInfo {
    pub attempt: u32,
    pub reason: Option<RetryReason>,
}

impl RetryInfo {
    /// Reads the two headers (`None` when absent). `Ok(None)`: a first
    /// delivery.
    pub fn from_headers(num: Option<&str>, reason: Option<&str>) -> Result<Option<Self>, RetryHeaderError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty()).map(RetryReason::parse);
        let Some(num) = num.map(str::trim).filter(|n| !n.is_empty()) else {
            return match reason {
                Some(_) => Err(RetryHeaderError::ReasonWithoutNum),
                None => Ok(None),
            };
        };
        let attempt = num
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0 && num.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| RetryHeaderError::BadNum(num.chars().take(20).collect()))?;
        Ok(Some(Self { attempt, reason }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_delivery_has_no_retry_headers() {
        assert_eq!(RetryInfo::from_headers(None, None), Ok(None));
        assert_eq!(RetryInfo::from_headers(Some(""), Some(" ")), Ok(None));
    }

    #[test]
    fn reads_a_retry() {
        let r = RetryInfo::from_headers(Some("1"), Some("http_timeout")).unwrap().unwrap();
        assert_eq!(r, RetryInfo { attempt: 1, reason: Some(RetryReason::HttpTimeout) });
        let r = RetryInfo::from_headers(Some("3"), None).unwrap().unwrap();
        assert_eq!(r, RetryInfo { attempt: 3, reason: None });
    }

    #[test]
    fn knows_every_documented_reason_and_keeps_others() {
        for name in
            ["http_timeout", "too_many_redirects", "connection_failed", "ssl_error", "http_error", "unknown_error"]
        {
            let reason = RetryReason::parse(name);
            assert!(!matches!(reason, RetryReason::Other(_)), "{name}");
            assert_eq!(reason.as_str(), name);
        }
        assert_eq!(RetryReason::parse("brand_new"), RetryReason::Other("brand_new".into()));
    }

    #[test]
    fn refuses_malformed_headers() {
        for num in ["0", "-1", "one", "1.5", "+2", "99999999999"] {
            assert!(matches!(RetryInfo::from_headers(Some(num), None), Err(RetryHeaderError::BadNum(_))), "{num}");
        }
        assert_eq!(RetryInfo::from_headers(None, Some("http_timeout")), Err(RetryHeaderError::ReasonWithoutNum));
    }
}
