//! Address headers (RFC 5322 §3.4): `From`, `To`, `Cc`, `Reply-To` as
//! `Display Name <local@domain>`, `"Doe, Jane" <jane@x>`, `jane@x (Jane)`
//! or a bare address, lists separated by commas outside quotes, angle
//! brackets and comments, groups (`team: a@x, b@y;`) flattened. Display
//! names are RFC 2047-decoded. Owns `NamedAddress`.

use super::encoded_word;
use super::headers::unquote;
use crate::domain::EmailAddress;

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

/// Parses one mailbox (the first, if the value is a list).
pub fn parse_mailbox(value: &str) -> Option<NamedAddress> {
    parse_list(value).into_iter().next()
}

/// Parses an address list, skipping entries without a valid address.
pub fn parse_list(value: &str) -> Vec<NamedAddress> {
    split_list(value).into_iter().filter_map(parse_one).collect()
}

/// Splits at commas (and group `:`/`;`) outside quotes, `<>` and comments.
fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped, mut angle, mut comment) = (0, false, false, 0u32, 0u32);
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || comment > 0 => escaped = true,
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => comment += 1,
            ')' if !quoted => comment = comment.saturating_sub(1),
            '<' if !quoted && comment == 0 => angle += 1,
            '>' if !quoted && comment == 0 => angle = angle.saturating_sub(1),
            ',' | ';' if !quoted && comment == 0 && angle == 0 => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            // A group's display name ends at ':' (`undisclosed-recipients:`).
            ':' if !quoted && comment == 0 && angle == 0 => start = i + 1,
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn parse_one(entry: &str) -> Option<NamedAddress> {
    if let Some(open) = entry.rfind('<') {
        let close = entry[open..].find('>').map(|c| open + c)?;
        let address = EmailAddress::parse(strip_comments(&entry[open + 1..close]).trim()).ok()?;
        let phrase = strip_comments(&entry[..open]);
        return Some(NamedAddress { name: clean_name(&phrase), address });
    }
    // `addr (Name)` or a bare address.
    let comment = entry.find('(').and_then(|o| entry[o..].find(')').map(|c| &entry[o + 1..o + c]));
    let address = EmailAddress::parse(strip_comments(entry).trim()).ok()?;
    Some(NamedAddress { name: comment.and_then(clean_name), address })
}

fn clean_name(phrase: &str) -> Option<String> {
    let unquoted = unquote(phrase.trim());
    let decoded = encoded_word::decode(&unquoted);
    let name = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = name.trim_matches(|c: char| c == '\'' || c == '"').trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// Removes `(comments)` outside quotes.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut depth, mut quoted, mut escaped) = (0u32, false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &str) -> (Option<String>, String) {
        let a = parse_mailbox(v).unwrap_or_else(|| panic!("{v:?}"));
        (a.name, a.address.to_string())
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
    }

    #[test]
    fn parses_lists_and_groups() {
        let l = parse_list("\"Doe, Jane\" <jane@x.com>, bob@y.com, Team: a@z.com, b@z.com;, bad-entry");
        let addrs: Vec<&str> = l.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(addrs, ["jane@x.com", "bob@y.com", "a@z.com", "b@z.com"]);
        assert!(parse_list("undisclosed-recipients:;").is_empty());
        assert!(parse_mailbox("").is_none());
        assert!(parse_mailbox("Jane <no-at-sign>").is_none());
        assert!(parse_mailbox("Jane <jane@x.com").is_none());
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
