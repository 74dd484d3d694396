//! WhatsApp's 24-hour customer-service window: a business may send
//! free-form messages only within 24 hours of the customer's last message;
//! after that, only an approved template (Meta "Conversations / Customer
//! service windows"; a free-form send outside it fails with 131047). Owns
//! `service_window_open`, `service_window_closes_at`, `OutboundPlan`,
//! `plan_outbound` and `PlanError`. Pure: the caller supplies `now`.
//!
//! The window is open iff the last customer message is less than 24 hours
//! old: at exactly 24 hours it is closed. A last message in the future
//! (clock skew) counts as just sent. When the plan is a template, the reply
//! text itself is not sent: the template invites the customer to write
//! back, which reopens the window for the real reply.

use super::template::Template;
use chrono::{DateTime, TimeDelta, Utc};

/// The length of the customer-service window.
pub const SERVICE_WINDOW: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error(
        "cannot send this WhatsApp message: the customer has not written in the last 24 hours ({}), so WhatsApp only accepts an approved template, and no template is configured",
        last_seen(.last_customer_message_at)
    )]
    OutsideWindowNoTemplate { last_customer_message_at: Option<DateTime<Utc>> },
}

fn last_seen(at: &Option<DateTime<Utc>>) -> String {
    match at {
        Some(t) => format!("last message at {}", t.to_rfc3339()),
        None => "they have never written".to_string(),
    }
}

/// Whether free-form messages may be sent now.
pub fn service_window_open(last_customer_message_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_customer_message_at.is_some_and(|last| now.signed_duration_since(last) < SERVICE_WINDOW)
}

/// When the window closes (or closed), if the customer ever wrote.
pub fn service_window_closes_at(last_customer_message_at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    last_customer_message_at.and_then(|last| last.checked_add_signed(SERVICE_WINDOW))
}

/// What to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboundPlan {
    /// The reply itself, as a text message.
    FreeForm { body: String },
    /// The configured template, instead of the reply.
    Template(Template),
}

/// Free-form `body` inside the window, `template` outside it.
pub fn plan_outbound(
    body: &str,
    last_customer_message_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    template: Option<&Template>,
) -> Result<OutboundPlan, PlanError> {
    if service_window_open(last_customer_message_at, now) {
        return Ok(OutboundPlan::FreeForm { body: body.to_string() });
    }
    template
        .map(|t| OutboundPlan::Template(t.clone()))
        .ok_or(PlanError::OutsideWindowNoTemplate { last_customer_message_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn window_edges() {
        let last = at("2025-06-08T20:59:43Z");
        let open = |now: &str| service_window_open(Some(last), at(now));
        assert!(open("2025-06-08T20:59:43Z"));
        assert!(open("2025-06-09T20:59:42Z"));
        assert!(open("2025-06-09T20:59:42.999999999Z"));
        assert!(!open("2025-06-09T20:59:43Z"), "exactly 24 hours: closed");
        assert!(!open("2025-06-09T20:59:43.000000001Z"));
        assert!(!open("2025-07-01T00:00:00Z"));
        assert!(open("2025-06-08T20:00:00Z"), "a message from the future counts as just sent");
        assert!(!service_window_open(None, last));
        assert_eq!(service_window_closes_at(Some(last)), Some(at("2025-06-09T20:59:43Z")));
        assert_eq!(service_window_closes_at(None), None);
        assert_eq!(service_window_closes_at(Some(DateTime::<Utc>::MAX_UTC)), None);
        assert!(service_window_open(Some(DateTime::<Utc>::MAX_UTC), DateTime::<Utc>::MIN_UTC));
        assert!(!service_window_open(Some(DateTime::<Utc>::MIN_UTC), DateTime::<Utc>::MAX_UTC));
    }

    #[test]
    fn plans_free_form_inside_and_templates_outside() {
        let last = at("2025-06-08T20:59:43Z");
        let t = Template::new("support_followup", "en_US", vec![]).unwrap();
        let inside = at("2025-06-09T10:00:00Z");
        let outside = at("2025-06-09T20:59:43Z");
        assert_eq!(
            plan_outbound("Here you go", Some(last), inside, Some(&t)),
            Ok(OutboundPlan::FreeForm { body: "Here you go".into() })
        );
        assert_eq!(plan_outbound("Here you go", Some(last), outside, Some(&t)), Ok(OutboundPlan::Template(t.clone())));
        assert_eq!(plan_outbound("Hi", None, inside, Some(&t)), Ok(OutboundPlan::Template(t)));
        let e = plan_outbound("Here you go", Some(last), outside, None).unwrap_err();
        assert_eq!(e, PlanError::OutsideWindowNoTemplate { last_customer_message_at: Some(last) });
        let text = e.to_string();
        assert!(text.contains("last 24 hours") && text.contains("no template is configured"), "{text}");
        assert!(text.contains("2025-06-08T20:59:43+00:00"), "{text}");
        let never = plan_outbound("Hi", None, inside, None).unwrap_err().to_string();
        assert!(never.contains("never written"), "{never}");
    }
}
