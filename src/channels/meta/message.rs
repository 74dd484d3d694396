//! One customer message from a Cloud API `messages` webhook
//! (`entry[].changes[].value.messages[]`, Meta "Webhooks reference —
//! messages": `id` (`wamid.…`), `from`, `timestamp`, `type` and the object
//! named by the type; `contacts[].profile.name` beside it), read into
//! `MetaInbound` and turned into the runtime's `InboundMessage`. Owns
//! `MetaInbound`, `MessageContent`, `Media`, `MediaKind`, `Location`,
//! `ReplyKind` and `ReplyContext`.
//!
//! The body given to the runtime, by type: `text` → `text.body`; media
//! (`image`, `audio`, `video`, `document`, `sticker`) → the caption if
//! there is one, else a bracketed description: `[image]`, `[audio]`,
//! `[voice message]` (audio with `voice: true`), `[video]`,
//! `[document: <filename>]` or `[document]`, `[sticker]`; `location` →
//! `[location: <name>, <address> (<lat>, <lon>)]`; a tapped button or list
//! row (`button`, `interactive` `button_reply`/`list_reply`) → the title the
//! customer saw, which is what they "said"; a Flow reply (`nfm_reply`) → its
//! `body` or `[form reply]`; `reaction` → `[reaction <emoji>]` or
//! `[reaction removed]`; `contacts` → `[contact: <names>]`; `order` → its
//! `text` or `[order]`; `system` → `system.body`; `unsupported` →
//! `[unsupported message]`; any other type `t` → `[t message]`. The
//! structured content (media ids, coordinates, button ids, the message
//! reacted to) goes into `metadata`, so the runtime never depends on
//! parsing these descriptions.

use super::json::{MetaError, array_at, str_at, string_or_number_at, unix_seconds};
use super::webhook::{ChangeContext, ItemError};
use crate::domain::{Channel, Identifier, InboundMessage, PhoneNumber, TenantId, limit_body};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The `provider` recorded in metadata.
pub const PROVIDER: &str = "meta";

const MAX_MESSAGE_ID_LEN: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

impl MediaKind {
    pub const ALL: [MediaKind; 5] = [Self::Image, Self::Audio, Self::Video, Self::Document, Self::Sticker];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }

    fn from_type(t: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == t)
    }
}

/// An attachment. Meta hosts it: `GET /{version}/{id}` with the access
/// token gives a short-lived download URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub kind: MediaKind,
    pub id: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub caption: Option<String>,
    /// Documents only.
    pub filename: Option<String>,
    /// Audio recorded as a voice note.
    #[serde(default)]
    pub voice: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
    pub url: Option<String>,
}

/// How the customer picked a prepared answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// A quick-reply button of a template (`type: button`).
    Button,
    /// A reply button of an interactive message (`interactive.button_reply`).
    ButtonReply,
    /// A row of an interactive list (`interactive.list_reply`).
    ListReply,
    /// A WhatsApp Flow submission (`interactive.nfm_reply`).
    FlowReply,
}

/// What the message carries.
#[derive(Clone, Debug, PartialEq)]
pub enum MessageContent {
    Text {
        body: String,
    },
    Media(Media),
    Location(Location),
    /// `id` is the button/row id (or the template button's `payload`) the
    /// business chose when sending; `title` the text the customer saw.
    Reply {
        kind: ReplyKind,
        id: Option<String>,
        title: Option<String>,
        description: Option<String>,
    },
    /// `emoji` is absent when the customer removed their reaction.
    Reaction {
        message_id: Option<String>,
        emoji: Option<String>,
    },
    /// Meta could not read the message (`type: unsupported`); see `errors`.
    Unsupported,
    /// Any other type; `text` is what there is to read, if anything.
    Other {
        text: Option<String>,
    },
}

/// The message this one quotes or answers (`context`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyContext {
    pub message_id: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub forwarded: bool,
}

/// One customer message, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaInbound {
    /// The business number that received it (`metadata.phone_number_id`):
    /// the caller maps it to the tenant.
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    /// `entry[].id`: the WhatsApp Business Account.
    pub business_account_id: Option<String>,
    /// `wamid.…`: the dedupe key (`external_id`).
    pub message_id: String,
    /// The customer (`from`, a WhatsApp id: the number's digits).
    pub from: PhoneNumber,
    /// The customer's WhatsApp profile name (`contacts[].profile.name`).
    pub profile_name: Option<String>,
    /// When the customer sent it (`timestamp`).
    pub sent_at: DateTime<Utc>,
    /// `type` as Meta names it.
    pub message_type: String,
    pub content: MessageContent,
    pub context: Option<ReplyContext>,
    /// `messages[].errors` (sent with `unsupported` messages).
    pub errors: Vec<MetaError>,
}

impl MetaInbound {
    /// Reads `messages[i]` of a change; `contacts` is the change's
    /// `contacts` array (for the profile name).
    pub(crate) fn parse(m: &Value, ctx: &ChangeContext, contacts: &[Value]) -> Result<Self, ItemError> {
        if !m.is_object() {
            return Err(ItemError::NotAnObject);
        }
        let message_id = str_at(m, "id").ok_or(ItemError::Missing("id"))?;
        let id_ok =
            message_id.len() <= MAX_MESSAGE_ID_LEN && !message_id.chars().any(|c| c.is_whitespace() || c.is_control());
        if !id_ok {
            return Err(ItemError::BadMessageId(message_id.chars().take(80).collect()));
        }
        let wa_id = str_at(m, "from").ok_or(ItemError::Missing("from"))?;
        let from = PhoneNumber::from_wa_id(wa_id)
            .map_err(|source| ItemError::BadSender { value: wa_id.to_string(), source })?;
        let timestamp = string_or_number_at(m, "timestamp").ok_or(ItemError::Missing("timestamp"))?;
        let sent_at = unix_seconds(&timestamp).ok_or(ItemError::BadTimestamp(timestamp))?;
        let message_type = str_at(m, "type").unwrap_or("unknown").to_string();
        let content = content(m, &message_type);
        let context = m.get("context").filter(|c| c.is_object()).map(|c| ReplyContext {
            message_id: str_at(c, "id").map(str::to_string),
            from: str_at(c, "from").map(str::to_string),
            forwarded: c.get("forwarded").and_then(Value::as_bool).unwrap_or(false)
                || c.get("frequently_forwarded").and_then(Value::as_bool).unwrap_or(false),
        });
        Ok(Self {
            phone_number_id: ctx.phone_number_id.clone(),
            display_phone_number: ctx.display_phone_number.clone(),
            business_account_id: ctx.business_account_id.clone(),
            message_id: message_id.to_string(),
            profile_name: profile_name(contacts, wa_id, &from),
            from,
            sent_at,
            message_type,
            content,
            context,
            errors: MetaError::list_at(m, "errors"),
        })
    }

    /// The text the runtime reads (see the module notes for non-text
    /// messages), before any cut to `MAX_BODY_CHARS`.
    pub fn body(&self) -> String {
        match &self.content {
            MessageContent::Text { body } => body.clone(),
            MessageContent::Media(media) => match (&media.caption, media.kind) {
                (Some(caption), _) => caption.clone(),
                (None, MediaKind::Audio) if media.voice => "[voice message]".to_string(),
                (None, MediaKind::Document) => match &media.filename {
                    Some(name) => format!("[document: {name}]"),
                    None => "[document]".to_string(),
                },
                (None, kind) => format!("[{}]", kind.as_str()),
            },
            MessageContent::Location(loc) => {
                let place: Vec<&str> = [loc.name.as_deref(), loc.address.as_deref()].into_iter().flatten().collect();
                let coords = format!("({}, {})", loc.latitude, loc.longitude);
                if place.is_empty() {
                    format!("[location: {coords}]")
                } else {
                    format!("[location: {} {coords}]", place.join(", "))
                }
            }
            MessageContent::Reply { kind, title, .. } => match (title, kind) {
                (Some(t), _) => t.clone(),
                (None, ReplyKind::FlowReply) => "[form reply]".to_string(),
                (None, _) => "[button reply]".to_string(),
            },
            MessageContent::Reaction { emoji: Some(e), .. } => format!("[reaction {e}]"),
            MessageContent::Reaction { emoji: None, .. } => "[reaction removed]".to_string(),
            MessageContent::Unsupported => "[unsupported message]".to_string(),
            MessageContent::Other { text: Some(t) } => t.clone(),
            MessageContent::Other { text: None } => match self.message_type.as_str() {
                "order" => "[order]".to_string(),
                t => format!("[{t} message]"),
            },
        }
    }

    /// The runtime's message: sender `whatsapp:+<from>`, display name from
    /// the profile, `external_id` the `wamid`. `metadata` holds what a reply
    /// and later processing need: `provider` (`meta`), `phone_number_id`
    /// (the number to answer from), `display_phone_number`,
    /// `business_account_id`, `message_type`, `sent_at` (RFC 3339), `media`
    /// (list), and when present `location`, `reply`, `reaction`, `context`,
    /// `errors`; `body_truncated.original_chars` if the body was cut.
    pub fn into_inbound_message(self, tenant_id: TenantId, received_at: DateTime<Utc>) -> InboundMessage {
        let full = self.body();
        let media: Vec<&Media> = match &self.content {
            MessageContent::Media(m) => vec![m],
            _ => Vec::new(),
        };
        let mut metadata = json!({
            "provider": PROVIDER,
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "business_account_id": self.business_account_id,
            "message_type": self.message_type,
            "sent_at": self.sent_at.to_rfc3339(),
            "media": media,
        });
        match &self.content {
            MessageContent::Location(loc) => metadata["location"] = json!(loc),
            MessageContent::Reply { kind, id, title, description } => {
                metadata["reply"] = json!({ "kind": kind, "id": id, "title": title, "description": description });
            }
            MessageContent::Reaction { message_id, emoji } => {
                metadata["reaction"] = json!({ "message_id": message_id, "emoji": emoji });
            }
            _ => {}
        }
        if let Some(context) = &self.context {
            metadata["context"] = json!(context);
        }
        if !self.errors.is_empty() {
            metadata["errors"] = json!(self.errors);
        }
        InboundMessage {
            tenant_id,
            channel: Channel::Whatsapp,
            external_id: self.message_id,
            sender: Identifier::Whatsapp(self.from),
            identifiers: Vec::new(),
            display_name: self.profile_name,
            subject: None,
            body: limit_body(full, &mut metadata),
            received_at,
            metadata,
        }
    }
}

/// The profile name of the contact whose `wa_id` is the sender (or of the
/// only contact, if its `wa_id` is missing).
fn profile_name(contacts: &[Value], wa_id: &str, from: &PhoneNumber) -> Option<String> {
    let name = |c: &Value| c.get("profile").and_then(|p| str_at(p, "name")).map(str::to_string);
    let same = |c: &&Value| match str_at(c, "wa_id") {
        Some(id) => id == wa_id || PhoneNumber::from_wa_id(id).is_ok_and(|n| &n == from),
        None => contacts.len() == 1,
    };
    contacts.iter().find(same).and_then(name)
}

fn opt(v: &Value, key: &str) -> Option<String> {
    str_at(v, key).map(str::to_string)
}

fn content(m: &Value, message_type: &str) -> MessageContent {
    if message_type == "contacts" {
        return MessageContent::Other { text: Some(shared_contacts(m)) };
    }
    let obj = m.get(message_type).filter(|o| o.is_object());
    if let Some(kind) = MediaKind::from_type(message_type) {
        // A media message without a media id still reaches the runtime,
        // described, with no attachment to fetch.
        return match obj.and_then(|o| str_at(o, "id").map(|id| (o, id))) {
            Some((o, id)) => MessageContent::Media(Media {
                kind,
                id: id.to_string(),
                mime_type: opt(o, "mime_type"),
                sha256: opt(o, "sha256"),
                caption: opt(o, "caption"),
                filename: opt(o, "filename"),
                voice: o.get("voice").and_then(Value::as_bool).unwrap_or(false),
            }),
            None => MessageContent::Other { text: Some(format!("[{}]", kind.as_str())) },
        };
    }
    let Some(o) = obj else {
        return match message_type {
            "unsupported" | "unknown" => MessageContent::Unsupported,
            _ => MessageContent::Other { text: None },
        };
    };
    match message_type {
        "text" => match o.get("body").and_then(Value::as_str) {
            Some(body) => MessageContent::Text { body: body.to_string() },
            None => MessageContent::Other { text: None },
        },
        "location" => {
            let coord = |k: &str| o.get(k).and_then(Value::as_f64).filter(|x| x.is_finite());
            match (coord("latitude"), coord("longitude")) {
                (Some(latitude), Some(longitude)) => MessageContent::Location(Location {
                    latitude,
                    longitude,
                    name: opt(o, "name"),
                    address: opt(o, "address"),
                    url: opt(o, "url"),
                }),
                _ => MessageContent::Other { text: Some("[location]".to_string()) },
            }
        }
        "button" => MessageContent::Reply {
            kind: ReplyKind::Button,
            id: opt(o, "payload"),
            title: opt(o, "text"),
            description: None,
        },
        "interactive" => interactive(o),
        "reaction" => MessageContent::Reaction { message_id: opt(o, "message_id"), emoji: opt(o, "emoji") },
        "system" => MessageContent::Other { text: opt(o, "body") },
        "order" => MessageContent::Other { text: opt(o, "text") },
        "unsupported" | "unknown" => MessageContent::Unsupported,
        _ => MessageContent::Other { text: None },
    }
}

fn interactive(o: &Value) -> MessageContent {
    let reply = |kind: ReplyKind, key: &str| {
        let r = o.get(key).cloned().unwrap_or(Value::Null);
        MessageContent::Reply { kind, id: opt(&r, "id"), title: opt(&r, "title"), description: opt(&r, "description") }
    };
    match str_at(o, "type") {
        Some("button_reply") => reply(ReplyKind::ButtonReply, "button_reply"),
        Some("list_reply") => reply(ReplyKind::ListReply, "list_reply"),
        Some("nfm_reply") => {
            let r = o.get("nfm_reply").cloned().unwrap_or(Value::Null);
            MessageContent::Reply {
                kind: ReplyKind::FlowReply,
                id: opt(&r, "name"),
                title: opt(&r, "body"),
                description: opt(&r, "response_json"),
            }
        }
        _ => MessageContent::Other { text: None },
    }
}

/// The `contacts` type carries an array of cards under its type: their
/// formatted names.
fn shared_contacts(m: &Value) -> String {
    let cards = array_at(m, "contacts").unwrap_or_default();
    let names: Vec<&str> =
        cards.iter().filter_map(|c| c.get("name").and_then(|n| str_at(n, "formatted_name"))).collect();
    if names.is_empty() { "[contact]".to_string() } else { format!("[contact: {}]", names.join(", ")) }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
