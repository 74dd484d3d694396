//! Header sections (RFC 5322 §2.2, §3.2.2): splitting a message or MIME
//! part into header block and body at the first empty line (CRLF or bare
//! LF), unfolding continuation lines, case-insensitive lookup, structured
//! parameter lists (`Content-Type: text/plain; charset="utf-8"`, RFC 2045
//! §5.1, with RFC 2231 `name*=charset''value` extended values) and
//! message-id lists (`References: <a@x> <b@y>`, §3.6.4). Header bytes that
//! are not UTF-8 are read as windows-1252.

use super::charset;

/// A header section: fields in order, names as written, values unfolded
/// (not yet RFC 2047-decoded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, String)>,
}

/// Splits at the first empty line: (header block, body). With no empty
/// line everything is header; an empty first line means no headers.
pub fn split(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..].iter().position(|&b| b == b'\n').map(|i| pos + i);
        let line_end = end.unwrap_or(raw.len());
        let line = &raw[pos..line_end];
        if line.is_empty() || line == b"\r" {
            let body_start = end.map_or(raw.len(), |e| e + 1);
            return (&raw[..pos], &raw[body_start..]);
        }
        match end {
            Some(e) => pos = e + 1,
            None => break,
        }
    }
    (raw, &[])
}

impl Headers {
    pub fn parse(block: &[u8]) -> Self {
        let text = match std::str::from_utf8(block) {
            Ok(s) => s.to_string(),
            Err(_) => charset::decode(block, Some("windows-1252")).0,
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with([' ', '\t']) {
                if let Some((_, v)) = fields.last_mut() {
                    v.push_str(line);
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else { continue };
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                continue;
            }
            fields.push((name.to_string(), value.trim_start().to_string()));
        }
        for (_, v) in &mut fields {
            let trimmed = v.trim_end().len();
            v.truncate(trimmed);
        }
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

/// A `Content-Type` or `Content-Disposition` value: the lowercased main
/// value and its parameters (names lowercased, values unquoted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Structured {
    pub value: String,
    pub params: Vec<(String, String)>,
}

impl Structured {
    pub fn parse(raw: &str) -> Self {
        let parts = split_unquoted(raw, ';');
        let value = parts.first().map(|v| v.trim().to_ascii_lowercase()).unwrap_or_default();
        let mut params = Vec::new();
        for p in parts.iter().skip(1) {
            let Some((name, val)) = p.split_once('=') else { continue };
            let name = name.trim().to_ascii_lowercase();
            let val = val.trim();
            if let Some(base) = name.strip_suffix('*') {
                params.push((base.to_string(), decode_extended(val)));
            } else {
                params.push((name, unquote(val)));
            }
        }
        Self { value, params }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Splits on `sep` outside double quotes.
pub fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Removes surrounding double quotes and `\` escapes.
pub fn unquote(s: &str) -> String {
    let s = s.trim();
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else { return s.to_string() };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// RFC 2231 `charset'lang'percent-encoded` value.
fn decode_extended(v: &str) -> String {
    let v = unquote(v);
    let mut it = v.splitn(3, '\'');
    let (Some(cs), Some(_lang), Some(text)) = (it.next(), it.next(), it.next()) else { return v };
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    charset::decode(&out, Some(if cs.is_empty() { "us-ascii" } else { cs })).0
}

/// The `<id>`s of a Message-ID, In-Reply-To or References value, brackets
/// kept. Values without brackets (seen from broken clients) are taken
/// word by word.
pub fn message_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else { break };
        let id = &rest[open..open + close + 1];
        if id.len() > 2 && !id[1..id.len() - 1].contains(['<', ' ', '\t']) {
            ids.push(id.to_string());
        }
        rest = &rest[open + close + 1..];
    }
    if ids.is_empty() && !value.contains('<') {
        ids = value.split_whitespace().filter(|w| w.contains('@')).map(|w| format!("<{w}>")).collect();
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_empty_line() {
        assert_eq!(
            split(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore"),
            (&b"A: 1\r\nB: 2\r\n"[..], &b"body\r\n\r\nmore"[..])
        );
        assert_eq!(split(b"A: 1\n\nbody"), (&b"A: 1\n"[..], &b"body"[..]));
        assert_eq!(split(b"A: 1\r\n"), (&b"A: 1\r\n"[..], &b""[..]));
        assert_eq!(split(b"\r\nbody"), (&b""[..], &b"body"[..]));
        assert_eq!(split(b""), (&b""[..], &b""[..]));
    }

    #[test]
    fn unfolds_and_looks_up_case_insensitively() {
        let h =
            Headers::parse(b"Subject: a long\r\n  subject\r\nX-Dup: 1\r\nx-dup: 2\r\nbogus line\r\nTo:\tb@c.d \r\n");
        assert_eq!(h.get("SUBJECT"), Some("a long  subject"));
        assert_eq!(h.get_all("X-Dup").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(h.get("to"), Some("b@c.d"));
        assert_eq!(h.get("bogus line"), None);
        // Latin-1 bytes in a header.
        assert_eq!(Headers::parse(b"Subject: caf\xe9").get("subject"), Some("café"));
    }

    #[test]
    fn parses_structured_values() {
        let ct = Structured::parse(r#"Multipart/Mixed; boundary="----=_Part_1; x"; charset=UTF-8"#);
        assert_eq!(ct.value, "multipart/mixed");
        assert_eq!(ct.param("boundary"), Some("----=_Part_1; x"));
        assert_eq!(ct.param("charset"), Some("UTF-8"));
        let cd = Structured::parse("attachment; filename*=UTF-8''Rechnung%20f%C3%BCr%20Mai.pdf");
        assert_eq!(cd.param("filename"), Some("Rechnung für Mai.pdf"));
        assert_eq!(Structured::parse(r#"inline; filename="a \"b\".txt""#).param("filename"), Some(r#"a "b".txt"#));
        assert_eq!(Structured::parse("").value, "");
    }

    #[test]
    fn extracts_message_ids() {
        assert_eq!(message_ids("<a@x.com>  <b@y.com>\r\n <c@z>"), ["<a@x.com>", "<b@y.com>", "<c@z>"]);
        assert_eq!(message_ids("a@x.com"), ["<a@x.com>"]);
        assert!(message_ids("<>").is_empty());
        assert!(message_ids("").is_empty());
    }
}
