//! The JSON the widget reads back, as types, so the server cannot drift
//! from `widget.js`: `SubmissionReceipt` (the 201 answer to
//! `POST /support/api/tickets`) and `TicketStatusView` (the 200 answer to
//! `GET /support/api/tickets/{id}?token=…`), plus `reference_for`, a short
//! human reference derived from the ticket id. Owns those types and
//! `Author`, `TicketStatus`, `UnknownValue`.
//!
//! Errors of both endpoints are RFC 7807 documents
//! (`application/problem+json`). The widget reacts to the status code:
//! on 400/422 it shows each `errors[]` entry (`{field, message}`, see
//! `RequestError::field_errors`) next to its field, or above the button
//! when the field is not one it shows (`widget_key`, unknown members); it
//! never shows `detail`, which is for developers. 413 and 429 have their
//! own messages. On the status endpoint 403 (bad token: check it before
//! looking anything up) stops polling, while 404 (not stored yet) keeps
//! polling for about a minute, since the ticket may still be on its way
//! through the pipeline.

use super::token::{StatusTokenKey, issue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

/// The 201 answer to a submission (also sent, with a made-up id, for spam):
/// `{"ticket_id", "reference", "token", "status_url"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionReceipt {
    pub ticket_id: Uuid,
    pub reference: String,
    pub token: String,
    /// Path of the hosted status page, relative to the server's origin
    /// (`/support/tickets/{id}?token=…`); the widget resolves it against
    /// its endpoint.
    pub status_url: String,
}

impl SubmissionReceipt {
    /// The receipt for `ticket_id`, with its reference and signed link.
    pub fn new(key: &StatusTokenKey, ticket_id: Uuid) -> Self {
        let token = issue(key, ticket_id);
        Self { ticket_id, reference: reference_for(ticket_id), status_url: status_path(ticket_id, &token), token }
    }
}

/// `/support/tickets/{id}?token={token}` (the token is URL-safe as is).
pub fn status_path(ticket_id: Uuid, token: &str) -> String {
    format!("/support/tickets/{}?token={token}", ticket_id.hyphenated())
}

/// A short reference a person can read out: `WF-` and eight Crockford
/// base32 characters (no I, L, O, U) from the id's last 40 bits, which are
/// random in UUIDv4 and v7 (the first bits of a v7 are its timestamp).
/// Derived, not stored, so the receipt can show it before the ticket row
/// exists; not unique, so never used to look a ticket up.
pub fn reference_for(ticket_id: Uuid) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let n = ticket_id.as_bytes()[11..].iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let chars: String = (0..8).map(|i| char::from(ALPHABET[((n >> (35 - 5 * i)) & 31) as usize])).collect();
    format!("WF-{}-{}", &chars[..4], &chars[4..])
}

/// A value from the database that the status view has no name for.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// `tickets.status`, as shown to the customer (the widget maps each to a
/// friendly label and shows unknown ones as sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Pending,
    Escalated,
    Resolved,
    Closed,
}

impl FromStr for TicketStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Self::Open),
            "pending" => Ok(Self::Pending),
            "escalated" => Ok(Self::Escalated),
            "resolved" => Ok(Self::Resolved),
            "closed" => Ok(Self::Closed),
            _ => Err(UnknownValue { kind: "ticket status", value: s.to_string() }),
        }
    }
}

/// Who wrote a message, as the customer sees it. `System` is what the
/// runtime sent on its own: the holding reply of an escalation (the
/// hand-over notice: who follows up, and when), the acknowledgement of a
/// message written while humans have the conversation, the apology after
/// failed attempts. Every `messages` row is to or from the customer
/// (internal notes and hand-over summaries live in other tables), so all
/// four authors are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Customer,
    Ai,
    Human,
    System,
}

impl Author {
    pub const ALL: [Author; 4] = [Self::Customer, Self::Ai, Self::Human, Self::System];

    /// From `messages.author`.
    pub fn from_db(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "customer" => Ok(Self::Customer),
            "ai" => Ok(Self::Ai),
            "human" => Ok(Self::Human),
            "system" => Ok(Self::System),
            _ => Err(UnknownValue { kind: "message author", value: s.to_string() }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Ai => "ai",
            Self::Human => "human",
            Self::System => "system",
        }
    }
}

/// One message in the status view. `body` is plain text: the widget shows
/// it as text (never as HTML), with line breaks kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusMessage {
    pub author: Author,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// The 200 answer to the status endpoint:
/// `{"ticket_id", "reference", "status", "subject", "created_at",
/// "messages": [{"author", "body", "created_at"}]}`, messages oldest first.
/// Only messages the customer may see belong here: their own, and replies
/// actually sent to them, the runtime's own ones (`system`: holding replies,
/// hand-over notices) included; no drafts awaiting approval, no failed
/// sends, no internal notes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketStatusView {
    pub ticket_id: Uuid,
    pub reference: String,
    pub status: TicketStatus,
    pub subject: Option<String>,
    pub created_at: DateTime<Utc>,
    pub messages: Vec<StatusMessage>,
}

impl TicketStatusView {
    /// Whether the customer has an answer yet (the widget stops polling):
    /// from the AI or a person. A holding reply is not one: the team's
    /// answer is still to come.
    pub fn has_reply(&self) -> bool {
        self.messages.iter().any(|m| matches!(m.author, Author::Ai | Author::Human))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn id() -> Uuid {
        Uuid::parse_str("0196b3f2-7c1e-7a3b-9d4e-5f6a7b8c9d0e").unwrap()
    }

    #[test]
    fn reference_known_answers() {
        // Python: the last 5 bytes as a 40-bit number, 8 Crockford digits.
        assert_eq!(reference_for(id()), "WF-D9XR-S78E");
        assert_eq!(reference_for(Uuid::nil()), "WF-0000-0000");
        assert_eq!(reference_for(Uuid::max()), "WF-ZZZZ-ZZZZ");
    }

    #[test]
    fn receipt_shape() {
        let key = StatusTokenKey::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let r = SubmissionReceipt::new(&key, id());
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({
                "ticket_id": "0196b3f2-7c1e-7a3b-9d4e-5f6a7b8c9d0e",
                "reference": "WF-D9XR-S78E",
                "token": "AZaz8nweejudTl9qe4ydDhvbaJ5A6OLWy0jjTzAObmg",
                "status_url": "/support/tickets/0196b3f2-7c1e-7a3b-9d4e-5f6a7b8c9d0e?token=AZaz8nweejudTl9qe4ydDhvbaJ5A6OLWy0jjTzAObmg",
            })
        );
    }

    #[test]
    fn status_view_shape() {
        let at = Utc.with_ymd_and_hms(2026, 5, 9, 10, 0, 0).unwrap();
        let mut view = TicketStatusView {
            ticket_id: id(),
            reference: "WF-D9XR-S78E".into(),
            status: TicketStatus::Open,
            subject: Some("Help".into()),
            created_at: at,
            messages: vec![StatusMessage { author: Author::Customer, body: "Hi <b>there</b>".into(), created_at: at }],
        };
        assert!(!view.has_reply());
        let holding = "Hi Sven,\n\nA specialist will look into this and follow up with you.";
        view.messages.push(StatusMessage { author: Author::System, body: holding.into(), created_at: at });
        assert!(!view.has_reply(), "a holding reply is not the answer");
        view.messages.push(StatusMessage { author: Author::Ai, body: "Hi Sven,".into(), created_at: at });
        assert!(view.has_reply());
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            json!({
                "ticket_id": "0196b3f2-7c1e-7a3b-9d4e-5f6a7b8c9d0e",
                "reference": "WF-D9XR-S78E",
                "status": "open",
                "subject": "Help",
                "created_at": "2026-05-09T10:00:00Z",
                "messages": [
                    {"author": "customer", "body": "Hi <b>there</b>", "created_at": "2026-05-09T10:00:00Z"},
                    {"author": "system", "body": holding, "created_at": "2026-05-09T10:00:00Z"},
                    {"author": "ai", "body": "Hi Sven,", "created_at": "2026-05-09T10:00:00Z"},
                ],
            })
        );
    }

    #[test]
    fn database_values_map() {
        for s in ["open", "pending", "escalated", "resolved", "closed"] {
            let status: TicketStatus = s.parse().unwrap();
            assert_eq!(serde_json::to_value(status).unwrap(), s);
        }
        assert!("claimed".parse::<TicketStatus>().is_err());
        for author in Author::ALL {
            assert_eq!(Author::from_db(author.as_str()), Ok(author));
            assert_eq!(serde_json::to_value(author).unwrap(), author.as_str());
        }
        assert!(Author::from_db("bot").is_err());
    }
}
