//! A customer's message as the runtime carries it, once a channel adapter
//! has verified and parsed it: `InboundMessage` on the channel topics, and
//! `TicketMessage` (the same, with the resolved customer) on
//! `fte.tickets.incoming`.

use super::{Channel, ConversationId, CustomerId, Identifier, MessageId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest message body the runtime accepts (characters beyond are cut at
/// the edge and the cut recorded in metadata).
pub const MAX_BODY_CHARS: usize = 20_000;

/// `body` cut to [`MAX_BODY_CHARS`] characters; a cut is recorded in
/// `metadata` as `body_truncated: {original_chars}`. Every channel adapter
/// builds its message's body with this.
pub fn limit_body(body: String, metadata: &mut serde_json::Value) -> String {
    let chars = body.chars().count();
    if chars <= MAX_BODY_CHARS {
        return body;
    }
    if let Some(m) = metadata.as_object_mut() {
        m.insert("body_truncated".into(), serde_json::json!({ "original_chars": chars }));
    }
    body.chars().take(MAX_BODY_CHARS).collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub tenant_id: TenantId,
    pub channel: Channel,
    /// The provider's id of the message: the dedupe key
    /// (unique per tenant and channel).
    pub external_id: String,
    /// The sender's own address on `channel`.
    pub sender: Identifier,
    /// Further identifiers the message reveals (an email signature's phone,
    /// a Slack profile's email).
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    pub body: String,
    pub received_at: DateTime<Utc>,
    #[serde(default)]
    pub metadata: serde_json::Value,
}

impl InboundMessage {
    /// The message as it may be stored: its text cleaned
    /// ([`super::clean_text`]: no NUL or other control characters, NFC),
    /// its body cut to [`MAX_BODY_CHARS`]. Every way in applies it before
    /// anything stores the message; applying it again changes nothing.
    pub fn cleaned(mut self) -> Self {
        fn clean(s: &mut String) {
            if let std::borrow::Cow::Owned(c) = super::clean_text(s) {
                *s = c;
            }
        }
        clean(&mut self.body);
        clean(&mut self.external_id);
        self.subject.iter_mut().for_each(clean);
        self.display_name.iter_mut().for_each(clean);
        super::clean_json(&mut self.metadata);
        self.body = limit_body(std::mem::take(&mut self.body), &mut self.metadata);
        self
    }

    /// Every identifier, the sender's first (identity resolution gives the
    /// message to the customer of the first one that matches).
    pub fn all_identifiers(&self) -> Vec<Identifier> {
        let mut all = vec![self.sender.clone()];
        for id in &self.identifiers {
            if !all.contains(id) {
                all.push(id.clone());
            }
        }
        all
    }
}

/// An inbound message after identity resolution: what the conversation
/// routers consume, keyed by `customer_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketMessage {
    pub customer_id: CustomerId,
    pub message: InboundMessage,
}

/// A message to send to a customer: the outbox payload on
/// `fte.channels.<channel>.outbound`, consumed by the dispatcher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub message_id: MessageId,
    pub tenant_id: TenantId,
    pub customer_id: CustomerId,
    pub conversation_id: ConversationId,
    pub channel: Channel,
    /// `ai`, `human` or `system`.
    pub author: String,
    /// Where to send it: the customer's address on `channel`.
    pub recipient: Option<Identifier>,
    pub body: String,
    /// The customer message this answers, if any (threading).
    pub in_reply_to: Option<MessageId>,
    pub created_at: DateTime<Utc>,
}
