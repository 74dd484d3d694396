//! The top-level header fields as written (RFC 5322 §2.2): names and raw
//! values, unfolded and trimmed but not decoded, with case-insensitive
//! lookup, for the checks that read a field verbatim (`Auto-Submitted`,
//! `Precedence`, `Return-Path`, `List-Id`, …); and the message ids of
//! `Message-ID`, `In-Reply-To` and `References` (§3.6.4) with their angle
//! brackets. A header section that is not UTF-8 is read as windows-1252.

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{HeaderValue, Message};
use std::borrow::Cow;

/// A header section: fields in order, names as written, values unfolded
/// (not RFC 2047-decoded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, String)>,
}

impl Headers {
    /// The top-level fields of a parsed message.
    pub fn of(message: &Message<'_>) -> Self {
        let raw = message.raw_message.as_ref();
        let fields = message
            .headers()
            .iter()
            .map(|h| {
                let value = raw.get(h.offset_start as usize..h.offset_end as usize).unwrap_or_default();
                let value = String::from_utf8_lossy(value).replace(['\r', '\n'], "");
                (h.name.as_str().to_string(), value.trim().to_string())
            })
            .collect();
        Self { fields }
    }

    /// The first field named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.fields.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// The message with its header section (up to the first empty line) made
/// UTF-8: 8-bit header bytes from old clients are far more often
/// windows-1252 than anything else.
pub fn utf8_header_section(raw: &[u8]) -> Cow<'_, [u8]> {
    let end = raw.windows(2).position(|w| w == b"\n\n" || w == b"\n\r").map_or(raw.len(), |i| i + 1);
    let (head, body) = raw.split_at(end);
    if std::str::from_utf8(head).is_ok() {
        return Cow::Borrowed(raw);
    }
    let Some(decode) = charset_decoder(b"windows-1252") else { return Cow::Borrowed(raw) };
    let mut out = decode(head).into_bytes();
    out.extend_from_slice(body);
    Cow::Owned(out)
}

/// The `<id>`s of a Message-ID, In-Reply-To or References field.
pub fn message_ids(value: Option<&HeaderValue<'_>>) -> Vec<String> {
    let ids: Vec<&str> = match value {
        Some(HeaderValue::Text(id)) => vec![id.as_ref()],
        Some(HeaderValue::TextList(ids)) => ids.iter().map(AsRef::as_ref).collect(),
        _ => Vec::new(),
    };
    ids.into_iter().map(str::trim).filter(|id| !id.is_empty()).map(|id| format!("<{id}>")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    #[test]
    fn unfolds_and_looks_up_case_insensitively() {
        let m = parse(
            b"From: a@b.c\r\nSubject: a long\r\n  subject\r\nX-Dup: 1\r\nx-dup: 2\r\nbogus line\r\nTo:\tb@c.d \r\n\r\nbody",
        )
        .unwrap();
        let h = &m.headers;
        assert_eq!(h.get("SUBJECT"), Some("a long  subject"));
        assert_eq!(h.get_all("X-Dup").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(h.get("to"), Some("b@c.d"));
        assert_eq!(h.get("bogus line"), None);
        // Values stay as written: not decoded.
        let m = parse(b"From: a@b.c\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\n").unwrap();
        assert_eq!(m.headers.get("subject"), Some("=?UTF-8?Q?caf=C3=A9?="));
        assert_eq!(m.subject.as_deref(), Some("café"));
    }

    #[test]
    fn reads_8_bit_headers_as_windows_1252() {
        let m = parse(b"From: Ren\xe9e <renee@x.fr>\r\nSubject: caf\xe9 \x93ok\x94\r\n\r\nbody \xc3\xa9").unwrap();
        assert_eq!(m.headers.get("subject"), Some("café “ok”"));
        assert_eq!(m.subject.as_deref(), Some("café “ok”"));
        assert_eq!(m.from.name.as_deref(), Some("Renée"));
        // The body keeps its own bytes.
        assert_eq!(m.text.as_deref(), Some("body é"));
    }

    #[test]
    fn extracts_message_ids() {
        let m = parse(b"From: a@b.c\r\nReferences: <a@x.com>  <b@y.com>\r\n <c@z>\r\nIn-Reply-To: a@x.com\r\n\r\n")
            .unwrap();
        assert_eq!(m.references, ["<a@x.com>", "<b@y.com>", "<c@z>"]);
        // Without brackets (seen from broken clients).
        assert_eq!(m.in_reply_to.as_deref(), Some("<a@x.com>"));
        let m = parse(b"From: a@b.c\r\nMessage-ID: <>\r\nReferences:\r\n\r\n").unwrap();
        assert!(m.message_id.is_none() && m.references.is_empty());
    }
}
