//! CloudEvents 1.0 envelopes (structured JSON mode) for every record the
//! runtime writes to Kafka, with the `tenantid` and `traceparent`
//! extensions and a versioned `type` (`fte.<kind>.v1`). Consumers parse with
//! `Envelope::parse`, which rejects anything malformed or of an unknown
//! type with a reason fit for the dead-letter topic.

use crate::domain::TenantId;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The record types this runtime writes and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// A verified, parsed customer message (`InboundMessage`), on
    /// `fte.channels.<ch>.inbound`.
    Inbound,
    /// An inbound message with its resolved customer (`TicketMessage`), on
    /// `fte.tickets.incoming`.
    Ticket,
    /// A message to send (`OutboundMessage`), on `fte.channels.<ch>.outbound`.
    Outbound,
    /// A conversation handed to humans, on `fte.escalations`.
    Escalation,
    /// One turn's measurements, on `fte.metrics`.
    Metrics,
    /// A record that could not be processed, on `fte.dlq`.
    DeadLetter,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::Inbound,
        EventType::Ticket,
        EventType::Outbound,
        EventType::Escalation,
        EventType::Metrics,
        EventType::DeadLetter,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::Inbound => "fte.inbound.v1",
            EventType::Ticket => "fte.ticket.v1",
            EventType::Outbound => "fte.outbound.v1",
            EventType::Escalation => "fte.escalation.v1",
            EventType::Metrics => "fte.metrics.v1",
            EventType::DeadLetter => "fte.deadletter.v1",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One CloudEvent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default = "json_content_type")]
    pub datacontenttype: String,
    pub tenantid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    pub data: serde_json::Value,
}

fn json_content_type() -> String {
    "application/json".into()
}

/// Why a record was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a JSON CloudEvent: {0}")]
    Malformed(String),
    #[error("unsupported specversion {0:?} (expected 1.0)")]
    SpecVersion(String),
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("expected event type {expected}, got {got}")]
    WrongType { expected: &'static str, got: String },
    #[error("invalid tenantid {0:?}")]
    Tenant(String),
    #[error("invalid data for {kind}: {reason}")]
    Data { kind: String, reason: String },
}

impl Envelope {
    /// Wraps `data` as a new event.
    pub fn new<T: Serialize>(
        kind: EventType,
        source: &str,
        tenant: TenantId,
        subject: Option<String>,
        data: &T,
    ) -> Result<Self, EnvelopeError> {
        Ok(Self {
            specversion: "1.0".into(),
            id: Uuid::now_v7().to_string(),
            source: source.into(),
            kind: kind.as_str().into(),
            time: Utc::now(),
            subject,
            datacontenttype: json_content_type(),
            tenantid: tenant.to_string(),
            traceparent: None,
            data: serde_json::to_value(data)
                .map_err(|e| EnvelopeError::Data { kind: kind.as_str().into(), reason: e.to_string() })?,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings, a timestamp and a JSON value always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and checks the envelope itself (not yet its data).
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let env: Envelope = serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if env.specversion != "1.0" {
            return Err(EnvelopeError::SpecVersion(env.specversion));
        }
        if EventType::parse(&env.kind).is_none() {
            return Err(EnvelopeError::UnknownType(env.kind));
        }
        env.tenant()?;
        Ok(env)
    }

    pub fn tenant(&self) -> Result<TenantId, EnvelopeError> {
        self.tenantid.parse().map_err(|_| EnvelopeError::Tenant(self.tenantid.clone()))
    }

    /// The typed data of an event that must be of type `expected`.
    pub fn data_as<T: DeserializeOwned>(&self, expected: EventType) -> Result<T, EnvelopeError> {
        if self.kind != expected.as_str() {
            return Err(EnvelopeError::WrongType { expected: expected.as_str(), got: self.kind.clone() });
        }
        serde_json::from_value(self.data.clone())
            .map_err(|e| EnvelopeError::Data { kind: self.kind.clone(), reason: e.to_string() })
    }
}

/// What goes to `fte.dlq`: the original record, where it came from, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub reason: String,
    /// The record's value, as text when it was UTF-8, else base16.
    pub payload: String,
}

impl DeadLetter {
    pub fn new(topic: &str, partition: i32, offset: i64, key: Option<&[u8]>, payload: &[u8], reason: String) -> Self {
        let text = |b: &[u8]| match std::str::from_utf8(b) {
            Ok(s) => s.to_string(),
            Err(_) => b.iter().map(|byte| format!("{byte:02x}")).collect(),
        };
        Self { topic: topic.into(), partition, offset, key: key.map(text), reason, payload: text(payload) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, EmailAddress, Identifier, InboundMessage};

    fn inbound(tenant: TenantId) -> InboundMessage {
        InboundMessage {
            tenant_id: tenant,
            channel: Channel::Email,
            external_id: "m-1".into(),
            sender: Identifier::Email(EmailAddress::parse("a@b.co").unwrap()),
            identifiers: vec![],
            display_name: None,
            subject: None,
            body: "hi".into(),
            received_at: Utc::now(),
            metadata: serde_json::Value::Null,
        }
    }

    #[test]
    fn envelopes_round_trip_with_their_extensions() {
        let tenant = TenantId::new();
        let env =
            Envelope::new(EventType::Inbound, "/fte/api", tenant, Some("a@b.co".into()), &inbound(tenant)).unwrap();
        let parsed = Envelope::parse(&env.to_bytes()).unwrap();
        assert_eq!(parsed, env);
        let json: serde_json::Value = serde_json::from_slice(&env.to_bytes()).unwrap();
        for field in ["specversion", "id", "source", "type", "time", "subject", "tenantid", "data"] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["type"], "fte.inbound.v1");
        let data: InboundMessage = parsed.data_as(EventType::Inbound).unwrap();
        assert_eq!(data.external_id, "m-1");
    }

    #[test]
    fn bad_records_are_refused_with_a_reason() {
        let tenant = TenantId::new();
        let good = Envelope::new(EventType::Inbound, "/t", tenant, None, &inbound(tenant)).unwrap();
        assert!(matches!(Envelope::parse(b"{not json"), Err(EnvelopeError::Malformed(_))));
        assert!(matches!(Envelope::parse(&[0xff, 0xfe]), Err(EnvelopeError::Malformed(_))));
        let mut v = good.clone();
        v.specversion = "0.3".into();
        assert!(matches!(Envelope::parse(&v.to_bytes()), Err(EnvelopeError::SpecVersion(_))));
        let mut v = good.clone();
        v.kind = "fte.inbound.v9".into();
        assert!(matches!(Envelope::parse(&v.to_bytes()), Err(EnvelopeError::UnknownType(_))));
        let mut v = good.clone();
        v.tenantid = "acme".into();
        assert!(matches!(Envelope::parse(&v.to_bytes()), Err(EnvelopeError::Tenant(_))));
        assert!(matches!(good.data_as::<InboundMessage>(EventType::Ticket), Err(EnvelopeError::WrongType { .. })));
        let mut v = good;
        v.data = serde_json::json!({"body": 3});
        assert!(matches!(v.data_as::<InboundMessage>(EventType::Inbound), Err(EnvelopeError::Data { .. })));
    }

    #[test]
    fn dead_letters_keep_binary_payloads_readable() {
        let dl = DeadLetter::new("t", 1, 7, Some(b"k"), &[0xff, 0x00], "bad".into());
        assert_eq!(dl.payload, "ff00");
        assert_eq!(dl.key.as_deref(), Some("k"));
    }
}
