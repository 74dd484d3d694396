//! Finding the readable text of a MIME message (RFC 2045/2046): walks
//! nested `multipart/*` entities split at their boundary delimiter lines,
//! undoes each leaf's Content-Transfer-Encoding and charset, and picks the
//! text: in `multipart/alternative` the text/plain alternative, else the
//! HTML one converted to text; in `multipart/related` the root; in
//! `multipart/mixed` (and unknown multiparts) every inline text part in
//! order. `format=flowed` plain text (RFC 3676) is unwrapped. Non-text
//! parts, parts with a filename or `Content-Disposition: attachment`, and
//! forwarded `message/rfc822` parts are listed as attachments (metadata
//! only; contents are not kept). Depth and part count are capped so a
//! hostile message cannot exhaust the stack.

use super::headers::{Headers, Structured, split};
use super::{charset, encoded_word, html, transfer};
use serde::Serialize;

const MAX_DEPTH: usize = 12;
const MAX_PARTS: usize = 256;

/// An attachment seen in the message (not kept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
}

/// The message's text and what was learned finding it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    /// `None` when the message has no text part at all.
    pub text: Option<String>,
    /// Whether the text was converted from HTML.
    pub from_html: bool,
    pub attachments: Vec<Attachment>,
    /// Oddities met on the way (unsupported charset, missing boundary…).
    pub notes: Vec<String>,
}

struct Text {
    text: String,
    html: bool,
}

struct Walker {
    attachments: Vec<Attachment>,
    notes: Vec<String>,
    parts: usize,
}

/// Extracts the text of an entity with these headers and body.
pub fn extract(headers: &Headers, body: &[u8]) -> Extracted {
    let mut w = Walker { attachments: Vec::new(), notes: Vec::new(), parts: 0 };
    let found = w.walk(headers, body, 0);
    Extracted {
        from_html: found.as_ref().is_some_and(|t| t.html),
        text: found.map(|t| t.text),
        attachments: w.attachments,
        notes: w.notes,
    }
}

impl Walker {
    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    fn walk(&mut self, headers: &Headers, body: &[u8], depth: usize) -> Option<Text> {
        self.parts += 1;
        if self.parts > MAX_PARTS {
            self.note(format!("more than {MAX_PARTS} MIME parts; the rest were ignored"));
            return None;
        }
        let ct = Structured::parse(headers.get("content-type").unwrap_or("text/plain"));
        let mime = if ct.value.contains('/') { ct.value.as_str() } else { "text/plain" };
        let disposition = headers.get("content-disposition").map(Structured::parse);
        let filename = disposition
            .as_ref()
            .and_then(|d| d.param("filename"))
            .or_else(|| ct.param("name"))
            .map(encoded_word::decode)
            .filter(|f| !f.trim().is_empty());
        let is_attachment = disposition.as_ref().is_some_and(|d| d.value == "attachment") || filename.is_some();
        let encoding = headers.get("content-transfer-encoding");

        if let Some(subtype) = mime.strip_prefix("multipart/") {
            if depth >= MAX_DEPTH {
                self.note(format!("MIME nesting deeper than {MAX_DEPTH}; inner parts ignored"));
                return None;
            }
            let Some(boundary) = ct.param("boundary").filter(|b| !b.is_empty()) else {
                self.note("multipart part without boundary; read as plain text".to_string());
                return self.leaf_text(body, encoding, None, false, false);
            };
            let mut texts = Vec::new();
            for part in split_multipart(body, boundary) {
                let (h, b) = split(part);
                if let Some(t) = self.walk(&Headers::parse(h), b, depth + 1) {
                    texts.push(t);
                }
            }
            return match subtype {
                "alternative" => {
                    let plain = texts.iter().position(|t| !t.html && !t.text.trim().is_empty());
                    match plain {
                        Some(i) => Some(texts.swap_remove(i)),
                        None => texts.pop(),
                    }
                }
                "related" => texts.into_iter().next(),
                _ => {
                    let html = texts.iter().any(|t| t.html);
                    let joined: Vec<String> =
                        texts.into_iter().map(|t| t.text).filter(|t| !t.trim().is_empty()).collect();
                    (!joined.is_empty()).then(|| Text { text: joined.join("\n\n"), html })
                }
            };
        }
        let is_text = mime == "text/plain" || mime == "text/html";
        if is_attachment || !is_text {
            let size = transfer::decode_body(body, encoding).len();
            self.attachments.push(Attachment { filename, content_type: mime.to_string(), size });
            return None;
        }
        let flowed = ct.param("format").is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
        let delsp = ct.param("delsp").is_some_and(|d| d.eq_ignore_ascii_case("yes"));
        let charset = ct.param("charset").map(str::to_string);
        let text = self.leaf_text(body, encoding, charset.as_deref(), flowed, delsp)?;
        if mime == "text/html" { Some(Text { text: html::to_text(&text.text), html: true }) } else { Some(text) }
    }

    fn leaf_text(
        &mut self,
        body: &[u8],
        encoding: Option<&str>,
        charset: Option<&str>,
        flowed: bool,
        delsp: bool,
    ) -> Option<Text> {
        let bytes = transfer::decode_body(body, encoding);
        let (text, note) = charset::decode(&bytes, charset);
        if let Some(n) = note {
            self.note(n);
        }
        let text = text.replace("\r\n", "\n");
        let text = if flowed { unflow(&text, delsp) } else { text };
        Some(Text { text, html: false })
    }
}

/// The parts of a multipart body: between `--boundary` lines, up to
/// `--boundary--` (a missing close delimiter is tolerated). The line break
/// before each delimiter belongs to the delimiter (RFC 2046 §5.1.1).
pub fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let nl = body[pos..].iter().position(|&b| b == b'\n').map(|i| pos + i);
        let line_end = nl.unwrap_or(body.len());
        let line = &body[pos..line_end];
        if let Some(rest) = line.strip_prefix(delim) {
            let rest = rest.trim_ascii_end();
            let close = rest.starts_with(b"--");
            if close || rest.is_empty() {
                if let Some(start) = current {
                    parts.push(&body[start..part_end(body, start, pos)]);
                }
                if close {
                    return parts;
                }
                current = Some(nl.map_or(body.len(), |n| n + 1));
            }
        }
        pos = nl.map_or(body.len(), |n| n + 1);
    }
    if let Some(start) = current
        && start < body.len()
    {
        parts.push(&body[start..]);
    }
    parts
}

fn part_end(body: &[u8], start: usize, delimiter_line: usize) -> usize {
    let mut end = delimiter_line;
    if end > start && body[end - 1] == b'\n' {
        end -= 1;
        if end > start && body[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end.max(start)
}

/// Unwraps `format=flowed` text (RFC 3676 §4): a line ending in a space
/// continues on the next line; space-stuffing is removed. The signature
/// separator `-- ` is never a flowed line.
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        let line = raw.strip_prefix(' ').unwrap_or(raw);
        if line.ends_with(' ') && line != "-- " && !last {
            out.push_str(if delsp { &line[..line.len() - 1] } else { line });
        } else {
            out.push_str(line);
            if !last {
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(raw: &str) -> Extracted {
        let (h, b) = split(raw.as_bytes());
        extract(&Headers::parse(h), b)
    }

    #[test]
    fn splits_multipart_bodies() {
        let body = b"preamble\r\n--b\r\npart one\r\n--b \r\n\r\npart two\r\n\r\n--b--\r\nepilogue";
        assert_eq!(split_multipart(body, "b"), [&b"part one"[..], &b"\r\npart two\r\n"[..]]);
        // Missing close delimiter, LF only, and a longer boundary not confused.
        assert_eq!(split_multipart(b"--b\nx\n--bb\ny", "b"), [&b"x\n--bb\ny"[..]]);
        assert!(split_multipart(b"no delimiters", "b").is_empty());
        assert_eq!(split_multipart(b"--b\r\n--b--", "b"), [&b""[..]]);
    }

    #[test]
    fn plain_text_defaults() {
        let e = run("Subject: x\r\n\r\nHello\r\nthere\r\n");
        assert_eq!(e.text.as_deref(), Some("Hello\nthere\n"));
        assert!(!e.from_html && e.attachments.is_empty() && e.notes.is_empty());
    }

    #[test]
    fn prefers_plain_in_alternative() {
        let raw = "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
            Content-Type: text/plain; charset=utf-8\r\n\r\nPlain\r\n--alt\r\n\
            Content-Type: text/html; charset=utf-8\r\n\r\n<p>Rich</p>\r\n--alt--\r\n";
        let e = run(raw);
        assert_eq!(e.text.as_deref(), Some("Plain"));
        assert!(!e.from_html);
        let html_only = raw.replace("text/plain", "text/x-unknown");
        let e = run(&html_only);
        assert_eq!(e.text.as_deref(), Some("Rich"));
        assert!(e.from_html);
    }

    #[test]
    fn unflows_format_flowed() {
        let raw =
            "Content-Type: text/plain; format=flowed; delsp=yes\r\n\r\nThis is a lo \r\nng line.\r\n-- \r\nsig\r\n";
        assert_eq!(run(raw).text.as_deref(), Some("This is a long line.\n-- \nsig\n"));
        assert_eq!(unflow("a \nb\n >quoted", false), "a b\n>quoted");
    }

    #[test]
    fn bounds_nesting_and_missing_boundaries() {
        let mut raw = String::new();
        for i in 0..20 {
            raw.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"));
        }
        raw.push_str("\r\ndeep text\r\n");
        let e = run(&raw);
        assert!(e.text.is_none());
        assert!(e.notes.iter().any(|n| n.contains("nesting")));
        let e = run("Content-Type: multipart/mixed\r\n\r\njust text");
        assert_eq!(e.text.as_deref(), Some("just text"));
        assert!(!e.notes.is_empty());
    }
}
