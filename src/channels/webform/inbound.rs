//! A checked web-form submission turned into the runtime's
//! `InboundMessage` (`TicketRequest::into_inbound_message`).
//!
//! The form has no provider message id, so the caller makes one: a fresh
//! UUID per accepted submission (`submission_id`), which is both the
//! dedupe key (`external_id`) and the id the status link is signed for
//! (`metadata.status_ticket_id`). The ticket created for the message
//! should take that id (`TicketId::from_uuid`) so that
//! `GET /support/api/tickets/{id}` finds it; `metadata.reference` is the
//! reference the receipt showed. Replies to web-form tickets go out by
//! email to the sender, with the subject the customer chose.

use super::api::reference_for;
use super::request::TicketRequest;
use crate::domain::{Channel, Identifier, InboundMessage, TenantId, limit_body};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

impl TicketRequest {
    /// The runtime's message. `metadata` is
    /// `{"source": "webform", "category", "category_label",
    /// "status_ticket_id", "reference", "widget_key"}`, plus
    /// `body_truncated` if the body had to be cut (only possible for a
    /// request built by hand: parsing caps messages at 5000 characters).
    pub fn into_inbound_message(
        self,
        tenant_id: TenantId,
        submission_id: Uuid,
        received_at: DateTime<Utc>,
    ) -> InboundMessage {
        let mut metadata = json!({
            "source": "webform",
            "category": self.category.as_str(),
            "category_label": self.category.label(),
            "status_ticket_id": submission_id.hyphenated().to_string(),
            "reference": reference_for(submission_id),
            "widget_key": self.widget_key,
        });
        InboundMessage {
            tenant_id,
            channel: Channel::Webform,
            external_id: submission_id.hyphenated().to_string(),
            sender: Identifier::Email(self.email),
            identifiers: self.phone.into_iter().map(Identifier::Phone).collect(),
            display_name: Some(self.name),
            subject: Some(self.subject),
            body: limit_body(self.message, &mut metadata),
            received_at,
            metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::category::Category;
    use super::super::request::Submission;
    use super::*;
    use crate::domain::MAX_BODY_CHARS;
    use crate::domain::{EmailAddress, PhoneNumber};
    use chrono::TimeZone;

    fn request() -> TicketRequest {
        let body = json!({
            "name": "Beatriz Souza",
            "email": "beatriz@solarisconsultoria.com.br",
            "phone": "+55 11 91234 5678",
            "subject": "My week came back from my manager",
            "category": "general",
            "message": "My manager sent back my hours for last week.\nHow do I correct them?",
            "website": "",
            "widget_key": "tallyloom",
        });
        match TicketRequest::parse(body.to_string().as_bytes()) {
            Ok(Submission::Ticket(t)) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn builds_the_inbound_message() {
        let tenant = TenantId::new();
        let submission = Uuid::parse_str("0196b3f2-7c1e-7a3b-9d4e-5f6a7b8c9d0e").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 5, 9, 10, 0, 0).unwrap();
        let m = request().into_inbound_message(tenant, submission, at);
        assert_eq!(m.tenant_id, tenant);
        assert_eq!(m.channel, Channel::Webform);
        assert_eq!(m.external_id, "0196b3f2-7c1e-7a3b-9d4e-5f6a7b8c9d0e");
        assert_eq!(m.sender, Identifier::Email(EmailAddress::parse("beatriz@solarisconsultoria.com.br").unwrap()));
        assert_eq!(m.identifiers, vec![Identifier::Phone(PhoneNumber::parse("+5511912345678").unwrap())]);
        assert_eq!(m.display_name.as_deref(), Some("Beatriz Souza"));
        assert_eq!(m.subject.as_deref(), Some("My week came back from my manager"));
        assert_eq!(m.body, "My manager sent back my hours for last week.\nHow do I correct them?");
        assert_eq!(m.received_at, at);
        assert_eq!(
            m.metadata,
            json!({
                "source": "webform",
                "category": "general",
                "category_label": "General question",
                "status_ticket_id": "0196b3f2-7c1e-7a3b-9d4e-5f6a7b8c9d0e",
                "reference": "WF-D9XR-S78E",
                "widget_key": "tallyloom",
            })
        );
    }

    #[test]
    fn no_phone_no_extra_identifier() {
        let mut r = request();
        r.phone = None;
        r.category = Category::Billing;
        let m = r.into_inbound_message(TenantId::new(), Uuid::new_v4(), Utc::now());
        assert!(m.identifiers.is_empty());
        assert_eq!(m.metadata["category"], "billing");
    }

    #[test]
    fn an_oversized_hand_built_body_is_cut_and_recorded() {
        let mut r = request();
        r.message = "é".repeat(MAX_BODY_CHARS + 5);
        let m = r.into_inbound_message(TenantId::new(), Uuid::new_v4(), Utc::now());
        assert_eq!(m.body.chars().count(), MAX_BODY_CHARS);
        assert_eq!(m.metadata["body_truncated"], json!({ "original_chars": MAX_BODY_CHARS + 5 }));
    }
}
