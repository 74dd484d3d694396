//! Delivery statuses of messages the business sent, from the same
//! `messages` webhook (`entry[].changes[].value.statuses[]`, Meta
//! "Webhooks reference — messages: status": `id` (the `wamid` the send
//! returned), `status` (`sent`, `delivered`, `read`, `failed`), `timestamp`,
//! `recipient_id`, optional `conversation`, `pricing` and, when failed,
//! `errors[]`), read into `MetaStatus` and mapped onto the project's
//! `DeliveryStatus`. Owns `MetaStatus` and `StatusKind`.
//!
//! Mapping: `sent` → `sent`, `delivered` → `delivered`, `read` → `read`,
//! `failed` → `failed` (Meta has one failure state, whether the message
//! never left or was not delivered). Any other value is kept as
//! `StatusKind::Other` and maps to nothing, so a new status Meta adds
//! changes no row instead of failing the batch.

use super::json::{MetaError, str_at, string_or_number_at, unix_seconds};
use super::webhook::{ChangeContext, ItemError};
use crate::channels::delivery::DeliveryStatus;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Meta's error code for a free-form message sent more than 24 hours after
/// the customer last wrote ("Re-engagement message").
pub const RE_ENGAGEMENT_CODE: i64 = 131047;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    Failed,
    Other(String),
}

impl StatusKind {
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "failed" => Self::Failed,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Other(s) => s,
        }
    }

    /// The `messages.delivery_status` to record; `None` for unknown values.
    pub fn delivery_status(&self) -> Option<DeliveryStatus> {
        match self {
            Self::Sent => Some(DeliveryStatus::Sent),
            Self::Delivered => Some(DeliveryStatus::Delivered),
            Self::Read => Some(DeliveryStatus::Read),
            Self::Failed => Some(DeliveryStatus::Failed),
            Self::Other(_) => None,
        }
    }
}

/// One status update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaStatus {
    /// The business number that sent the message.
    pub phone_number_id: String,
    /// The `wamid` the send returned: the outbound row's `external_id`.
    pub message_id: String,
    pub status: StatusKind,
    pub timestamp: DateTime<Utc>,
    /// The customer's WhatsApp id (digits).
    pub recipient_id: Option<String>,
    pub conversation_id: Option<String>,
    /// `pricing.category` (`service`, `utility`, `marketing`, …).
    pub pricing_category: Option<String>,
    pub errors: Vec<MetaError>,
}

impl MetaStatus {
    pub(crate) fn parse(s: &Value, ctx: &ChangeContext) -> Result<Self, ItemError> {
        if !s.is_object() {
            return Err(ItemError::NotAnObject);
        }
        let message_id = str_at(s, "id").ok_or(ItemError::Missing("id"))?;
        let status = StatusKind::parse(str_at(s, "status").ok_or(ItemError::Missing("status"))?);
        let raw_ts = string_or_number_at(s, "timestamp").ok_or(ItemError::Missing("timestamp"))?;
        let timestamp = unix_seconds(&raw_ts).ok_or(ItemError::BadTimestamp(raw_ts))?;
        Ok(Self {
            phone_number_id: ctx.phone_number_id.clone(),
            message_id: message_id.to_string(),
            status,
            timestamp,
            recipient_id: string_or_number_at(s, "recipient_id"),
            conversation_id: s.get("conversation").and_then(|c| str_at(c, "id")).map(str::to_string),
            pricing_category: s.get("pricing").and_then(|p| str_at(p, "category")).map(str::to_string),
            errors: MetaError::list_at(s, "errors"),
        })
    }

    pub fn delivery_status(&self) -> Option<DeliveryStatus> {
        self.status.delivery_status()
    }

    /// The first error's code, if the update carries one.
    pub fn error_code(&self) -> Option<i64> {
        self.errors.iter().find_map(|e| e.code)
    }

    /// The first error's title (or message).
    pub fn error_title(&self) -> Option<&str> {
        self.errors.iter().find_map(|e| e.title.as_deref().or(e.message.as_deref()))
    }

    /// Whether the message failed because the customer had not written in
    /// the last 24 hours (error 131047): resend it as a template.
    pub fn outside_service_window(&self) -> bool {
        self.errors.iter().any(|e| e.code == Some(RE_ENGAGEMENT_CODE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> ChangeContext {
        ChangeContext {
            phone_number_id: "106540352242922".into(),
            display_phone_number: None,
            business_account_id: None,
        }
    }

    #[test]
    fn every_status_maps() {
        use DeliveryStatus as D;
        for (raw, want) in [
            ("sent", Some(D::Sent)),
            ("delivered", Some(D::Delivered)),
            ("read", Some(D::Read)),
            ("failed", Some(D::Failed)),
        ] {
            let k = StatusKind::parse(raw);
            assert_eq!(k.as_str(), raw);
            assert_eq!(k.delivery_status(), want);
        }
        assert_eq!(StatusKind::parse("Delivered"), StatusKind::Delivered);
        let other = StatusKind::parse("deleted");
        assert_eq!(other, StatusKind::Other("deleted".into()));
        assert_eq!(other.delivery_status(), None);
    }

    #[test]
    fn rejects_incomplete_statuses() {
        let ok = json!({"id": "wamid.X", "status": "read", "timestamp": "1750857384"});
        assert!(MetaStatus::parse(&ok, &ctx()).is_ok());
        let without = |k: &str| {
            let mut v = ok.clone();
            v.as_object_mut().unwrap().remove(k);
            MetaStatus::parse(&v, &ctx()).unwrap_err()
        };
        assert_eq!(without("id"), ItemError::Missing("id"));
        assert_eq!(without("status"), ItemError::Missing("status"));
        assert_eq!(without("timestamp"), ItemError::Missing("timestamp"));
        let bad = json!({"id": "wamid.X", "status": "read", "timestamp": "yesterday"});
        assert_eq!(MetaStatus::parse(&bad, &ctx()), Err(ItemError::BadTimestamp("yesterday".into())));
        assert_eq!(MetaStatus::parse(&json!([1]), &ctx()), Err(ItemError::NotAnObject));
    }
}
