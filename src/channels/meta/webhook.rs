//! The webhook POST: Meta's envelope `{"object": "whatsapp_business_account",
//! "entry": [{"id": <WABA id>, "changes": [{"field": "messages", "value":
//! {"messaging_product": "whatsapp", "metadata": {"display_phone_number",
//! "phone_number_id"}, "contacts": [...], "messages": [...], "statuses":
//! [...], "errors": [...]}}]}]}` (Meta "WhatsApp Cloud API — Webhooks
//! overview" and "Webhooks reference — messages"). One POST may batch
//! several entries, changes, messages and statuses; `parse_webhook` returns
//! them all as a `WebhookBatch`. Owns `WebhookBatch`, `Skipped`,
//! `AccountError`, `WebhookError` (the POST as a whole is unusable: answer
//! 4xx) and `ItemError` (one message or status is unusable: it is reported
//! in `skipped` and the rest of the batch is kept, so that one odd item
//! does not make Meta redeliver, and eventually drop, the whole POST).
//!
//! Changes whose `field` is not `messages` (template status updates,
//! account alerts, …) are listed in `ignored_fields`; a change without
//! `field` is read as `messages`. Unknown message types are kept and
//! described (see `message`).

use super::json::{MetaError, array_at, str_at, string_or_number_at};
use super::message::MetaInbound;
use super::signature::{AppSecret, SignatureError};
use super::status::MetaStatus;
use crate::domain::ContactError;
use serde_json::Value;

/// The only `object` a WhatsApp webhook carries.
pub const OBJECT: &str = "whatsapp_business_account";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("webhook signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("the webhook body is not valid UTF-8 (first bad byte at offset {0})")]
    NotUtf8(usize),
    #[error("the webhook body is not valid JSON: {0}")]
    Json(String),
    #[error("the webhook body is not a JSON object")]
    NotAnObject,
    #[error("the webhook has no {0}")]
    Missing(&'static str),
    #[error("the webhook is about {0:?}, not whatsapp_business_account")]
    WrongObject(String),
    #[error("the webhook's entry is not a JSON array")]
    EntryNotArray,
}

/// Why one entry, change, message or status was skipped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ItemError {
    #[error("it is not a JSON object")]
    NotAnObject,
    #[error("it has no {0}")]
    Missing(&'static str),
    #[error("its {0} is not a JSON array")]
    NotAnArray(&'static str),
    #[error("its message id {0:?} is not usable as a dedupe key")]
    BadMessageId(String),
    #[error("its timestamp {0:?} is not Unix seconds")]
    BadTimestamp(String),
    #[error("its sender {value:?} is not a WhatsApp number: {source}")]
    BadSender { value: String, source: ContactError },
    #[error("its messaging_product is {0:?}, not whatsapp")]
    WrongProduct(String),
}

/// One skipped item: where it was (`entry[0].changes[1].messages[2]`), its
/// id if it had one, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub id: Option<String>,
    pub error: ItemError,
}

/// An error Meta reported about a number rather than a message
/// (`value.errors[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountError {
    pub phone_number_id: String,
    pub error: MetaError,
}

/// Everything one webhook POST carried.
#[derive(Debug, Default, PartialEq)]
pub struct WebhookBatch {
    pub messages: Vec<MetaInbound>,
    pub statuses: Vec<MetaStatus>,
    pub errors: Vec<AccountError>,
    pub skipped: Vec<Skipped>,
    /// The `field` of changes that are not about messages.
    pub ignored_fields: Vec<String>,
}

/// What a message or status inherits from its change and entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChangeContext {
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    pub business_account_id: Option<String>,
}

/// Verifies `X-Hub-Signature-256` over the raw body, then parses it.
pub fn parse_signed_webhook(
    secret: &AppSecret,
    body: &[u8],
    signature_header: Option<&str>,
) -> Result<WebhookBatch, WebhookError> {
    secret.verify(body, signature_header)?;
    parse_webhook(body)
}

/// Parses a webhook body whose signature has already been checked.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookBatch, WebhookError> {
    let text = std::str::from_utf8(body).map_err(|e| WebhookError::NotUtf8(e.valid_up_to()))?;
    let root: Value = serde_json::from_str(text).map_err(|e| WebhookError::Json(e.to_string()))?;
    if !root.is_object() {
        return Err(WebhookError::NotAnObject);
    }
    match root.get("object") {
        None | Some(Value::Null) => return Err(WebhookError::Missing("object")),
        Some(Value::String(o)) if o == OBJECT => {}
        Some(other) => {
            let shown = other.as_str().map_or_else(|| other.to_string(), str::to_string);
            return Err(WebhookError::WrongObject(shown.chars().take(80).collect()));
        }
    }
    let entries = match root.get("entry") {
        None | Some(Value::Null) => return Err(WebhookError::Missing("entry")),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(WebhookError::EntryNotArray),
    };
    let mut batch = WebhookBatch::default();
    for (i, entry) in entries.iter().enumerate() {
        batch.read_entry(&format!("entry[{i}]"), entry);
    }
    Ok(batch)
}

impl WebhookBatch {
    fn skip(&mut self, path: String, item: &Value, error: ItemError) {
        self.skipped.push(Skipped { path, id: str_at(item, "id").map(str::to_string), error });
    }

    fn read_entry(&mut self, path: &str, entry: &Value) {
        if !entry.is_object() {
            return self.skip(path.to_string(), entry, ItemError::NotAnObject);
        }
        let Some(changes) = array_at(entry, "changes") else {
            return self.skip(path.to_string(), entry, ItemError::NotAnArray("changes"));
        };
        let business_account_id = string_or_number_at(entry, "id");
        for (j, change) in changes.iter().enumerate() {
            self.read_change(&format!("{path}.changes[{j}]"), change, business_account_id.as_ref());
        }
    }

    fn read_change(&mut self, path: &str, change: &Value, business_account_id: Option<&String>) {
        if !change.is_object() {
            return self.skip(path.to_string(), change, ItemError::NotAnObject);
        }
        if let Some(field) = str_at(change, "field")
            && field != "messages"
        {
            return self.ignored_fields.push(field.to_string());
        }
        let Some(value) = change.get("value").filter(|v| v.is_object()) else {
            return self.skip(path.to_string(), change, ItemError::Missing("value"));
        };
        if let Some(product) = str_at(value, "messaging_product")
            && product != "whatsapp"
        {
            return self.skip(path.to_string(), change, ItemError::WrongProduct(product.to_string()));
        }
        let metadata = value.get("metadata").unwrap_or(&Value::Null);
        let Some(phone_number_id) = string_or_number_at(metadata, "phone_number_id") else {
            return self.skip(path.to_string(), change, ItemError::Missing("metadata.phone_number_id"));
        };
        let ctx = ChangeContext {
            phone_number_id,
            display_phone_number: string_or_number_at(metadata, "display_phone_number"),
            business_account_id: business_account_id.cloned(),
        };
        let contacts = array_at(value, "contacts").unwrap_or_default();
        match array_at(value, "messages") {
            None => self.skip(format!("{path}.value"), value, ItemError::NotAnArray("messages")),
            Some(messages) => {
                for (k, m) in messages.iter().enumerate() {
                    match MetaInbound::parse(m, &ctx, contacts) {
                        Ok(msg) => self.messages.push(msg),
                        Err(e) => self.skip(format!("{path}.value.messages[{k}]"), m, e),
                    }
                }
            }
        }
        match array_at(value, "statuses") {
            None => self.skip(format!("{path}.value"), value, ItemError::NotAnArray("statuses")),
            Some(statuses) => {
                for (k, s) in statuses.iter().enumerate() {
                    match MetaStatus::parse(s, &ctx) {
                        Ok(st) => self.statuses.push(st),
                        Err(e) => self.skip(format!("{path}.value.statuses[{k}]"), s, e),
                    }
                }
            }
        }
        for error in MetaError::list_at(value, "errors") {
            self.errors.push(AccountError { phone_number_id: ctx.phone_number_id.clone(), error });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::DeliveryStatus;
    use crate::channels::meta::fixtures::{DELIVERED, FAILED, IMAGE, MULTI, TEXT, with_message};
    use crate::channels::meta::message::{MediaKind, MessageContent};
    use crate::channels::meta::status::StatusKind;
    use crate::domain::{Channel, Identifier, PhoneNumber, TenantId};
    use chrono::Utc;

    fn parse(body: &str) -> WebhookBatch {
        parse_webhook(body.as_bytes()).unwrap()
    }

    #[test]
    fn parses_metas_text_example() {
        let batch = parse(TEXT);
        assert!(batch.statuses.is_empty() && batch.skipped.is_empty() && batch.errors.is_empty());
        let [m] = batch.messages.as_slice() else { panic!("{batch:?}") };
        assert_eq!(m.phone_number_id, "106540352242922");
        assert_eq!(m.display_phone_number.as_deref(), Some("15550783881"));
        assert_eq!(m.business_account_id.as_deref(), Some("102290129340398"));
        assert_eq!(m.message_id, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=");
        assert_eq!(m.from.as_str(), "+16505551234");
        assert_eq!(m.profile_name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(m.sent_at.timestamp(), 1749416383);
        assert_eq!(m.message_type, "text");
        assert_eq!(m.content, MessageContent::Text { body: "Does it come in another color?".into() });

        let tenant = TenantId::new();
        let at = Utc::now();
        let msg = m.clone().into_inbound_message(tenant, at);
        assert_eq!((msg.tenant_id, msg.channel, msg.received_at), (tenant, Channel::Whatsapp, at));
        assert_eq!(msg.external_id, m.message_id);
        assert_eq!(msg.sender, Identifier::Whatsapp(PhoneNumber::parse("+16505551234").unwrap()));
        assert_eq!(msg.display_name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(msg.body, "Does it come in another color?");
        assert_eq!(msg.subject, None);
        assert_eq!(msg.metadata["provider"], "meta");
        assert_eq!(msg.metadata["phone_number_id"], "106540352242922");
        assert_eq!(msg.metadata["display_phone_number"], "15550783881");
        assert_eq!(msg.metadata["business_account_id"], "102290129340398");
        assert_eq!(msg.metadata["message_type"], "text");
        assert_eq!(msg.metadata["sent_at"], "2025-06-08T20:59:43+00:00");
        assert_eq!(msg.metadata["media"], serde_json::json!([]));
        assert!(msg.metadata.get("body_truncated").is_none());
    }

    #[test]
    fn parses_metas_image_example() {
        let batch = parse(IMAGE);
        let [m] = batch.messages.as_slice() else { panic!("{batch:?}") };
        let MessageContent::Media(media) = &m.content else { panic!("{m:?}") };
        assert_eq!(media.kind, MediaKind::Image);
        assert_eq!(media.id, "1003383421387256");
        assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(media.sha256.as_deref(), Some("SfInY0gHMKtuTXwf5jJ8Pf4Xj7uvKJHaPRVbDs5FOZI="));
        assert_eq!(m.body(), "This is a caption");
        let msg = m.clone().into_inbound_message(TenantId::new(), Utc::now());
        assert_eq!(msg.body, "This is a caption");
        assert_eq!(msg.metadata["message_type"], "image");
        assert_eq!(msg.metadata["media"][0]["id"], "1003383421387256");
        assert_eq!(msg.metadata["media"][0]["kind"], "image");
        assert_eq!(msg.metadata["media"][0]["mime_type"], "image/jpeg");
        assert_eq!(msg.metadata["media"][0]["caption"], "This is a caption");
    }

    #[test]
    fn parses_statuses() {
        let batch = parse(DELIVERED);
        assert!(batch.messages.is_empty() && batch.skipped.is_empty());
        let [s] = batch.statuses.as_slice() else { panic!("{batch:?}") };
        assert_eq!(s.phone_number_id, "590968830767958");
        assert_eq!(s.message_id, "wamid.HBgNNTUxNjk5MjMxODIyMhUCABEYEjgxQkVFRDVBQTVDODFDOTg3MQA=");
        assert_eq!(s.status, StatusKind::Delivered);
        assert_eq!(s.delivery_status(), Some(DeliveryStatus::Delivered));
        assert_eq!(s.timestamp.timestamp(), 1750857384);
        assert_eq!(s.recipient_id.as_deref(), Some("5516992318222"));
        assert_eq!(s.conversation_id.as_deref(), Some("a75d17ad06104c51166f948319b03c6a"));
        assert_eq!(s.pricing_category.as_deref(), Some("service"));
        assert_eq!((s.error_code(), s.error_title(), s.outside_service_window()), (None, None, false));

        let batch = parse(FAILED);
        let [s] = batch.statuses.as_slice() else { panic!("{batch:?}") };
        assert_eq!(s.delivery_status(), Some(DeliveryStatus::Failed));
        assert_eq!(s.error_code(), Some(131047));
        assert_eq!(s.error_title(), Some("Re-engagement message"));
        assert!(s.outside_service_window());
        assert!(s.errors[0].details.as_deref().unwrap().contains("more than 24 hours"));
    }

    #[test]
    fn parses_a_batch_of_several_entries() {
        let batch = parse(MULTI);
        let ids: Vec<&str> = batch.messages.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["wamid.A1", "wamid.A2", "wamid.A3", "wamid.B1"]);
        let numbers: Vec<&str> = batch.messages.iter().map(|m| m.phone_number_id.as_str()).collect();
        assert_eq!(numbers, ["106540352242922", "106540352242922", "106540352242922", "200000000000001"]);
        let names: Vec<_> = batch.messages.iter().map(|m| m.profile_name.as_deref()).collect();
        assert_eq!(names, [Some("Sheena Nelson"), Some("Kofi Mensah"), Some("Sheena Nelson"), Some("Ana")]);
        assert_eq!(batch.messages[1].body(), "[reaction 👍]");
        // An unknown type is kept, described.
        assert_eq!(batch.messages[2].message_type, "hologram");
        assert_eq!(batch.messages[2].body(), "[hologram message]");
        assert_eq!(batch.messages[3].from.as_str(), "+5511987654321");

        let [skipped] = batch.skipped.as_slice() else { panic!("{:?}", batch.skipped) };
        assert_eq!(skipped.path, "entry[0].changes[0].value.messages[3]");
        assert_eq!(skipped.id.as_deref(), Some("wamid.A4"));
        assert!(matches!(&skipped.error, ItemError::BadSender { value, .. } if value == "not-a-number"));
        assert!(skipped.error.to_string().contains("not-a-number"));

        let [s] = batch.statuses.as_slice() else { panic!("{:?}", batch.statuses) };
        assert_eq!((s.phone_number_id.as_str(), s.status.clone()), ("300000000000003", StatusKind::Read));
        assert_eq!(batch.ignored_fields, ["message_template_status_update"]);
    }

    #[test]
    fn checks_the_signature_first() {
        let secret = AppSecret::new("app-secret").unwrap();
        let header = secret.sign(TEXT.as_bytes());
        assert_eq!(parse_signed_webhook(&secret, TEXT.as_bytes(), Some(&header)).unwrap().messages.len(), 1);
        let tampered = TEXT.replace("another color", "another colour");
        assert_eq!(
            parse_signed_webhook(&secret, tampered.as_bytes(), Some(&header)),
            Err(WebhookError::Signature(SignatureError::Mismatch))
        );
        assert_eq!(
            parse_signed_webhook(&secret, TEXT.as_bytes(), None),
            Err(WebhookError::Signature(SignatureError::Missing))
        );
        assert_eq!(
            parse_signed_webhook(&secret, TEXT.as_bytes(), Some("md5=abc")),
            Err(WebhookError::Signature(SignatureError::Malformed))
        );
        // A bad signature is reported even when the body is garbage.
        assert_eq!(
            parse_signed_webhook(&secret, b"\xff\xfe", Some(&header)),
            Err(WebhookError::Signature(SignatureError::Mismatch))
        );
    }

    #[test]
    fn rejects_unusable_posts() {
        let err = |b: &[u8]| parse_webhook(b).unwrap_err();
        assert_eq!(err(b"{\"object\":\"whatsapp_business_account\",\"entry\":[\xff]}"), WebhookError::NotUtf8(47));
        assert!(matches!(err(b""), WebhookError::Json(_)));
        assert!(matches!(err(b"{\"object\":"), WebhookError::Json(_)));
        assert!(matches!(err(&TEXT.as_bytes()[..TEXT.len() - 2]), WebhookError::Json(_)));
        assert_eq!(err(b"[]"), WebhookError::NotAnObject);
        assert_eq!(err(b"\"whatsapp_business_account\""), WebhookError::NotAnObject);
        assert_eq!(err(b"{\"entry\":[]}"), WebhookError::Missing("object"));
        assert_eq!(err(br#"{"object":"page","entry":[]}"#), WebhookError::WrongObject("page".into()));
        assert_eq!(err(br#"{"object":7,"entry":[]}"#), WebhookError::WrongObject("7".into()));
        assert_eq!(err(br#"{"object":"whatsapp_business_account"}"#), WebhookError::Missing("entry"));
        assert_eq!(err(br#"{"object":"whatsapp_business_account","entry":{}}"#), WebhookError::EntryNotArray);
        // Deep nesting hits serde_json's recursion limit, not the stack.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(err(deep.as_bytes()), WebhookError::Json(_)));
        let batch = parse(r#"{"object":"whatsapp_business_account","entry":[]}"#);
        assert_eq!(batch, WebhookBatch::default());
    }

    #[test]
    fn skips_unusable_items_and_keeps_the_rest() {
        let body = r#"{"object":"whatsapp_business_account","entry":[
            5,
            {"id":"1","changes":{}},
            {"id":"2","changes":[
                "x",
                {"field":"messages"},
                {"field":"messages","value":{"messaging_product":"instagram","metadata":{"phone_number_id":"9"}}},
                {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{}}},
                {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"9"},
                    "messages":{"id":"x"},"statuses":7}},
                {"value":{"metadata":{"phone_number_id":9},
                    "messages":[
                        {"id":"wamid.ok","from":"16505551234","timestamp":1749416383,"type":"text","text":{"body":"kept"}},
                        {"from":"16505551234","timestamp":"1749416383","type":"text","text":{"body":"no id"}},
                        {"id":"wamid.nofrom","timestamp":"1749416383","type":"text"},
                        {"id":"wamid.nots","from":"16505551234","type":"text"},
                        {"id":"wamid.badts","from":"16505551234","timestamp":"2025-06-08","type":"text"},
                        {"id":"wamid with space","from":"16505551234","timestamp":"1749416383","type":"text"},
                        null
                    ],
                    "errors":[{"code":130429,"title":"Rate limit hit","message":"Rate limit hit",
                        "error_data":{"details":"Message failed to send because there were too many messages sent from this phone number in a short period of time"}}]}}
            ]}
        ]}"#;
        let batch = parse(body);
        let [m] = batch.messages.as_slice() else { panic!("{batch:?}") };
        assert_eq!((m.message_id.as_str(), m.phone_number_id.as_str(), m.body().as_str()), ("wamid.ok", "9", "kept"));
        assert_eq!(m.business_account_id.as_deref(), Some("2"));
        let got: Vec<(&str, &ItemError)> = batch.skipped.iter().map(|s| (s.path.as_str(), &s.error)).collect();
        let p = "entry[2].changes[5].value.messages";
        assert_eq!(
            got,
            [
                ("entry[0]", &ItemError::NotAnObject),
                ("entry[1]", &ItemError::NotAnArray("changes")),
                ("entry[2].changes[0]", &ItemError::NotAnObject),
                ("entry[2].changes[1]", &ItemError::Missing("value")),
                ("entry[2].changes[2]", &ItemError::WrongProduct("instagram".into())),
                ("entry[2].changes[3]", &ItemError::Missing("metadata.phone_number_id")),
                ("entry[2].changes[4].value", &ItemError::NotAnArray("messages")),
                ("entry[2].changes[4].value", &ItemError::NotAnArray("statuses")),
                (&format!("{p}[1]") as &str, &ItemError::Missing("id")),
                (&format!("{p}[2]"), &ItemError::Missing("from")),
                (&format!("{p}[3]"), &ItemError::Missing("timestamp")),
                (&format!("{p}[4]"), &ItemError::BadTimestamp("2025-06-08".into())),
                (&format!("{p}[5]"), &ItemError::BadMessageId("wamid with space".into())),
                (&format!("{p}[6]"), &ItemError::NotAnObject),
            ]
        );
        assert_eq!(batch.skipped[10].id.as_deref(), Some("wamid.nots"));
        let [e] = batch.errors.as_slice() else { panic!("{:?}", batch.errors) };
        assert_eq!((e.phone_number_id.as_str(), e.error.code), ("9", Some(130429)));
    }

    #[test]
    fn large_posts_and_long_bodies() {
        let one = |i: usize| {
            format!(
                r#"{{"from":"16505551234","id":"wamid.{i}","timestamp":"1749416383","type":"text","text":{{"body":"{}"}}}}"#,
                "é".repeat(1000)
            )
        };
        let messages: Vec<String> = (0..2000).map(one).collect();
        let body = with_message(&messages.join(","));
        assert!(body.len() > 4_000_000);
        let batch = parse(&body);
        assert_eq!(batch.messages.len(), 2000);
        assert_eq!(batch.messages[1999].message_id, "wamid.1999");

        let long = "ß".repeat(crate::domain::MAX_BODY_CHARS + 7);
        let body = with_message(&format!(
            r#"{{"from":"16505551234","id":"wamid.long","timestamp":"1749416383","type":"text","text":{{"body":"{long}"}}}}"#
        ));
        let msg = parse(&body).messages.remove(0).into_inbound_message(TenantId::new(), Utc::now());
        assert_eq!(msg.body.chars().count(), crate::domain::MAX_BODY_CHARS);
        assert_eq!(msg.metadata["body_truncated"]["original_chars"], crate::domain::MAX_BODY_CHARS + 7);
    }

    proptest::proptest! {
        /// Any bytes: a batch or an error, never a panic.
        #[test]
        fn any_bytes_are_parsed_or_refused(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_webhook(&body);
        }

        /// Any text as a message's body, control characters included:
        /// parsed, and stored without them.
        #[test]
        fn any_text_is_taken_in_clean(text in "\\PC*|[\\x00-\\x1f\\u{202a}-\\u{202e}a-z ]{0,64}") {
            let message = serde_json::json!({
                "from": "16505551234", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB", "timestamp": "1749416383",
                "type": "text", "text": {"body": text},
            });
            let batch = parse(&with_message(&message.to_string()));
            let [m] = batch.messages.as_slice() else { panic!("{batch:?}") };
            let inbound = m.clone().into_inbound_message(TenantId::new(), Utc::now()).cleaned();
            proptest::prop_assert!(
                !inbound.body.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
                "{:?}",
                inbound.body
            );
        }
    }
}
