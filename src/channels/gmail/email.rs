//! An inbound Gmail message made ready for the runtime: the fetched raw
//! message (`fetch`) parsed (`mime`), its text cleaned of quotes and
//! signature (`quoting`), its threading headers kept (RFC 5322 §3.6.4:
//! `Message-ID`, `In-Reply-To`, `References`) for the reply, and turned
//! into `InboundMessage`. Also decides what the caller must not answer, so
//! that the adapter never loops: auto-replies (`Auto-Submitted` other than
//! `no`, RFC 3834; `Precedence: bulk|junk|list|auto_reply`;
//! `X-Autoreply`/`X-Autorespond`; Microsoft's `X-MS-Exchange-Generated-Message-Source`
//! is not relied on), bounces (`multipart/report`, null `Return-Path`),
//! mailing lists (`List-Id`/`List-Unsubscribe`), and the mailbox's own
//! mail. Owns `EmailMessage`, `Automation` and `IgnoreReason`.

use super::fetch::FetchedMessage;
use super::mime::{self, Attachment, MimeError, NamedAddress};
use super::quoting::{self, CleanText};
use crate::domain::{Channel, EmailAddress, Identifier, InboundMessage, PhoneNumber, TenantId, limit_body};
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::json;

/// Why a message looks machine-sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Automation {
    /// `Auto-Submitted: <value>` (RFC 3834).
    AutoSubmitted(String),
    /// `Precedence: bulk | junk | list | auto_reply`.
    Precedence(String),
    /// `X-Autoreply`, `X-Autorespond` or `X-Autoresponder`.
    AutoreplyHeader,
    /// A delivery report (bounce) or a null `Return-Path`.
    Bounce,
    /// Mailing-list traffic (`List-Id` / `List-Unsubscribe`).
    MailingList,
}

/// Why the caller should store but not answer a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    Automated(Automation),
    /// Sent by the support mailbox itself (or a draft/sent copy).
    FromMailbox,
}

/// A header value decoded from encoded words as one line: a line break an
/// encoded word carried, with the blanks around it, becomes one space (a
/// reply's `Subject` may hold none).
fn one_line(value: &str) -> String {
    value.split(['\r', '\n']).map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A parsed inbound email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailMessage {
    /// Gmail's message id: `external_id`.
    pub gmail_id: String,
    pub thread_id: String,
    pub label_ids: Vec<String>,
    pub history_id: Option<u64>,
    pub internal_date: Option<DateTime<Utc>>,
    /// The support mailbox it arrived in.
    pub mailbox: EmailAddress,
    pub from: NamedAddress,
    pub reply_to: Option<NamedAddress>,
    pub to: Vec<NamedAddress>,
    pub cc: Vec<NamedAddress>,
    /// Decoded subject.
    pub subject: Option<String>,
    /// `<id@host>`, brackets kept.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub date: Option<DateTime<FixedOffset>>,
    /// What the customer wrote this time (quotes and signature removed).
    pub body: String,
    pub quote_stripped: bool,
    pub signature: Option<String>,
    /// A phone number found in the signature.
    pub signature_phone: Option<PhoneNumber>,
    pub from_html: bool,
    pub attachments: Vec<Attachment>,
    pub notes: Vec<String>,
    pub automation: Option<Automation>,
}

impl EmailMessage {
    /// Parses a fetched message that arrived in `mailbox`.
    pub fn parse(fetched: FetchedMessage, mailbox: &EmailAddress) -> Result<Self, MimeError> {
        let parsed = mime::parse(&fetched.raw)?;
        let text = parsed.text.unwrap_or_default();
        let cleaned: CleanText = quoting::clean(&text);
        let signature_phone = quoting::signature_phone(&cleaned);
        let subject = parsed.subject.as_deref().map(one_line).filter(|s| !s.is_empty());
        let automation = automation(&parsed.headers);
        Ok(Self {
            gmail_id: fetched.id,
            thread_id: fetched.thread_id,
            label_ids: fetched.label_ids,
            history_id: fetched.history_id,
            internal_date: fetched.internal_date,
            mailbox: mailbox.clone(),
            reply_to: parsed.reply_to,
            to: parsed.to,
            cc: parsed.cc,
            from: parsed.from,
            subject,
            message_id: parsed.message_id,
            in_reply_to: parsed.in_reply_to,
            references: parsed.references,
            date: parsed.date,
            body: cleaned.body,
            quote_stripped: cleaned.quote_stripped,
            signature: cleaned.signature,
            signature_phone,
            from_html: parsed.from_html,
            attachments: parsed.attachments,
            notes: parsed.notes,
            automation,
        })
    }

    /// Whether a machine sent it (auto-reply, bounce, list).
    pub fn is_automated(&self) -> bool {
        self.automation.is_some()
    }

    /// Whether the support mailbox sent it (answering would loop).
    pub fn is_from_mailbox(&self) -> bool {
        self.from.address == self.mailbox || self.label_ids.iter().any(|l| l == "SENT" || l == "DRAFT")
    }

    /// Why not to answer, if the caller should not.
    pub fn ignore_reason(&self) -> Option<IgnoreReason> {
        if self.is_from_mailbox() {
            return Some(IgnoreReason::FromMailbox);
        }
        self.automation.clone().map(IgnoreReason::Automated)
    }

    /// The runtime's message. The body is cut to `MAX_BODY_CHARS`
    /// (recorded as `metadata.body_truncated`); `metadata` holds what the
    /// reply needs (`thread_id`, `message_id_header`, `references`,
    /// `subject`, `reply_to`, `mailbox`) and what was stripped.
    pub fn into_inbound_message(self, tenant_id: TenantId, received_at: DateTime<Utc>) -> InboundMessage {
        let addresses = |v: &[NamedAddress]| v.iter().map(|a| a.address.to_string()).collect::<Vec<_>>();
        let mut metadata = json!({
            "provider": "gmail",
            "mailbox": self.mailbox.as_str(),
            "gmail_message_id": self.gmail_id,
            "thread_id": self.thread_id,
            "history_id": self.history_id,
            "label_ids": self.label_ids,
            "message_id_header": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": self.references,
            "subject": self.subject,
            "reply_to": self.reply_to.as_ref().map(|a| a.address.as_str()),
            "to": addresses(&self.to),
            "cc": addresses(&self.cc),
            "date_header": self.date.map(|d| d.to_rfc3339()),
            "from_html": self.from_html,
            "quote_stripped": self.quote_stripped,
            "signature_stripped": self.signature.is_some(),
            "attachments": self.attachments,
        });
        if !self.notes.is_empty() {
            metadata["parse_notes"] = json!(self.notes);
        }
        if let Some(a) = &self.automation {
            metadata["automated"] = json!(format!("{a:?}"));
        }
        let sender = Identifier::Email(self.from.address.clone());
        let identifiers = self.signature_phone.map(Identifier::Phone).into_iter().collect();
        InboundMessage {
            tenant_id,
            channel: Channel::Email,
            external_id: self.gmail_id,
            sender,
            identifiers,
            display_name: self.from.name,
            subject: self.subject,
            body: limit_body(self.body, &mut metadata),
            received_at,
            metadata,
        }
    }
}

fn automation(h: &mime::Headers) -> Option<Automation> {
    if let Some(v) = h.get("auto-submitted") {
        let v = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if !v.is_empty() && v != "no" {
            return Some(Automation::AutoSubmitted(v));
        }
    }
    if let Some(v) = h.get("precedence") {
        let v = v.trim().to_ascii_lowercase();
        if matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply") {
            return Some(Automation::Precedence(v));
        }
    }
    if ["x-autoreply", "x-autorespond", "x-autoresponder"].iter().any(|n| h.get(n).is_some()) {
        return Some(Automation::AutoreplyHeader);
    }
    let report = h.get("content-type").is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("multipart/report"));
    let null_return = h.get("return-path").is_some_and(|r| r.trim() == "<>");
    if report || null_return {
        return Some(Automation::Bounce);
    }
    if h.get("list-id").is_some() || h.get("list-unsubscribe").is_some() {
        return Some(Automation::MailingList);
    }
    None
}
