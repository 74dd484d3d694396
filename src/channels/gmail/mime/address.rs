//! Addresses (RFC 5322 §3.4): `From`, `To`, `Cc`, `Reply-To` as parsed by
//! `mail-parser` (display names RFC 2047-decoded, groups), kept where the
//! address is a valid `EmailAddress`, with group members flattened and
//! display names tidied; and the other way, an address as we write it in
//! a header. Owns `NamedAddress`.

use super::encoded_word;
use crate::domain::EmailAddress;
use mail_parser::{Addr, Address};

/// An address with its display name, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedAddress {
    pub name: Option<String>,
    pub address: EmailAddress,
}

impl NamedAddress {
    /// For headers we write: the phrase encoded as needed.
    pub fn to_header_value(&self) -> String {
        match self.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => format!("{} <{}>", encoded_word::encode_phrase(name), self.address),
            None => self.address.to_string(),
        }
    }
}

/// The first valid address of a field.
pub fn first(field: &Address<'_>) -> Option<NamedAddress> {
    field.iter().find_map(named)
}

/// Every valid address of a field, group members included.
pub fn list(field: &Address<'_>) -> Vec<NamedAddress> {
    field.iter().filter_map(named).collect()
}

fn named(addr: &Addr<'_>) -> Option<NamedAddress> {
    let address = EmailAddress::parse(addr.address()?.trim()).ok()?;
    Some(NamedAddress { name: addr.name().and_then(clean_name), address })
}

/// Whitespace collapsed, and the stray quotes some clients leave around a
/// name (`'Jane' <jane@x>`) dropped.
fn clean_name(name: &str) -> Option<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = name.trim_matches(|c: char| c == '\'' || c == '"').trim().to_string();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::gmail::mime::parse;

    fn one(v: &str) -> (Option<String>, String) {
        let m = parse(format!("From: {v}\r\n\r\n").as_bytes()).unwrap_or_else(|e| panic!("{v:?}: {e}"));
        (m.from.name, m.from.address.to_string())
    }

    #[test]
    fn parses_mailbox_forms() {
        assert_eq!(one("Jane Doe <Jane@Example.com>"), (Some("Jane Doe".into()), "jane@example.com".into()));
        assert_eq!(one("\"Doe, Jane\" <jane@example.com>"), (Some("Doe, Jane".into()), "jane@example.com".into()));
        assert_eq!(one("jane@example.com (Jane Doe)"), (Some("Jane Doe".into()), "jane@example.com".into()));
        assert_eq!(one("  jane@example.com "), (None, "jane@example.com".into()));
        assert_eq!(one("<jane@example.com>"), (None, "jane@example.com".into()));
        assert_eq!(
            one("=?UTF-8?Q?Ren=C3=A9e_Dupr=C3=A9?= <renee@example.fr>"),
            (Some("Renée Dupré".into()), "renee@example.fr".into())
        );
        assert_eq!(one("'Jane' <jane@example.com>"), (Some("Jane".into()), "jane@example.com".into()));
        // An unclosed bracket still yields its address.
        assert_eq!(one("Jane <jane@example.com"), (Some("Jane".into()), "jane@example.com".into()));
    }

    #[test]
    fn parses_lists_and_groups() {
        let m = parse(
            b"From: a@b.c\r\nTo: \"Doe, Jane\" <jane@x.com>, bob@y.com, Team: a@z.com, b@z.com;, bad-entry\r\n\
              Cc: undisclosed-recipients:;\r\n\r\n",
        )
        .unwrap();
        let addrs: Vec<&str> = m.to.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(addrs, ["jane@x.com", "bob@y.com", "a@z.com", "b@z.com"]);
        assert!(m.cc.is_empty());
        for bad in ["", "Jane <no-at-sign>", "Jane Doe"] {
            assert!(
                matches!(parse(format!("From: {bad}\r\n\r\n").as_bytes()), Err(super::super::MimeError::BadFrom(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn formats_for_headers() {
        let a =
            NamedAddress { name: Some("Acme Support".into()), address: EmailAddress::parse("help@acme.com").unwrap() };
        assert_eq!(a.to_header_value(), "Acme Support <help@acme.com>");
        let b = NamedAddress { name: None, address: a.address.clone() };
        assert_eq!(b.to_header_value(), "help@acme.com");
    }
}
