//! Inbound WhatsApp messages: Twilio's form-encoded incoming-message
//! webhook (`From=whatsapp:+E164`, `To`, `Body`, `MessageSid`,
//! `ProfileName`, `WaId`, `NumMedia`, `MediaUrlN`/`MediaContentTypeN`),
//! checked and parsed into `WhatsappInbound`, then turned into the
//! runtime's `InboundMessage`. Owns `WhatsappInbound`, `Media` and
//! `InboundError`, the one error of the inbound webhook.

use super::form::{Form, FormError};
use super::signature::{RequestValidator, SignatureError};
use crate::domain::{Channel, ContactError, Identifier, InboundMessage, PhoneNumber, TenantId, limit_body};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Twilio sends at most ten media items with one message.
pub const MAX_MEDIA: usize = 10;

const WHATSAPP_PREFIX: &str = "whatsapp:";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InboundError {
    #[error("webhook signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("webhook body: {0}")]
    Form(#[from] FormError),
    #[error("the webhook has no {0}")]
    Missing(&'static str),
    #[error("{field} {value:?} is not a WhatsApp address (whatsapp:+E164)")]
    NotWhatsapp { field: &'static str, value: String },
    #[error("{field}: {source}")]
    BadNumber { field: &'static str, source: ContactError },
    #[error("MessageSid {0:?} is not a Twilio message id")]
    BadMessageSid(String),
    #[error("WaId {wa_id:?} is not the sender's number {from}")]
    WaIdMismatch { wa_id: String, from: String },
    #[error("NumMedia {0:?} is not a number from 0 to 10")]
    BadNumMedia(String),
    #[error("NumMedia says {count} but MediaUrl{index} is missing")]
    MissingMedia { count: usize, index: usize },
}

/// One attachment: Twilio hosts it at `url` (fetching it needs the
/// account's credentials).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub url: String,
    pub content_type: Option<String>,
}

/// A WhatsApp message as Twilio delivered it, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhatsappInbound {
    /// `MessageSid`: the dedupe key (`external_id`).
    pub message_sid: String,
    /// The customer (`From`).
    pub from: PhoneNumber,
    /// The business number written to (`To`): which tenant's sender.
    pub to: PhoneNumber,
    /// May be empty when the message is media only.
    pub body: String,
    /// The sender's WhatsApp profile name, if they have one.
    pub profile_name: Option<String>,
    pub account_sid: Option<String>,
    pub media: Vec<Media>,
}

impl WhatsappInbound {
    /// Verifies the signature of a raw webhook request, then parses it.
    /// `url` is the URL as configured at Twilio; `signature` the
    /// `X-Twilio-Signature` header, if present.
    pub fn from_request(
        validator: &RequestValidator,
        url: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Self, InboundError> {
        let form = Form::decode(body)?;
        validator.validate_form(url, form.pairs(), signature.unwrap_or_default())?;
        Self::from_form(&form)
    }

    /// Parses a decoded webhook whose signature has already been checked.
    pub fn from_form(form: &Form) -> Result<Self, InboundError> {
        let message_sid = form.get_nonblank("MessageSid").ok_or(InboundError::Missing("MessageSid"))?;
        let sid_ok = message_sid.len() <= 64 && message_sid.chars().all(|c| c.is_ascii_alphanumeric());
        if !sid_ok {
            return Err(InboundError::BadMessageSid(message_sid.to_string()));
        }
        let from = whatsapp_number(form, "From")?;
        let to = whatsapp_number(form, "To")?;
        if let Some(wa_id) = form.get_nonblank("WaId") {
            let same = PhoneNumber::from_wa_id(wa_id).is_ok_and(|n| n == from);
            if !same {
                return Err(InboundError::WaIdMismatch { wa_id: wa_id.to_string(), from: from.to_string() });
            }
        }
        let count = match form.get_nonblank("NumMedia") {
            None => 0,
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|&n| n <= MAX_MEDIA)
                .ok_or_else(|| InboundError::BadNumMedia(n.to_string()))?,
        };
        let media = (0..count)
            .map(|i| {
                let url =
                    form.get_nonblank(&format!("MediaUrl{i}")).ok_or(InboundError::MissingMedia { count, index: i })?;
                let content_type = form.get_nonblank(&format!("MediaContentType{i}")).map(str::to_string);
                Ok(Media { url: url.to_string(), content_type })
            })
            .collect::<Result<Vec<_>, InboundError>>()?;
        Ok(Self {
            message_sid: message_sid.to_string(),
            from,
            to,
            body: form.get("Body").unwrap_or_default().to_string(),
            profile_name: form.get_nonblank("ProfileName").map(str::to_string),
            account_sid: form.get_nonblank("AccountSid").map(str::to_string),
            media,
        })
    }

    /// The runtime's message. A body longer than `MAX_BODY_CHARS` is cut and
    /// the cut recorded as `metadata.body_truncated`; `metadata` also keeps
    /// the business number, account and media.
    pub fn into_inbound_message(self, tenant_id: TenantId, received_at: DateTime<Utc>) -> InboundMessage {
        let mut metadata = json!({
            "provider": "twilio",
            "to": self.to.as_str(),
            "account_sid": self.account_sid,
            "media": self.media,
        });
        InboundMessage {
            tenant_id,
            channel: Channel::Whatsapp,
            external_id: self.message_sid,
            sender: Identifier::Whatsapp(self.from),
            identifiers: Vec::new(),
            display_name: self.profile_name,
            subject: None,
            body: limit_body(self.body, &mut metadata),
            received_at,
            metadata,
        }
    }
}

fn whatsapp_number(form: &Form, field: &'static str) -> Result<PhoneNumber, InboundError> {
    let raw = form.get_nonblank(field).ok_or(InboundError::Missing(field))?;
    let number =
        raw.strip_prefix(WHATSAPP_PREFIX).ok_or_else(|| InboundError::NotWhatsapp { field, value: raw.to_string() })?;
    // `PhoneNumber::parse` also takes `00…`; Twilio always sends `+E164`.
    if !number.starts_with('+') {
        return Err(InboundError::BadNumber { field, source: ContactError::Phone(number.to_string()) });
    }
    PhoneNumber::parse(number).map_err(|source| InboundError::BadNumber { field, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MAX_BODY_CHARS;

    const SAMPLE: &str = "SmsMessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&NumMedia=2&ProfileName=Marisol+Ortega\
        &SmsSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&WaId=447700900418&SmsStatus=received\
        &Body=Ol%C3%A1%21+My+invoice+is+wrong&To=whatsapp%3A%2B14155238886&NumSegments=1\
        &MessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\
        &From=whatsapp%3A%2B447700900418&ApiVersion=2010-04-01\
        &MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC1%2FMessages%2FMM1%2FMedia%2FME1\
        &MediaContentType0=image%2Fjpeg&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fm2";

    fn parse(body: &str) -> Result<WhatsappInbound, InboundError> {
        WhatsappInbound::from_form(&Form::decode(body.as_bytes()).unwrap())
    }

    fn with(field: &str, value: &str) -> String {
        let form = Form::decode(SAMPLE.as_bytes()).unwrap();
        let pairs =
            form.pairs().iter().map(|(k, v)| if k == field { (k.as_str(), value) } else { (k.as_str(), v.as_str()) });
        super::super::form::encode(pairs)
    }

    fn without(field: &str) -> String {
        let form = Form::decode(SAMPLE.as_bytes()).unwrap();
        super::super::form::encode(
            form.pairs().iter().filter(|(k, _)| k != field).map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    #[test]
    fn parses_a_whatsapp_webhook() {
        let m = parse(SAMPLE).unwrap();
        assert_eq!(m.message_sid, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
        assert_eq!(m.from.as_str(), "+447700900418");
        assert_eq!(m.to.as_str(), "+14155238886");
        assert_eq!(m.body, "Olá! My invoice is wrong");
        assert_eq!(m.profile_name.as_deref(), Some("Marisol Ortega"));
        assert_eq!(
            m.media,
            [
                Media {
                    url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1".into(),
                    content_type: Some("image/jpeg".into())
                },
                Media { url: "https://api.twilio.com/m2".into(), content_type: None },
            ]
        );
    }

    #[test]
    fn becomes_an_inbound_message() {
        let tenant = TenantId::new();
        let at = Utc::now();
        let msg = parse(SAMPLE).unwrap().into_inbound_message(tenant, at);
        assert_eq!(msg.channel, Channel::Whatsapp);
        assert_eq!(msg.external_id, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
        assert_eq!(msg.sender, Identifier::Whatsapp(PhoneNumber::parse("+447700900418").unwrap()));
        assert_eq!(msg.display_name.as_deref(), Some("Marisol Ortega"));
        assert_eq!(msg.metadata["to"], "+14155238886");
        assert_eq!(msg.metadata["media"][0]["content_type"], "image/jpeg");
        assert!(msg.metadata.get("body_truncated").is_none());

        let long = "é".repeat(MAX_BODY_CHARS + 5);
        let msg = parse(&with("Body", &long)).unwrap().into_inbound_message(tenant, at);
        assert_eq!(msg.body.chars().count(), MAX_BODY_CHARS);
        assert_eq!(msg.metadata["body_truncated"]["original_chars"], MAX_BODY_CHARS + 5);
    }

    #[test]
    fn media_only_and_minimal_webhooks_parse() {
        let m = parse("MessageSid=MM1&From=whatsapp:%2B12025550147&To=whatsapp:%2B14155238886").unwrap();
        assert_eq!(m.body, "");
        assert!(m.media.is_empty());
        assert_eq!(m.profile_name, None);
    }

    #[test]
    fn rejects_bad_webhooks() {
        assert_eq!(parse(&without("MessageSid")), Err(InboundError::Missing("MessageSid")));
        assert_eq!(parse(&with("MessageSid", " ")), Err(InboundError::Missing("MessageSid")));
        assert!(matches!(parse(&with("MessageSid", "SM1/../x")), Err(InboundError::BadMessageSid(_))));
        assert_eq!(parse(&without("From")), Err(InboundError::Missing("From")));
        assert_eq!(
            parse(&with("From", "+447700900418")),
            Err(InboundError::NotWhatsapp { field: "From", value: "+447700900418".into() })
        );
        assert!(matches!(
            parse(&with("From", "messenger:12345")),
            Err(InboundError::NotWhatsapp { field: "From", .. })
        ));
        assert!(matches!(parse(&with("To", "+14155238886")), Err(InboundError::NotWhatsapp { field: "To", .. })));
        for bad in ["whatsapp:+123", "whatsapp:447700900418", "whatsapp:+44 77x", "whatsapp:00447700900418"] {
            assert!(matches!(parse(&with("From", bad)), Err(InboundError::BadNumber { field: "From", .. })), "{bad}");
        }
        assert!(matches!(parse(&with("WaId", "12025550147")), Err(InboundError::WaIdMismatch { .. })));
        assert_eq!(parse(&with("NumMedia", "x")), Err(InboundError::BadNumMedia("x".into())));
        assert_eq!(parse(&with("NumMedia", "11")), Err(InboundError::BadNumMedia("11".into())));
        assert_eq!(parse(&with("NumMedia", "3")), Err(InboundError::MissingMedia { count: 3, index: 2 }));
    }

    #[test]
    fn from_request_checks_the_signature_first() {
        let v = RequestValidator::new("12345").unwrap();
        let url = "https://support.example.com/twilio/whatsapp";
        let form = Form::decode(SAMPLE.as_bytes()).unwrap();
        let sig = v.compute_signature(url, form.pairs());
        assert!(WhatsappInbound::from_request(&v, url, SAMPLE.as_bytes(), Some(&sig)).is_ok());
        assert_eq!(
            WhatsappInbound::from_request(&v, url, SAMPLE.as_bytes(), None),
            Err(InboundError::Signature(SignatureError::Missing))
        );
        let forged = with("Body", "refund me");
        assert_eq!(
            WhatsappInbound::from_request(&v, url, forged.as_bytes(), Some(&sig)),
            Err(InboundError::Signature(SignatureError::Mismatch))
        );
    }

    proptest::proptest! {
        /// Any bytes: parsed or refused, never a panic; what is taken in
        /// is clean once the runtime's cleaning ran.
        #[test]
        fn any_bytes_are_parsed_or_refused(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Ok(form) = Form::decode(&body)
                && let Ok(inbound) = WhatsappInbound::from_form(&form)
            {
                let m = inbound.into_inbound_message(TenantId::new(), chrono::Utc::now()).cleaned();
                let again = crate::domain::clean_text(&m.body);
                proptest::prop_assert_eq!(again.as_ref(), m.body.as_str());
            }
        }

        /// Any text as the message, control characters included: taken in,
        /// stored without them.
        #[test]
        fn any_text_is_taken_in_clean(text in "\\PC*|[\\x00-\\x1f\\u{202a}-\\u{202e}a-z ]{0,64}") {
            let inbound = parse(&with("Body", &text)).expect("a valid webhook with any body");
            let m = inbound.into_inbound_message(TenantId::new(), chrono::Utc::now()).cleaned();
            proptest::prop_assert!(!m.body.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{:?}", m.body);
            let again = crate::domain::clean_text(&m.body);
                proptest::prop_assert_eq!(again.as_ref(), m.body.as_str());
        }
    }
}
