//! Building Cloud API sends: `POST {base}/{version}/{phone_number_id}/messages`
//! with `Authorization: Bearer <access token>` and a JSON body, either a
//! free-form text (`{"messaging_product":"whatsapp","recipient_type":
//! "individual","to":"<digits>","type":"text","text":{"preview_url":false,
//! "body":…}}`) or a template (`"type":"template","template":{…}`) (Meta
//! "Cloud API — Send messages" and "Send message templates"). Owns
//! `MetaSender` (where and as whom to send), `AccessToken` and
//! `OutboundError`, the error of building a send and of reading its answer
//! (`response`). No I/O: the dispatcher sends the `ProviderRequest`.

use super::template::{Template, WireTemplate};
use super::window::OutboundPlan;
use crate::channels::ProviderRequest;
use crate::domain::PhoneNumber;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

use super::response::GraphApiError;

pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v21.0";
/// Meta's limit on a text message body.
pub const MAX_TEXT_CHARS: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("WhatsApp phone number id {0:?} is not a Meta id (digits only)")]
    BadPhoneNumberId(String),
    #[error("the Meta access token is empty or contains whitespace")]
    BadAccessToken,
    #[error("Meta Graph API base URL {0:?} is not an http(s) URL")]
    BadBaseUrl(String),
    #[error("Graph API version {0:?} is not of the form v21.0")]
    BadApiVersion(String),
    #[error("the message body is empty")]
    EmptyBody,
    #[error("the message body has {0} characters; WhatsApp takes at most 4096")]
    BodyTooLong(usize),
    #[error("template name {0:?} is not lowercase letters, digits and underscores")]
    BadTemplateName(String),
    #[error("template language code {0:?} is not a code such as en or en_US")]
    BadLanguageCode(String),
    #[error("template body parameter {0} is empty")]
    EmptyTemplateParameter(usize),
    #[error("the request body could not be encoded: {0}")]
    Encode(String),
    #[error("Meta answered HTTP {http_status}: {}", describe(.error))]
    Api { http_status: u16, error: Option<Box<GraphApiError>>, retry_after: Option<Duration> },
    #[error("Meta accepted the message but its answer could not be read: {0}")]
    BadResponse(String),
}

fn describe(error: &Option<Box<GraphApiError>>) -> String {
    match error {
        Some(e) => {
            let code = e.code.map_or_else(|| "-".to_string(), |c| c.to_string());
            match &e.details {
                Some(d) => format!("error {code} ({}: {d})", e.message),
                None => format!("error {code} ({})", e.message),
            }
        }
        None => "no Graph API error body".to_string(),
    }
}

/// A system-user or user access token with `whatsapp_business_messaging`.
/// Never shown in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(token: &str) -> Result<Self, OutboundError> {
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(OutboundError::BadAccessToken);
        }
        Ok(Self(token.to_string()))
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// One business number to send from, and the Graph API to send through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaSender {
    base_url: String,
    api_version: String,
    phone_number_id: String,
    access_token: AccessToken,
}

impl MetaSender {
    /// Sends through `DEFAULT_BASE_URL` and `DEFAULT_API_VERSION`.
    pub fn new(phone_number_id: &str, access_token: &str) -> Result<Self, OutboundError> {
        let id = phone_number_id.trim();
        if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OutboundError::BadPhoneNumberId(phone_number_id.to_string()));
        }
        Ok(Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_version: DEFAULT_API_VERSION.to_string(),
            phone_number_id: id.to_string(),
            access_token: AccessToken::new(access_token)?,
        })
    }

    /// Another base URL (a test server, a proxy); a trailing `/` is dropped.
    pub fn with_base_url(mut self, base_url: &str) -> Result<Self, OutboundError> {
        let base = base_url.trim().trim_end_matches('/');
        let rest = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| {
            !r.is_empty() && !r.starts_with('/') && !r.contains(|c: char| c.is_whitespace() || c == '?' || c == '#')
        });
        if !ok {
            return Err(OutboundError::BadBaseUrl(base_url.to_string()));
        }
        self.base_url = base.to_string();
        Ok(self)
    }

    /// Another Graph API version (`v22.0`).
    pub fn with_api_version(mut self, version: &str) -> Result<Self, OutboundError> {
        let ok = version.strip_prefix('v').and_then(|v| v.split_once('.')).is_some_and(|(major, minor)| {
            let digits = |s: &str| (1..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
            digits(major) && digits(minor)
        });
        if !ok {
            return Err(OutboundError::BadApiVersion(version.to_string()));
        }
        self.api_version = version.to_string();
        Ok(self)
    }

    pub fn phone_number_id(&self) -> &str {
        &self.phone_number_id
    }

    /// `{base}/{version}/{phone_number_id}/messages`.
    pub fn messages_url(&self) -> String {
        format!("{}/{}/{}/messages", self.base_url, self.api_version, self.phone_number_id)
    }

    /// A free-form text message (only inside the customer-service window).
    /// Links are not previewed.
    pub fn text_request(&self, to: &PhoneNumber, body: &str) -> Result<ProviderRequest, OutboundError> {
        if body.trim().is_empty() {
            return Err(OutboundError::EmptyBody);
        }
        let chars = body.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(OutboundError::BodyTooLong(chars));
        }
        self.request(&Send {
            messaging_product: "whatsapp",
            recipient_type: "individual",
            to: wa_digits(to),
            kind: "text",
            text: Some(TextBody { preview_url: false, body }),
            template: None,
        })
    }

    /// A template message (allowed at any time).
    pub fn template_request(&self, to: &PhoneNumber, template: &Template) -> Result<ProviderRequest, OutboundError> {
        self.request(&Send {
            messaging_product: "whatsapp",
            recipient_type: "individual",
            to: wa_digits(to),
            kind: "template",
            text: None,
            template: Some(template.wire()),
        })
    }

    /// The request for what `window::plan_outbound` decided.
    pub fn plan_request(&self, to: &PhoneNumber, plan: &OutboundPlan) -> Result<ProviderRequest, OutboundError> {
        match plan {
            OutboundPlan::FreeForm { body } => self.text_request(to, body),
            OutboundPlan::Template(t) => self.template_request(to, t),
        }
    }

    fn request(&self, send: &Send<'_>) -> Result<ProviderRequest, OutboundError> {
        Ok(ProviderRequest {
            method: "POST",
            url: self.messages_url(),
            authorization: format!("Bearer {}", self.access_token.0),
            content_type: "application/json",
            body: serde_json::to_string(send).map_err(|e| OutboundError::Encode(e.to_string()))?,
        })
    }
}

/// Meta takes the recipient as the number's digits without `+`.
fn wa_digits(to: &PhoneNumber) -> &str {
    to.as_str().trim_start_matches('+')
}

// Field order as in Meta's examples, fixed by the struct.
#[derive(Serialize)]
struct Send<'a> {
    messaging_product: &'static str,
    recipient_type: &'static str,
    to: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<TextBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<WireTemplate<'a>>,
}

#[derive(Serialize)]
struct TextBody<'a> {
    preview_url: bool,
    body: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> MetaSender {
        MetaSender::new("106540352242922", "EAAG-token_123").unwrap()
    }

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[test]
    fn builds_a_text_send() {
        let req = sender().text_request(&phone("+16505551234"), "Olá \"Sheena\" — it comes in blue\n✓").unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "https://graph.facebook.com/v21.0/106540352242922/messages");
        assert_eq!(req.authorization, "Bearer EAAG-token_123");
        assert_eq!(req.content_type, "application/json");
        assert_eq!(
            req.body,
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text","text":{"preview_url":false,"body":"Olá \"Sheena\" — it comes in blue\n✓"}}"#
        );
        assert!(!format!("{req:?}").contains("EAAG-token_123"));
        assert!(!format!("{:?}", sender()).contains("EAAG-token_123"));
    }

    #[test]
    fn builds_a_template_send() {
        let t = Template::new("support_followup", "en_US", vec!["Sheena".into()]).unwrap();
        let req = sender()
            .with_base_url("http://127.0.0.1:8089/")
            .unwrap()
            .with_api_version("v22.0")
            .unwrap()
            .template_request(&phone("+447700900418"), &t)
            .unwrap();
        assert_eq!(req.url, "http://127.0.0.1:8089/v22.0/106540352242922/messages");
        assert_eq!(
            req.body,
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"447700900418","type":"template","template":{"name":"support_followup","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"Sheena"}]}]}}"#
        );
        let to = phone("+447700900418");
        let plan = OutboundPlan::Template(t.clone());
        assert_eq!(sender().plan_request(&to, &plan), sender().template_request(&to, &t));
        let free = OutboundPlan::FreeForm { body: "hi".into() };
        assert!(sender().plan_request(&phone("+447700900418"), &free).unwrap().body.contains(r#""body":"hi""#));
    }

    #[test]
    fn checks_the_body() {
        let to = phone("+16505551234");
        assert_eq!(sender().text_request(&to, ""), Err(OutboundError::EmptyBody));
        assert_eq!(sender().text_request(&to, " \n\t"), Err(OutboundError::EmptyBody));
        assert!(sender().text_request(&to, &"é".repeat(4096)).is_ok());
        assert_eq!(sender().text_request(&to, &"é".repeat(4097)), Err(OutboundError::BodyTooLong(4097)));
    }

    #[test]
    fn checks_the_configuration() {
        for bad in ["", "abc", "1065/4035", "12 34", &"1".repeat(33)] {
            assert!(matches!(MetaSender::new(bad, "t"), Err(OutboundError::BadPhoneNumberId(_))), "{bad}");
        }
        assert_eq!(MetaSender::new(" 123 ", "t").unwrap().phone_number_id(), "123");
        assert_eq!(MetaSender::new("123", ""), Err(OutboundError::BadAccessToken));
        assert_eq!(MetaSender::new("123", "a b"), Err(OutboundError::BadAccessToken));
        assert_eq!(MetaSender::new("123", "ab\r\nX-Injected: 1"), Err(OutboundError::BadAccessToken));
        for bad in ["graph.facebook.com", "ftp://x", "https://", "https:///x", "https://h/p?q=1", "https://h #"] {
            assert!(matches!(sender().with_base_url(bad), Err(OutboundError::BadBaseUrl(_))), "{bad}");
        }
        for bad in ["21.0", "v21", "v21.", "v.0", "v21.0/", "v21.0.1", "vx.0", ""] {
            assert!(matches!(sender().with_api_version(bad), Err(OutboundError::BadApiVersion(_))), "{bad}");
        }
        assert_eq!(
            sender().with_base_url("https://proxy.internal/graph/").unwrap().messages_url(),
            "https://proxy.internal/graph/v21.0/106540352242922/messages"
        );
    }
}
