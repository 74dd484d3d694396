//! How a customer can be reached and recognised: email addresses, phone
//! numbers (E.164), Slack user ids, and the `Identifier` that names one of
//! them with its kind. Normalisation happens here, once, so that the same
//! person typed two ways is one row in `customer_identifiers`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A value that is not an identifier. The message does not quote the value
/// (an address or a number that is nearly right is still personal data,
/// and these errors reach logs); the variant keeps it for the caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContactError {
    #[error("invalid email address")]
    Email(String),
    #[error("invalid phone number: expected international format such as +31208084417")]
    Phone(String),
    #[error("invalid Slack user id")]
    SlackUser(String),
    #[error("unknown identifier kind {0:?} (expected email, phone, slack or whatsapp)")]
    Kind(String),
}

/// An email address, trimmed and lowercased (matching is case-insensitive).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, ContactError> {
        let s = raw.trim().to_lowercase();
        let bad = || ContactError::Email(raw.to_string());
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || local.len() > 64
            || domain.is_empty()
            || domain.contains('@')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || s.contains(['<', '>', ',', ';', '"'])
        {
            return Err(bad());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

/// A phone number in E.164: `+` and 8 to 15 digits, no separators.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number written in international form: `+44 7700 900418`,
    /// `0044-7700-900418`, `whatsapp:+447700900418`. Spaces, dashes, dots
    /// and parentheses are ignored. A number without a country code is
    /// rejected: there is no way to guess the country.
    pub fn parse(raw: &str) -> Result<Self, ContactError> {
        let bad = || ContactError::Phone(raw.to_string());
        let s = raw.trim();
        let s = s.strip_prefix("whatsapp:").unwrap_or(s).trim();
        let rest = if let Some(r) = s.strip_prefix('+') {
            r
        } else if let Some(r) = s.strip_prefix("00") {
            r
        } else {
            return Err(bad());
        };
        Self::from_digits(rest).ok_or_else(bad)
    }

    /// Parses a WhatsApp id (`WaId` at Twilio, `from`/`wa_id` at Meta): the
    /// international number's digits without the `+`.
    pub fn from_wa_id(raw: &str) -> Result<Self, ContactError> {
        let s = raw.trim();
        let s = s.strip_prefix('+').unwrap_or(s);
        Self::from_digits(s).ok_or_else(|| ContactError::Phone(raw.to_string()))
    }

    fn from_digits(s: &str) -> Option<Self> {
        let mut digits = String::with_capacity(16);
        for c in s.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => return None,
            }
        }
        let valid = (8..=15).contains(&digits.len()) && !digits.starts_with('0');
        valid.then(|| Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Slack user id (`U024BE7LH`) or handle, as Slack sent it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SlackUserId(String);

impl SlackUserId {
    pub fn parse(raw: &str) -> Result<Self, ContactError> {
        let s = raw.trim();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        ok.then(|| Self(s.to_string())).ok_or_else(|| ContactError::SlackUser(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_conversions {
    ($($t:ident),*) => {$(
        impl TryFrom<String> for $t {
            type Error = ContactError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
string_newtype_conversions!(EmailAddress, PhoneNumber, SlackUserId);

/// The kind column of `customer_identifiers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Email,
    Phone,
    Slack,
    Whatsapp,
}

impl IdentifierKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            IdentifierKind::Email => "email",
            IdentifierKind::Phone => "phone",
            IdentifierKind::Slack => "slack",
            IdentifierKind::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ContactError> {
        match raw {
            "email" => Ok(Self::Email),
            "phone" => Ok(Self::Phone),
            "slack" => Ok(Self::Slack),
            "whatsapp" => Ok(Self::Whatsapp),
            _ => Err(ContactError::Kind(raw.to_string())),
        }
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way of recognising a customer. Phone and WhatsApp identifiers hold
/// the same E.164 number and match each other: a number seen in an email
/// signature and the same number writing on WhatsApp are one person.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Identifier {
    Email(EmailAddress),
    Phone(PhoneNumber),
    Slack(SlackUserId),
    Whatsapp(PhoneNumber),
}

impl Identifier {
    pub fn kind(&self) -> IdentifierKind {
        match self {
            Identifier::Email(_) => IdentifierKind::Email,
            Identifier::Phone(_) => IdentifierKind::Phone,
            Identifier::Slack(_) => IdentifierKind::Slack,
            Identifier::Whatsapp(_) => IdentifierKind::Whatsapp,
        }
    }

    /// The normalised value as stored.
    pub fn value(&self) -> &str {
        match self {
            Identifier::Email(e) => e.as_str(),
            Identifier::Phone(p) | Identifier::Whatsapp(p) => p.as_str(),
            Identifier::Slack(s) => s.as_str(),
        }
    }

    /// Rebuilds an identifier from a stored `(kind, value)` pair.
    pub fn from_parts(kind: &str, value: &str) -> Result<Self, ContactError> {
        Ok(match IdentifierKind::parse(kind)? {
            IdentifierKind::Email => Identifier::Email(EmailAddress::parse(value)?),
            IdentifierKind::Phone => Identifier::Phone(PhoneNumber::parse(value)?),
            IdentifierKind::Slack => Identifier::Slack(SlackUserId::parse(value)?),
            IdentifierKind::Whatsapp => Identifier::Whatsapp(PhoneNumber::parse(value)?),
        })
    }

    /// The `(kind, value)` pairs under which this identifier may already be
    /// stored: a phone number matches both `phone` and `whatsapp` rows.
    pub fn match_keys(&self) -> Vec<(IdentifierKind, &str)> {
        match self {
            Identifier::Phone(p) | Identifier::Whatsapp(p) => {
                vec![(IdentifierKind::Phone, p.as_str()), (IdentifierKind::Whatsapp, p.as_str())]
            }
            other => vec![(other.kind(), other.value())],
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let e = EmailAddress::parse("  Marisol@VientoApps.IO ").unwrap();
        assert_eq!(e.as_str(), "marisol@vientoapps.io");
        assert_eq!(e.domain(), "vientoapps.io");
    }

    #[test]
    fn bad_emails_are_rejected() {
        for raw in ["", "no-at-sign", "@example.com", "a@", "a@@b.com", "a b@c.com", "Name <a@b.com>", "a@b..com"] {
            assert!(EmailAddress::parse(raw).is_err(), "{raw:?} should be rejected");
        }
    }

    #[test]
    fn phones_normalise_to_e164() {
        for raw in ["+44 7700 900418", "whatsapp:+447700900418", "0044-7700-900418", "+44 (7700) 900.418"] {
            assert_eq!(PhoneNumber::parse(raw).unwrap().as_str(), "+447700900418", "{raw:?}");
        }
        assert_eq!(PhoneNumber::from_wa_id("12025550147").unwrap().as_str(), "+12025550147");
    }

    #[test]
    fn bad_phones_are_rejected() {
        for raw in ["", "7700 900418", "+44 7700 ext 1", "+123", "+1234567890123456", "+0123456789"] {
            assert!(PhoneNumber::parse(raw).is_err(), "{raw:?} should be rejected");
        }
    }

    #[test]
    fn phone_and_whatsapp_share_match_keys() {
        let p = PhoneNumber::parse("+12025550147").unwrap();
        let phone = Identifier::Phone(p.clone());
        let whatsapp = Identifier::Whatsapp(p);
        assert_eq!(phone.match_keys(), whatsapp.match_keys());
    }

    #[test]
    fn identifiers_round_trip_through_parts() {
        let ids = [
            Identifier::Email(EmailAddress::parse("a@b.co").unwrap()),
            Identifier::Phone(PhoneNumber::parse("+31208084417").unwrap()),
            Identifier::Slack(SlackUserId::parse("U024BE7LH").unwrap()),
            Identifier::Whatsapp(PhoneNumber::parse("+31208084417").unwrap()),
        ];
        for id in ids {
            assert_eq!(Identifier::from_parts(id.kind().as_str(), id.value()).unwrap(), id);
        }
    }

    proptest! {
        #[test]
        fn phone_parse_never_panics_and_is_idempotent(raw in "\\PC{0,24}") {
            if let Ok(p) = PhoneNumber::parse(&raw) {
                prop_assert_eq!(PhoneNumber::parse(p.as_str()).unwrap(), p);
            }
        }

        #[test]
        fn email_parse_never_panics_and_is_idempotent(raw in "\\PC{0,40}") {
            if let Ok(e) = EmailAddress::parse(&raw) {
                prop_assert_eq!(EmailAddress::parse(e.as_str()).unwrap(), e);
            }
        }
    }
}
