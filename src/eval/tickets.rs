//! The tickets file the eval reads (the format of
//! `../shared/context/sample-tickets.json`), parsed into inbound messages.

use crate::domain::{Channel, EmailAddress, Identifier, InboundMessage, PhoneNumber, SlackUserId, TenantId};
use serde::Deserialize;

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

    /// Every identifier the ticket's customer has.
    pub fn identifiers(&self) -> Result<Vec<Identifier>, TicketError> {
        let c = &self.customer;
        let mut out = Vec::new();
        if let Some(e) = &c.email {
            out.push(Identifier::Email(EmailAddress::parse(e).map_err(|e| self.invalid(e.to_string()))?));
        }
        if let Some(p) = &c.phone {
            out.push(Identifier::Phone(PhoneNumber::parse(p).map_err(|e| self.invalid(e.to_string()))?));
        }
        if let Some(s) = &c.slack_user {
            out.push(Identifier::Slack(SlackUserId::parse(s).map_err(|e| self.invalid(e.to_string()))?));
        }
        Ok(out)
    }

    /// The message as a channel adapter would have produced it.
    pub fn inbound(&self, tenant: TenantId) -> Result<InboundMessage, TicketError> {
        let channel = self.channel()?;
        let all = self.identifiers()?;
        let sender = match channel {
            Channel::Email | Channel::Webform => all.iter().find(|i| matches!(i, Identifier::Email(_))),
            Channel::Whatsapp => all.iter().find(|i| matches!(i, Identifier::Phone(_))),
            Channel::Slack => all.iter().find(|i| matches!(i, Identifier::Slack(_))),
        }
        .cloned()
        .ok_or_else(|| self.invalid(format!("no {channel} address for the customer")))?;
        let sender = match (channel, sender) {
            (Channel::Whatsapp, Identifier::Phone(p)) => Identifier::Whatsapp(p),
            (_, s) => s,
        };
        Ok(InboundMessage {
            tenant_id: tenant,
            channel,
            external_id: format!("eval-{}", self.id),
            identifiers: all.into_iter().filter(|i| i.value() != sender.value()).collect(),
            sender,
            display_name: self.customer.name.clone(),
            subject: self.subject.clone(),
            body: self.message.clone(),
            received_at: chrono::Utc::now(),
            metadata: serde_json::json!({ "eval_ticket": self.id }),
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
