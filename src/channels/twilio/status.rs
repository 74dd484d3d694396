//! Delivery-status callbacks: Twilio's form-encoded `StatusCallback` post
//! (`MessageSid`, `MessageStatus`, `ErrorCode`) parsed into
//! `StatusCallback`, and Twilio's message statuses mapped onto the
//! project's `messages.delivery_status` values. Owns `MessageStatus`,
//! `StatusCallback` and `StatusError`.
//!
//! The mapping, for the statuses that have no column value of their own:
//! `accepted` (a Messaging Service took it) and `scheduled` (held for a
//! scheduled send) and `sending` (on its way to the carrier, not yet
//! handed over) are all still `queued`; `canceled` (a scheduled message
//! cancelled before sending) is `failed`, as it will never arrive; and
//! `receiving`/`received` describe inbound messages, so they map to nothing
//! and a callback carrying them changes no outbound row.

use super::form::{Form, FormError};
use super::signature::{RequestValidator, SignatureError};
pub use crate::channels::delivery::DeliveryStatus;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatusError {
    #[error("status callback signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("status callback body: {0}")]
    Form(#[from] FormError),
    #[error("the status callback has no {0}")]
    Missing(&'static str),
    #[error("unknown Twilio message status {0:?}")]
    UnknownStatus(String),
    #[error("ErrorCode {0:?} is not a number")]
    BadErrorCode(String),
}

/// A message status as Twilio names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Delivered,
    Read,
    Failed,
    Undelivered,
    Accepted,
    Scheduled,
    Canceled,
    Receiving,
    Received,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 12] = [
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Read,
        Self::Failed,
        Self::Undelivered,
        Self::Accepted,
        Self::Scheduled,
        Self::Canceled,
        Self::Receiving,
        Self::Received,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Undelivered => "undelivered",
            Self::Accepted => "accepted",
            Self::Scheduled => "scheduled",
            Self::Canceled => "canceled",
            Self::Receiving => "receiving",
            Self::Received => "received",
        }
    }

    /// The `messages.delivery_status` of an outbound message in this state;
    /// `None` for the inbound-only states (see the module notes).
    pub fn delivery_status(&self) -> Option<DeliveryStatus> {
        match self {
            Self::Queued | Self::Accepted | Self::Scheduled | Self::Sending => Some(DeliveryStatus::Queued),
            Self::Sent => Some(DeliveryStatus::Sent),
            Self::Delivered => Some(DeliveryStatus::Delivered),
            Self::Read => Some(DeliveryStatus::Read),
            Self::Failed | Self::Canceled => Some(DeliveryStatus::Failed),
            Self::Undelivered => Some(DeliveryStatus::Undelivered),
            Self::Receiving | Self::Received => None,
        }
    }
}

impl FromStr for MessageStatus {
    type Err = StatusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| StatusError::UnknownStatus(s.to_string()))
    }
}

/// One status callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCallback {
    /// The id Twilio gave the message when it accepted it: the outbound
    /// row's `external_id`.
    pub message_sid: String,
    pub status: MessageStatus,
    /// Twilio's error code, for `failed` and `undelivered`
    /// (63016: outside the 24-hour window, …).
    pub error_code: Option<u32>,
}

impl StatusCallback {
    /// Verifies the signature of a raw callback request, then parses it.
    pub fn from_request(
        validator: &RequestValidator,
        url: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Self, StatusError> {
        let form = Form::decode(body)?;
        validator.validate_form(url, form.pairs(), signature.unwrap_or_default())?;
        Self::from_form(&form)
    }

    /// Parses a decoded callback whose signature has already been checked.
    pub fn from_form(form: &Form) -> Result<Self, StatusError> {
        let message_sid = form.get_nonblank("MessageSid").ok_or(StatusError::Missing("MessageSid"))?;
        let status = form.get_nonblank("MessageStatus").ok_or(StatusError::Missing("MessageStatus"))?.parse()?;
        let error_code = match form.get_nonblank("ErrorCode") {
            None => None,
            Some(c) => Some(c.parse::<u32>().map_err(|_| StatusError::BadErrorCode(c.to_string()))?),
        };
        Ok(Self { message_sid: message_sid.to_string(), status, error_code })
    }

    /// The `delivery_status` to record, if any.
    pub fn delivery_status(&self) -> Option<DeliveryStatus> {
        self.status.delivery_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<StatusCallback, StatusError> {
        StatusCallback::from_form(&Form::decode(body.as_bytes()).unwrap())
    }

    #[test]
    fn every_status_maps() {
        use DeliveryStatus as D;
        let expected = [
            ("queued", Some(D::Queued)),
            ("sending", Some(D::Queued)),
            ("sent", Some(D::Sent)),
            ("delivered", Some(D::Delivered)),
            ("read", Some(D::Read)),
            ("failed", Some(D::Failed)),
            ("undelivered", Some(D::Undelivered)),
            ("accepted", Some(D::Queued)),
            ("scheduled", Some(D::Queued)),
            ("canceled", Some(D::Failed)),
            ("receiving", None),
            ("received", None),
        ];
        for (name, want) in expected {
            let st: MessageStatus = name.parse().unwrap();
            assert_eq!(st.as_str(), name);
            assert_eq!(st.delivery_status(), want, "{name}");
        }
        let db = ["queued", "sent", "delivered", "read", "failed", "undelivered"];
        for d in MessageStatus::ALL.iter().filter_map(|s| s.delivery_status()) {
            assert!(db.contains(&d.as_str()));
        }
    }

    #[test]
    fn parses_callbacks() {
        let cb = parse("MessageSid=SM123&MessageStatus=undelivered&ErrorCode=63016&To=whatsapp%3A%2B1202").unwrap();
        assert_eq!(
            cb,
            StatusCallback { message_sid: "SM123".into(), status: MessageStatus::Undelivered, error_code: Some(63016) }
        );
        assert_eq!(cb.delivery_status(), Some(DeliveryStatus::Undelivered));
        let cb = parse("MessageSid=SM123&MessageStatus=Delivered&ErrorCode=").unwrap();
        assert_eq!((cb.status, cb.error_code), (MessageStatus::Delivered, None));
    }

    #[test]
    fn rejects_bad_callbacks() {
        assert_eq!(parse("MessageStatus=sent"), Err(StatusError::Missing("MessageSid")));
        assert_eq!(parse("MessageSid=SM1"), Err(StatusError::Missing("MessageStatus")));
        assert_eq!(
            parse("MessageSid=SM1&MessageStatus=teleported"),
            Err(StatusError::UnknownStatus("teleported".into()))
        );
        assert_eq!(
            parse("MessageSid=SM1&MessageStatus=failed&ErrorCode=x1"),
            Err(StatusError::BadErrorCode("x1".into()))
        );
    }

    #[test]
    fn statuses_only_move_forward() {
        use DeliveryStatus as D;
        assert!(D::Sent.supersedes(D::Queued));
        assert!(D::Read.supersedes(D::Delivered));
        assert!(D::Read.supersedes(D::Failed));
        assert!(D::Undelivered.supersedes(D::Sent));
        assert!(!D::Sent.supersedes(D::Delivered));
        assert!(!D::Queued.supersedes(D::Queued));
        assert!(!D::Failed.supersedes(D::Delivered));
    }

    #[test]
    fn from_request_checks_the_signature() {
        let v = RequestValidator::new("12345").unwrap();
        let url = "https://support.example.com/twilio/status";
        let body = "MessageSid=SM1&MessageStatus=read";
        let sig = v.compute_signature(url, Form::decode(body.as_bytes()).unwrap().pairs());
        assert_eq!(
            StatusCallback::from_request(&v, url, body.as_bytes(), Some(&sig)).unwrap().status,
            MessageStatus::Read
        );
        assert_eq!(
            StatusCallback::from_request(&v, url, b"MessageSid=SM1&MessageStatus=failed", Some(&sig)),
            Err(StatusError::Signature(SignatureError::Mismatch))
        );
    }
}
