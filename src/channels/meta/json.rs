//! Reading the loosely typed parts of Meta's webhook JSON: small accessors
//! over `serde_json::Value` (so that one odd field rejects one item, with a
//! precise reason, rather than the whole POST), the Unix-seconds timestamp
//! Meta sends as a string, and `MetaError`, the error object Meta puts in
//! `statuses[].errors[]`, `messages[].errors[]` and `value.errors[]`
//! (`code`, `title`, `message`, `error_data.details`, `href`; Meta
//! "Webhooks reference — messages: status, errors").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The string at `key`, trimmed, if present and not blank.
pub(crate) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// Like `str_at`, but numbers are accepted too (ids and timestamps are
/// documented as strings; a number is read rather than refused).
pub(crate) fn string_or_number_at(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The array at `key`; absent or `null` is empty, anything else `None`.
pub(crate) fn array_at<'a>(v: &'a Value, key: &str) -> Option<&'a [Value]> {
    match v.get(key) {
        None | Some(Value::Null) => Some(&[]),
        Some(Value::Array(a)) => Some(a),
        Some(_) => None,
    }
}

/// Parses Meta's `timestamp`: Unix seconds, as a string of digits.
pub(crate) fn unix_seconds(raw: &str) -> Option<DateTime<Utc>> {
    if raw.is_empty() || raw.len() > 12 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    DateTime::from_timestamp(raw.parse().ok()?, 0)
}

/// An error as Meta reports it in webhooks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaError {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
    /// `error_data.details`: the most specific explanation.
    pub details: Option<String>,
    pub href: Option<String>,
}

impl MetaError {
    /// Reads one error object; fields of the wrong type are left out.
    pub(crate) fn from_value(v: &Value) -> Self {
        let code = match v.get("code") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Self {
            code,
            title: str_at(v, "title").map(str::to_string),
            message: str_at(v, "message").map(str::to_string),
            details: v.get("error_data").and_then(|d| str_at(d, "details")).map(str::to_string),
            href: str_at(v, "href").map(str::to_string),
        }
    }

    /// Every error object of the array at `key` (non-objects are ignored).
    pub(crate) fn list_at(v: &Value, key: &str) -> Vec<Self> {
        array_at(v, key).unwrap_or_default().iter().filter(|e| e.is_object()).map(Self::from_value).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_timestamps() {
        assert_eq!(unix_seconds("1749416383").unwrap().to_rfc3339(), "2025-06-08T20:59:43+00:00");
        assert_eq!(unix_seconds("0").unwrap().timestamp(), 0);
        for bad in ["", "-1", "1.5", "17494163830000000", "abc", " 1"] {
            assert_eq!(unix_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_error_objects() {
        let v = json!({"errors": [
            {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
             "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
             "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"},
            {"code": "130429", "title": 5},
            "junk"
        ]});
        let errors = MetaError::list_at(&v, "errors");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].code, Some(131047));
        assert_eq!(errors[0].title.as_deref(), Some("Re-engagement message"));
        assert!(errors[0].details.as_deref().unwrap().contains("24 hours"));
        assert_eq!(errors[1], MetaError { code: Some(130429), ..Default::default() });
        assert!(MetaError::list_at(&json!({}), "errors").is_empty());
        assert!(MetaError::list_at(&json!({"errors": 3}), "errors").is_empty());
    }

    #[test]
    fn accessors_are_lenient_about_blanks_and_numbers() {
        let v = json!({"a": "  x ", "b": "   ", "n": 12, "arr": null, "bad": {}});
        assert_eq!(str_at(&v, "a"), Some("x"));
        assert_eq!(str_at(&v, "b"), None);
        assert_eq!(str_at(&v, "n"), None);
        assert_eq!(string_or_number_at(&v, "n").as_deref(), Some("12"));
        assert_eq!(array_at(&v, "arr").map(<[Value]>::len), Some(0));
        assert_eq!(array_at(&v, "missing").map(<[Value]>::len), Some(0));
        assert!(array_at(&v, "bad").is_none());
    }
}
