//! A message template to send outside the 24-hour customer-service window
//! (only approved templates may open a conversation then). Owns `Template`:
//! its name, language code and body parameters, checked when configured,
//! and its wire form, the `template` object of a Cloud API send
//! (`{"name", "language": {"code"}, "components": [{"type": "body",
//! "parameters": [{"type": "text", "text"}]}]}`; Meta "Cloud API — Send
//! message templates"). Header, button and media parameters are not
//! supported: the runtime only needs a text follow-up template.

use super::outbound::OutboundError;
use serde::Serialize;

/// Meta's limit on template names.
const MAX_NAME_LEN: usize = 512;

/// An approved template, ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    name: String,
    language: String,
    body_parameters: Vec<String>,
}

impl Template {
    /// `name` as approved in WhatsApp Manager (lowercase letters, digits and
    /// `_`); `language_code` as approved (`en`, `en_US`, `pt_BR`);
    /// `body_parameters` fill `{{1}}`, `{{2}}`, … of the body, in order.
    pub fn new(name: &str, language_code: &str, body_parameters: Vec<String>) -> Result<Self, OutboundError> {
        let name_ok = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(OutboundError::BadTemplateName(name.to_string()));
        }
        let lang_ok = (2..=16).contains(&language_code.len())
            && language_code.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
            && !language_code.starts_with('_')
            && !language_code.ends_with('_');
        if !lang_ok {
            return Err(OutboundError::BadLanguageCode(language_code.to_string()));
        }
        if let Some(i) = body_parameters.iter().position(|p| p.trim().is_empty()) {
            return Err(OutboundError::EmptyTemplateParameter(i + 1));
        }
        Ok(Self { name: name.to_string(), language: language_code.to_string(), body_parameters })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn language_code(&self) -> &str {
        &self.language
    }

    pub fn body_parameters(&self) -> &[String] {
        &self.body_parameters
    }

    /// The `template` object of the send request.
    pub(crate) fn wire(&self) -> WireTemplate<'_> {
        let components = if self.body_parameters.is_empty() {
            Vec::new()
        } else {
            vec![WireComponent {
                kind: "body",
                parameters: self.body_parameters.iter().map(|p| WireParameter { kind: "text", text: p }).collect(),
            }]
        };
        WireTemplate { name: &self.name, language: WireLanguage { code: &self.language }, components }
    }
}

// Serialised through structs, not `json!`, so the field order on the wire
// is fixed whatever serde_json features the build enables.
#[derive(Serialize)]
pub(crate) struct WireTemplate<'a> {
    name: &'a str,
    language: WireLanguage<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<WireComponent<'a>>,
}

#[derive(Serialize)]
struct WireLanguage<'a> {
    code: &'a str,
}

#[derive(Serialize)]
struct WireComponent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    parameters: Vec<WireParameter<'a>>,
}

#[derive(Serialize)]
struct WireParameter<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_configuration() {
        assert!(Template::new("support_followup", "en_US", vec![]).is_ok());
        assert!(Template::new("hello_world", "en", vec!["Ana".into(), "order 4411".into()]).is_ok());
        for bad in ["", "Support", "support-followup", "support followup", "héllo"] {
            assert_eq!(Template::new(bad, "en", vec![]), Err(OutboundError::BadTemplateName(bad.into())), "{bad}");
        }
        assert!(Template::new(&"a".repeat(512), "en", vec![]).is_ok());
        assert!(Template::new(&"a".repeat(513), "en", vec![]).is_err());
        for bad in ["", "e", "en-US", "_en", "en_", "en US", "e1"] {
            assert_eq!(Template::new("t", bad, vec![]), Err(OutboundError::BadLanguageCode(bad.into())), "{bad}");
        }
        assert_eq!(
            Template::new("t", "en", vec!["a".into(), " ".into()]),
            Err(OutboundError::EmptyTemplateParameter(2))
        );
    }

    #[test]
    fn serialises_in_metas_shape() {
        let t = Template::new("order_update", "pt_BR", vec!["Ana".into(), "A12345".into()]).unwrap();
        assert_eq!(
            serde_json::to_string(&t.wire()).unwrap(),
            r#"{"name":"order_update","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"A12345"}]}]}"#
        );
        let bare = Template::new("hello_world", "en_US", vec![]).unwrap();
        assert_eq!(
            serde_json::to_string(&bare.wire()).unwrap(),
            r#"{"name":"hello_world","language":{"code":"en_US"}}"#
        );
        assert_eq!((bare.name(), bare.language_code(), bare.body_parameters().len()), ("hello_world", "en_US", 0));
    }
}
