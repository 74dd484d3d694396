//! The tickets file the eval reads (the format of
//! `context/sample-tickets.json`), parsed into inbound messages that carry
//! what the ticket's channel carries (`Ticket::inbound`), not every
//! identifier the ticket's customer record lists.

use crate::channels::gmail::quoting;
use crate::domain::{Channel, EmailAddress, Identifier, InboundMessage, PhoneNumber, SlackUserId, TenantId};
use serde::Deserialize;

/// The Slack workspace (`team_id`) eval's Slack messages come from.
pub const EVAL_SLACK_TEAM: &str = "T0EVAL0001";

/// What eval's `users.info` tells about a Slack ticket's user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackProfileSeed {
    pub user: SlackUserId,
    pub email: Option<EmailAddress>,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub channel: String,
    pub customer: Customer,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub message: String,
    pub expected: Expected,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Customer {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub slack_user: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Expected {
    pub action: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub kb_article: Option<String>,
    #[serde(default)]
    pub must_mention: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("cannot read tickets file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("tickets file is not a JSON list of tickets: {0}")]
    Parse(String),
    #[error("ticket {id}: {detail}")]
    Invalid { id: String, detail: String },
}

pub fn load(path: &std::path::Path) -> Result<Vec<Ticket>, TicketError> {
    let raw = std::fs::read_to_string(path)
        .map_err(|source| TicketError::Read { path: path.display().to_string(), source })?;
    let tickets: Vec<Ticket> = serde_json::from_str(&raw).map_err(|e| TicketError::Parse(e.to_string()))?;
    Ok(tickets)
}

impl Ticket {
    pub fn channel(&self) -> Result<Channel, TicketError> {
        self.channel.parse().map_err(|e: crate::domain::ParseChannelError| self.invalid(e.to_string()))
    }

    fn invalid(&self, detail: String) -> TicketError {
        TicketError::Invalid { id: self.id.clone(), detail }
    }

    fn email(&self) -> Result<Option<EmailAddress>, TicketError> {
        let parse = |e: &String| EmailAddress::parse(e).map_err(|e| self.invalid(e.to_string()));
        self.customer.email.as_ref().map(parse).transpose()
    }

    fn phone(&self) -> Result<Option<PhoneNumber>, TicketError> {
        let parse = |p: &String| PhoneNumber::parse(p).map_err(|e| self.invalid(e.to_string()));
        self.customer.phone.as_ref().map(parse).transpose()
    }

    fn slack_user(&self) -> Result<Option<SlackUserId>, TicketError> {
        let parse = |s: &String| SlackUserId::parse(s).map_err(|e| self.invalid(e.to_string()));
        self.customer.slack_user.as_ref().map(parse).transpose()
    }

    /// The Slack profile eval's `users.info` serves for a Slack ticket's
    /// user: the customer's email (if the ticket gives one) and name.
    pub fn slack_profile(&self) -> Result<Option<SlackProfileSeed>, TicketError> {
        if self.channel()? != Channel::Slack {
            return Ok(None);
        }
        Ok(self.slack_user()?.map(|user| SlackProfileSeed {
            user,
            email: self.email().ok().flatten(),
            name: self.customer.name.clone(),
        }))
    }

    /// The message as the ticket's channel adapter would have produced it,
    /// with only the identifiers and name that channel carries: email, the
    /// From address and name plus the phone number the Gmail adapter finds
    /// in the message's signature; web form, the email and name fields;
    /// WhatsApp, the sender's number and profile name; Slack, the user id
    /// alone, in the workspace `EVAL_SLACK_TEAM` (the runtime reads the
    /// email and name from eval's `users.info`, as it reads them from
    /// Slack).
    pub fn inbound(&self, tenant: TenantId) -> Result<InboundMessage, TicketError> {
        let channel = self.channel()?;
        let missing = || self.invalid(format!("no {channel} address for the customer"));
        let name = self.customer.name.clone();
        let (sender, identifiers, display_name) = match channel {
            Channel::Email => {
                let from = self.email()?.ok_or_else(missing)?;
                let signature = quoting::signature_phone(&quoting::clean(&self.message));
                (Identifier::Email(from), signature.map(Identifier::Phone).into_iter().collect(), name)
            }
            Channel::Webform => (Identifier::Email(self.email()?.ok_or_else(missing)?), Vec::new(), name),
            Channel::Whatsapp => (Identifier::Whatsapp(self.phone()?.ok_or_else(missing)?), Vec::new(), name),
            Channel::Slack => (Identifier::Slack(self.slack_user()?.ok_or_else(missing)?), Vec::new(), None),
        };
        let mut metadata = serde_json::json!({ "eval_ticket": self.id });
        if channel == Channel::Slack {
            metadata["team_id"] = EVAL_SLACK_TEAM.into();
        }
        Ok(InboundMessage {
            tenant_id: tenant,
            channel,
            external_id: format!("eval-{}", self.id),
            sender,
            identifiers,
            display_name,
            subject: self.subject.clone(),
            body: self.message.clone(),
            received_at: chrono::Utc::now(),
            metadata,
        })
    }

    /// Keys that identify the customer across tickets (email, phone, Slack).
    pub fn identity_keys(&self) -> Vec<String> {
        let c = &self.customer;
        let mut keys = Vec::new();
        if let Some(e) = &c.email {
            keys.push(format!("email:{}", e.trim().to_lowercase()));
        }
        if let Some(p) = &c.phone {
            keys.push(format!("phone:{}", p.chars().filter(|c| c.is_ascii_digit()).collect::<String>()));
        }
        if let Some(s) = &c.slack_user {
            keys.push(format!("slack:{}", s.trim()));
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ticket(channel: &str, customer: serde_json::Value, message: &str) -> Ticket {
        serde_json::from_value(json!({
            "id": "T001", "channel": channel, "customer": customer, "message": message,
            "expected": {"action": "answer"},
        }))
        .unwrap()
    }

    fn everything() -> serde_json::Value {
        json!({"name": "Kwame Asante", "email": "kwame@asante-studio.com", "phone": "+447700900418", "slack_user": "U0KWAME"})
    }

    #[test]
    fn each_channel_carries_only_its_own_identifiers() {
        let tenant = TenantId::new();
        let plain = "Please undo it.\n\nThanks,\nKwame";
        let email = ticket("email", everything(), plain).inbound(tenant).unwrap();
        assert_eq!(email.sender.to_string(), "email:kwame@asante-studio.com");
        assert!(email.identifiers.is_empty(), "the customer record's phone is not in the email");
        assert_eq!(email.display_name.as_deref(), Some("Kwame Asante"));
        // A phone in the signature is, as the Gmail adapter reads it.
        let signed = "Please undo it.\n\nThanks,\nKwame Asante\nAsante Studio\n+44 7700 900418";
        let email = ticket("email", everything(), signed).inbound(tenant).unwrap();
        assert_eq!(email.identifiers, vec![Identifier::Phone(PhoneNumber::parse("+447700900418").unwrap())]);

        let form = ticket("web_form", everything(), signed).inbound(tenant).unwrap();
        assert_eq!(form.all_identifiers().len(), 1);
        assert_eq!(form.sender.to_string(), "email:kwame@asante-studio.com");

        let whatsapp = ticket("whatsapp", everything(), plain).inbound(tenant).unwrap();
        assert_eq!(whatsapp.all_identifiers().len(), 1);
        assert_eq!(whatsapp.sender, Identifier::Whatsapp(PhoneNumber::parse("+447700900418").unwrap()));
        assert_eq!(whatsapp.display_name.as_deref(), Some("Kwame Asante"));

        let slack = ticket("slack", everything(), plain).inbound(tenant).unwrap();
        assert_eq!(slack.all_identifiers(), vec![Identifier::Slack(SlackUserId::parse("U0KWAME").unwrap())]);
        assert_eq!(slack.display_name, None, "a Slack event names no one");
        assert_eq!(slack.metadata["team_id"], EVAL_SLACK_TEAM);
        let seed = ticket("slack", everything(), plain).slack_profile().unwrap().unwrap();
        assert_eq!((seed.user.as_str(), seed.email.unwrap().as_str()), ("U0KWAME", "kwame@asante-studio.com"));
        assert_eq!(seed.name.as_deref(), Some("Kwame Asante"));
        assert!(ticket("email", everything(), plain).slack_profile().unwrap().is_none());
    }

    #[test]
    fn a_channel_without_its_address_is_refused() {
        let t = ticket("whatsapp", json!({"email": "kwame@asante-studio.com"}), "hi");
        assert!(matches!(t.inbound(TenantId::new()), Err(TicketError::Invalid { .. })));
        let t = ticket("slack", json!({"email": "kwame@asante-studio.com"}), "hi");
        assert!(matches!(t.inbound(TenantId::new()), Err(TicketError::Invalid { .. })));
    }
}
