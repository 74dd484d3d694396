//! A message's readable text and attachments, from the part tree
//! `mail-parser` built (RFC 2045/2046, transfer encoding and charset
//! already undone). The text is its text body: in `multipart/alternative`
//! the text/plain alternative, else (or when that is blank) the HTML one
//! converted to text (`html`); in `multipart/mixed` every inline text part
//! in order. `format=flowed` plain text (RFC 3676) is unwrapped. The
//! attachments are the parts `mail-parser` lists as such (non-text parts,
//! named or `Content-Disposition: attachment` ones, forwarded
//! `message/rfc822`), metadata only: contents are not kept; but a text
//! part it set aside as damaged (a broken transfer encoding, a missing
//! closing delimiter) and a multipart part without a boundary are read as
//! text. Notes record what was met on the way (an unknown charset, a
//! damaged part…).

use super::html;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{Message, MessagePart, MimeHeaders, PartType};
use serde::Serialize;

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
pub struct Body {
    /// `None` when the message has no text part at all.
    pub text: Option<String>,
    /// Whether the text was converted from HTML.
    pub from_html: bool,
    pub attachments: Vec<Attachment>,
    /// Oddities met on the way (unsupported charset, missing boundary…).
    pub notes: Vec<String>,
}

impl Body {
    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

/// The note for a part `mail-parser` could not decode as declared.
const DAMAGED: &str = "a MIME part is damaged (transfer encoding or closing delimiter); its raw text was kept";

struct Text {
    text: String,
    html: bool,
}

/// The text, attachments and notes of a parsed message.
pub fn extract(message: &Message<'_>) -> Body {
    let mut body = Body::default();
    let parts =
        |ids: &[u32]| -> Vec<&MessagePart<'_>> { ids.iter().filter_map(|&id| message.part(id)).collect::<Vec<_>>() };
    let mut texts: Vec<Text> = parts(&message.text_body).into_iter().filter_map(|p| part_text(p, &mut body)).collect();
    if texts.iter().all(|t| t.text.trim().is_empty()) {
        let html: Vec<Text> = parts(&message.html_body)
            .into_iter()
            .filter(|p| p.is_text_html())
            .filter_map(|p| part_text(p, &mut body))
            .filter(|t| !t.text.trim().is_empty())
            .collect();
        if !html.is_empty() {
            texts = html;
        }
    }
    for part in parts(&message.attachments) {
        let mime = content_type(part);
        let filename = part.attachment_name().map(str::to_string).filter(|f| !f.trim().is_empty());
        let attached = filename.is_some() || part.content_disposition().is_some_and(|d| d.is_attachment());
        if !attached && let Some((text, note)) = recovered_text(part, &mime) {
            body.note(note.to_string());
            texts.push(text);
        } else if !mime.starts_with("multipart/") {
            body.attachments.push(Attachment { filename, content_type: mime, size: part.len() });
        }
    }
    if !texts.is_empty() {
        body.from_html = texts.iter().any(|t| t.html);
        let joined: Vec<&str> = texts.iter().map(|t| t.text.as_str()).filter(|t| !t.trim().is_empty()).collect();
        body.text = Some(joined.join("\n\n"));
    }
    body
}

/// A text or HTML part as text (other parts, such as inline images, have none).
fn part_text(part: &MessagePart<'_>, body: &mut Body) -> Option<Text> {
    let (text, html) = match &part.body {
        PartType::Text(t) => (t.replace("\r\n", "\n"), false),
        PartType::Html(h) => (html::to_text(h), true),
        _ => return None,
    };
    let ct = part.content_type();
    let param = |name: &str| ct.and_then(|c| c.attribute(name));
    if let Some(charset) = param("charset")
        && !matches!(charset.to_ascii_lowercase().as_str(), "utf-8" | "utf8")
        && charset_decoder(charset.as_bytes()).is_none()
    {
        body.note(format!("charset {charset:?} is not supported; decoded as UTF-8 with replacements"));
    }
    if part.is_encoding_problem {
        body.note(DAMAGED.to_string());
    }
    if text.contains('\u{fffd}') {
        body.note("bytes invalid in the part's charset were replaced with U+FFFD".to_string());
    }
    let flowed = param("format").is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
    let delsp = param("delsp").is_some_and(|d| d.eq_ignore_ascii_case("yes"));
    let text = if flowed && !html { unflow(&text, delsp) } else { text };
    Some(Text { text, html })
}

/// `type/subtype`, lowercased; `text/plain` when not given (RFC 2045 §5.2).
fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => "text/plain".to_string(),
    }
}

/// The text `mail-parser` set aside as an attachment because the part was
/// damaged: a multipart without a boundary to split at, or a text part
/// whose transfer encoding is broken or whose closing delimiter is missing.
fn recovered_text(part: &MessagePart<'_>, mime: &str) -> Option<(Text, &'static str)> {
    let multipart = mime.starts_with("multipart/");
    let damaged_text = part.is_encoding_problem && matches!(mime, "text/plain" | "text/html");
    if !multipart && !damaged_text {
        return None;
    }
    let raw = match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.replace("\r\n", "\n"),
        PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b).replace("\r\n", "\n"),
        PartType::Message(_) | PartType::Multipart(_) => return None,
    };
    Some(match mime {
        _ if multipart => (Text { text: raw, html: false }, "multipart part without boundary; read as plain text"),
        "text/html" => (Text { text: html::to_text(&raw), html: true }, DAMAGED),
        _ => (Text { text: raw, html: false }, DAMAGED),
    })
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
    use super::super::{ParsedMail, parse};
    use super::*;

    fn run(raw: &str) -> ParsedMail {
        parse(format!("From: a@b.c\r\n{raw}").as_bytes()).unwrap()
    }

    #[test]
    fn plain_text_defaults() {
        let e = run("Subject: x\r\n\r\nHello\r\nthere\r\n");
        assert_eq!(e.text.as_deref(), Some("Hello\nthere\n"));
        assert!(!e.from_html && e.attachments.is_empty() && e.notes.is_empty());
    }

    #[test]
    fn splits_multipart_bodies() {
        // Preamble and epilogue dropped, the line break before each
        // delimiter belongs to it, blanks after a delimiter are allowed.
        let raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n--b\r\n\r\npart one\r\n\
            --b \r\n\r\npart two\r\n\r\n--b--\r\nepilogue";
        assert_eq!(run(raw).text.as_deref(), Some("part one\n\npart two\n"));
        // A missing close delimiter is tolerated.
        let raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b\n\ny";
        assert_eq!(run(raw).text.as_deref(), Some("x\n\ny"));
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
        // A blank plain alternative gives way to the HTML one.
        let e = run(&raw.replace("Plain", " "));
        assert_eq!(e.text.as_deref(), Some("Rich"));
        assert!(e.from_html);
    }

    #[test]
    fn lists_attachments() {
        let raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n\
            --b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.z\r\nSubject: fw\r\n\r\nforwarded\r\n\
            --b\r\nContent-Type: image/png; name=\"=?UTF-8?Q?f=C3=BC.png?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n\
            --b\r\nContent-Type: Application/PDF\r\nContent-Disposition: attachment; filename*=UTF-8''Rechnung%20f%C3%BCr%20Mai.pdf\r\n\r\n%PDF\r\n\
            --b\r\nContent-Type: text/plain; name=notes.txt\r\n\r\nnot the body\r\n--b--\r\n";
        let e = run(raw);
        assert_eq!(e.text.as_deref(), Some("one"));
        let found: Vec<(Option<&str>, &str, usize)> =
            e.attachments.iter().map(|a| (a.filename.as_deref(), a.content_type.as_str(), a.size)).collect();
        assert_eq!(
            found,
            [
                (None, "message/rfc822", 37),
                (Some("fü.png"), "image/png", 3),
                (Some("Rechnung für Mai.pdf"), "application/pdf", 4),
                (Some("notes.txt"), "text/plain", 12),
            ]
        );
    }

    #[test]
    fn decodes_charsets_and_notes_unknown_ones() {
        let e = parse(b"From: a@b.c\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n\r\nh\xe9llo \x80").unwrap();
        assert_eq!(e.text.as_deref(), Some("héllo €"));
        assert!(e.notes.is_empty());
        let e =
            parse(b"From: a@b.c\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4").unwrap();
        assert_eq!(e.text.as_deref(), Some("Привет"));
        let e = parse(b"From: a@b.c\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\n\x82\xa0").unwrap();
        assert_eq!(e.text.as_deref(), Some("あ"));
        let e = parse(b"From: a@b.c\r\nContent-Type: text/plain; charset=x-martian\r\n\r\nok \xff").unwrap();
        assert_eq!(e.text.as_deref(), Some("ok \u{fffd}"));
        assert!(e.notes.iter().any(|n| n.contains("x-martian")), "{:?}", e.notes);
        let e = parse(b"From: a@b.c\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xff").unwrap();
        assert_eq!(e.text.as_deref(), Some("\u{fffd}"));
        assert!(!e.notes.is_empty());
    }

    #[test]
    fn undoes_transfer_encodings() {
        let decoded = |encoding: &str, body: &[u8]| {
            let mut raw =
                format!("From: a@b.c\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n")
                    .into_bytes();
            raw.extend_from_slice(body);
            parse(&raw).unwrap()
        };
        let text = |encoding: &str, body: &[u8]| decoded(encoding, body).text.unwrap_or_default();
        assert_eq!(text("quoted-printable", b"caf=C3=A9 =3D ok"), "café = ok");
        // Soft breaks with CRLF, LF, trailing spaces, and at the very end.
        assert_eq!(text("Quoted-Printable", b"long li=\r\nne, an=\nd mo=  \r\nre="), "long line, and more");
        // Malformed escapes stay literal; lowercase hex is accepted.
        assert_eq!(text("quoted-printable", b"a=ZZ b=4 c=c3=a9"), "a=ZZ b=4 cé");
        assert_eq!(text("base64", b"aGVs\r\nbG8=\r\n"), "hello");
        assert_eq!(text("8bit", b"as is"), "as is");
        // Damaged base64: the raw text is kept, and a note says so.
        let damaged = decoded("base64", b"aGVs*bG8=!");
        assert_eq!(damaged.text.as_deref(), Some("aGVs*bG8=!"));
        assert!(!damaged.notes.is_empty());
    }

    #[test]
    fn unflows_format_flowed() {
        let raw =
            "Content-Type: text/plain; format=flowed; delsp=yes\r\n\r\nThis is a lo \r\nng line.\r\n-- \r\nsig\r\n";
        assert_eq!(run(raw).text.as_deref(), Some("This is a long line.\n-- \nsig\n"));
        assert_eq!(unflow("a \nb\n >quoted", false), "a b\n>quoted");
    }

    #[test]
    fn survives_deep_nesting_and_missing_boundaries() {
        let mut raw = String::new();
        for i in 0..2000 {
            raw.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"));
        }
        raw.push_str("Content-Type: text/plain\r\n\r\ndeep text\r\n");
        assert_eq!(run(&raw).text.as_deref(), Some("deep text\n"));
        let e = run("Content-Type: multipart/mixed\r\n\r\njust text");
        assert_eq!(e.text.as_deref(), Some("just text"));
        assert!(e.attachments.is_empty());
        assert!(!e.notes.is_empty());
    }
}
