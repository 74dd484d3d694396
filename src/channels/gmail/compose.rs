//! Writing the reply as an RFC 5322 message for `users.messages.send`:
//! `From` (the support mailbox with its display name), `To`, `Subject`
//! (`Re: ` + the original unless it already starts with `Re:`; RFC 2047
//! B-encoded when not ASCII), `Date` (RFC 5322 §3.3, from the caller's
//! `now`), `Message-ID` (from the caller's id), `X-FTE-Reply-Id` (the
//! reply's own uuid, hyphenated: an RFC 5322 §3.6.8 optional field of
//! plain ASCII, a 52-character line, so neither folded nor encoded; by it
//! a sent reply is recognised even when Gmail replaced the client-set
//! `Message-ID` on send), `In-Reply-To` and `References`
//! (the original's References + its Message-ID, RFC 5322 §3.6.4, which
//! with the Gmail `threadId` keeps the conversation threaded),
//! `MIME-Version`, `Content-Type: text/plain; charset=utf-8` and a
//! quoted-printable or base64 body. CRLF line ends throughout; no caller
//! value may carry CR or LF into a header (header injection). Owns
//! `ReplyContext`, `BodyEncoding`, `ComposedMessage` and `ComposeError`.

use super::mime::{NamedAddress, encoded_word, transfer};
use crate::domain::{EmailAddress, Identifier, InboundMessage};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// The header carrying the reply's own id (`X-FTE-Reply-Id: <uuid>`).
pub const REPLY_ID_HEADER: &str = "X-FTE-Reply-Id";

/// At most this many ids are kept in `References` (the first and the
/// latest ones, as RFC 5322 §3.6.4 suggests when trimming).
pub const MAX_REFERENCES: usize = 30;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ComposeError {
    #[error("{0} contains a line break (header injection refused)")]
    LineBreak(&'static str),
    #[error("{field} {value:?} is not a message id")]
    BadMessageId { field: &'static str, value: String },
    #[error("the reply body is empty")]
    EmptyBody,
    /// The sender's kind (`phone`, `slack`, …), not the sender.
    #[error("the inbound message is not an email (its sender is a {0} identifier)")]
    NotEmail(String),
}

/// What a reply needs to know about the message it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyContext {
    /// Where the reply goes (the original's Reply-To, else its From).
    pub to: NamedAddress,
    pub subject: Option<String>,
    /// The original's `Message-ID` (`<…>`).
    pub message_id: Option<String>,
    pub references: Vec<String>,
    /// The Gmail thread to send in.
    pub thread_id: Option<String>,
}

impl ReplyContext {
    /// Rebuilds the context from an inbound email and the metadata
    /// `EmailMessage::into_inbound_message` stored.
    pub fn from_inbound(message: &InboundMessage) -> Result<Self, ComposeError> {
        let Identifier::Email(from) = &message.sender else {
            return Err(ComposeError::NotEmail(message.sender.kind().as_str().to_string()));
        };
        let meta = &message.metadata;
        let text = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
        let reply_to = text("reply_to").and_then(|r| EmailAddress::parse(&r).ok());
        let to = match reply_to {
            Some(address) if &address != from => NamedAddress { name: None, address },
            _ => NamedAddress { name: message.display_name.clone(), address: from.clone() },
        };
        let references = meta
            .get("references")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        Ok(Self {
            to,
            subject: message.subject.clone().or_else(|| text("subject")),
            message_id: text("message_id_header"),
            references,
            thread_id: text("thread_id"),
        })
    }
}

/// How the body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEncoding {
    QuotedPrintable,
    Base64,
}

/// A composed message ready for `GmailApi::send_message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposedMessage {
    /// The whole message, CRLF line ends.
    pub raw: String,
    /// Its `Message-ID` (`<…>`), to store for threading later replies.
    pub message_id: String,
    pub thread_id: Option<String>,
}

/// The reply subject: `Re: ` + the original, unless it already has it.
pub fn reply_subject(original: Option<&str>) -> String {
    let s = original.map(str::trim).unwrap_or("");
    let has_re = s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:"));
    match (s.is_empty(), has_re) {
        (true, _) => "Re:".to_string(),
        (false, true) => s.to_string(),
        (false, false) => format!("Re: {s}"),
    }
}

fn no_line_break(field: &'static str, value: &str) -> Result<(), ComposeError> {
    if value.contains(['\r', '\n']) { Err(ComposeError::LineBreak(field)) } else { Ok(()) }
}

/// A well-formed `<left@right>` message id made of visible ASCII.
fn check_msg_id(field: &'static str, id: &str) -> Result<(), ComposeError> {
    let inner = id.strip_prefix('<').and_then(|r| r.strip_suffix('>'));
    let ok = inner.is_some_and(|i| {
        let parts: Vec<&str> = i.split('@').collect();
        parts.len() == 2
            && parts.iter().all(|p| !p.is_empty())
            && i.bytes().all(|b| b.is_ascii_graphic() && !b"<>\"\\()[],;:".contains(&b))
    });
    if ok { Ok(()) } else { Err(ComposeError::BadMessageId { field, value: id.to_string() }) }
}

/// Folds a header of space-separated words (e.g. message ids) at 78
/// characters.
fn fold(name: &str, words: &[String]) -> String {
    let mut out = format!("{name}:");
    let mut width = out.len();
    for w in words {
        if width + 1 + w.len() > 78 && width > name.len() + 1 {
            out.push_str("\r\n");
            width = 0;
        }
        out.push(' ');
        out.push_str(w);
        width += 1 + w.len();
    }
    out.push_str("\r\n");
    out
}

/// Composes the reply to `context` from `from` (the mailbox and its
/// display name). `message_id` is the caller's unique id for this message:
/// a bare token (`01890a5d-…`, made `<token@mailbox-domain>`) or a full
/// `<left@right>`. `reply_id` is the reply's own id, written as
/// `X-FTE-Reply-Id`.
pub fn compose_reply(
    from: &NamedAddress,
    context: &ReplyContext,
    body: &str,
    message_id: &str,
    reply_id: Uuid,
    now: DateTime<Utc>,
    encoding: BodyEncoding,
) -> Result<ComposedMessage, ComposeError> {
    if body.trim().is_empty() {
        return Err(ComposeError::EmptyBody);
    }
    for (field, v) in [("the From name", from.name.as_deref()), ("the To name", context.to.name.as_deref())] {
        no_line_break(field, v.unwrap_or(""))?;
    }
    let subject = reply_subject(context.subject.as_deref());
    no_line_break("the subject", &subject)?;
    let own_id = match message_id.trim() {
        id if id.starts_with('<') => id.to_string(),
        id if id.contains('@') => format!("<{id}>"),
        id => format!("<{id}@{}>", from.address.domain()),
    };
    check_msg_id("Message-ID", &own_id)?;
    let mut references: Vec<String> = Vec::new();
    for r in &context.references {
        check_msg_id("References", r)?;
        if !references.contains(r) {
            references.push(r.clone());
        }
    }
    if let Some(orig) = &context.message_id {
        check_msg_id("In-Reply-To", orig)?;
        references.retain(|r| r != orig);
        references.push(orig.clone());
    }
    if references.len() > MAX_REFERENCES {
        let tail = references.split_off(references.len() - (MAX_REFERENCES - 1));
        references.truncate(1);
        references.extend(tail);
    }

    let mut raw = String::with_capacity(body.len() * 2 + 1024);
    raw.push_str(&format!("From: {}\r\n", from.to_header_value()));
    raw.push_str(&format!("To: {}\r\n", context.to.to_header_value()));
    if subject.is_ascii() && !subject.contains("=?") {
        // Plain subjects fold at spaces (a long one must stay under 998 columns).
        raw.push_str(&fold("Subject", &subject.split(' ').map(str::to_string).collect::<Vec<_>>()));
    } else {
        raw.push_str(&format!("Subject: {}\r\n", encoded_word::encode(&subject)));
    }
    raw.push_str(&format!("Date: {}\r\n", now.to_rfc2822()));
    raw.push_str(&format!("Message-ID: {own_id}\r\n"));
    // A hyphenated uuid is 36 ASCII characters: the line stays far below 78.
    raw.push_str(&format!("{REPLY_ID_HEADER}: {}\r\n", reply_id.hyphenated()));
    if let Some(orig) = &context.message_id {
        raw.push_str(&format!("In-Reply-To: {orig}\r\n"));
    }
    if !references.is_empty() {
        raw.push_str(&fold("References", &references));
    }
    raw.push_str("MIME-Version: 1.0\r\n");
    raw.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    let normalized = body.replace("\r\n", "\n");
    match encoding {
        BodyEncoding::QuotedPrintable => {
            raw.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
            raw.push_str(&transfer::encode_qp(&normalized));
            raw.push_str("\r\n");
        }
        BodyEncoding::Base64 => {
            raw.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
            raw.push_str(&transfer::encode_base64_lines(normalized.replace('\n', "\r\n").as_bytes()));
        }
    }
    Ok(ComposedMessage { raw, message_id: own_id, thread_id: context.thread_id.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn addr(name: Option<&str>, a: &str) -> NamedAddress {
        NamedAddress { name: name.map(str::to_string), address: EmailAddress::parse(a).unwrap() }
    }

    fn ctx() -> ReplyContext {
        ReplyContext {
            to: addr(Some("Marisol Ortega"), "marisol@vientoapps.io"),
            subject: Some("Invoice for May".into()),
            message_id: Some("<CAF=abc123@mail.gmail.com>".into()),
            references: vec!["<first@vientoapps.io>".into()],
            thread_id: Some("18c0".into()),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 6, 10, 15, 0).unwrap()
    }

    fn from() -> NamedAddress {
        addr(Some("Acme Support"), "support@acme.com")
    }

    fn rid() -> Uuid {
        Uuid::parse_str("0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57").unwrap()
    }

    #[test]
    fn writes_the_exact_reply() {
        let m = compose_reply(
            &from(),
            &ctx(),
            "Hello Marisol,\nit is fixed.",
            "0190a5d2",
            rid(),
            now(),
            BodyEncoding::QuotedPrintable,
        )
        .unwrap();
        assert_eq!(
            m.raw,
            "From: Acme Support <support@acme.com>\r\n\
             To: Marisol Ortega <marisol@vientoapps.io>\r\n\
             Subject: Re: Invoice for May\r\n\
             Date: Mon, 6 May 2024 10:15:00 +0000\r\n\
             Message-ID: <0190a5d2@acme.com>\r\n\
             X-FTE-Reply-Id: 0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57\r\n\
             In-Reply-To: <CAF=abc123@mail.gmail.com>\r\n\
             References: <first@vientoapps.io> <CAF=abc123@mail.gmail.com>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\
             \r\n\
             Hello Marisol,\r\nit is fixed.\r\n"
        );
        assert_eq!(m.message_id, "<0190a5d2@acme.com>");
        assert_eq!(m.thread_id.as_deref(), Some("18c0"));
        // Every line ends in CRLF; no bare LF.
        assert!(!m.raw.replace("\r\n", "").contains(['\r', '\n']));
    }

    #[test]
    fn encodes_non_ascii_subjects_names_and_bodies() {
        let mut c = ctx();
        c.subject = Some("Façture — été".into());
        c.to = addr(Some("Zoë, Müller"), "zoe@example.de");
        let m =
            compose_reply(&from(), &c, "Grüße ✓", "<x@acme.com>", rid(), now(), BodyEncoding::QuotedPrintable).unwrap();
        let subject_line = m.raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
        assert!(subject_line.starts_with("Subject: =?UTF-8?B?"), "{subject_line}");
        let (head, body) = m.raw.split_once("\r\n\r\n").unwrap();
        assert!(head.is_ascii());
        let read = super::super::mime::parse(m.raw.as_bytes()).unwrap();
        assert_eq!(read.subject.as_deref(), Some("Re: Façture — été"));
        assert_eq!(read.to[0].name.as_deref(), Some("Zoë, Müller"));
        assert_eq!(body, "Gr=C3=BC=C3=9Fe =E2=9C=93\r\n");
        let b = compose_reply(&from(), &c, "Grüße ✓", "<x@acme.com>", rid(), now(), BodyEncoding::Base64).unwrap();
        assert!(b.raw.contains("Content-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZSDinJM=\r\n"), "{}", b.raw);
    }

    #[test]
    fn subjects_get_one_re() {
        assert_eq!(reply_subject(Some("Invoice")), "Re: Invoice");
        assert_eq!(reply_subject(Some("Re: Invoice")), "Re: Invoice");
        assert_eq!(reply_subject(Some("RE: Invoice")), "RE: Invoice");
        assert_eq!(reply_subject(Some("re:Invoice")), "re:Invoice");
        assert_eq!(reply_subject(Some("Regarding x")), "Re: Regarding x");
        assert_eq!(reply_subject(None), "Re:");
        assert_eq!(reply_subject(Some("é")), "Re: é");
    }

    #[test]
    fn refuses_header_injection() {
        let mut c = ctx();
        c.subject = Some("Hi\r\nBcc: victim@x.com".into());
        assert_eq!(
            compose_reply(&from(), &c, "b", "id", rid(), now(), BodyEncoding::Base64),
            Err(ComposeError::LineBreak("the subject"))
        );
        let mut c = ctx();
        c.to.name = Some("Eve\nBcc: x@y.z".into());
        assert_eq!(
            compose_reply(&from(), &c, "b", "id", rid(), now(), BodyEncoding::Base64),
            Err(ComposeError::LineBreak("the To name"))
        );
        let mut c = ctx();
        c.message_id = Some("<a@b>\r\nBcc: x@y.z".into());
        assert!(matches!(
            compose_reply(&from(), &c, "b", "id", rid(), now(), BodyEncoding::Base64),
            Err(ComposeError::BadMessageId { .. })
        ));
        let mut c = ctx();
        c.references = vec!["not-an-id".into()];
        assert!(matches!(
            compose_reply(&from(), &c, "b", "id", rid(), now(), BodyEncoding::Base64),
            Err(ComposeError::BadMessageId { .. })
        ));
        assert!(matches!(
            compose_reply(&from(), &ctx(), "b", "a b", rid(), now(), BodyEncoding::Base64),
            Err(ComposeError::BadMessageId { .. })
        ));
        assert_eq!(
            compose_reply(&from(), &ctx(), " \n", "id", rid(), now(), BodyEncoding::Base64),
            Err(ComposeError::EmptyBody)
        );
    }

    #[test]
    fn folds_and_trims_long_references() {
        let mut c = ctx();
        c.references = (0..40).map(|i| format!("<ref{i}.abcdefghijkl@mail.example.com>")).collect();
        c.message_id = Some("<ref39.abcdefghijkl@mail.example.com>".into());
        let m = compose_reply(&from(), &c, "b", "id", rid(), now(), BodyEncoding::QuotedPrintable).unwrap();
        let (head, _) = m.raw.split_once("\r\n\r\n").unwrap();
        assert!(head.split("\r\n").all(|l| l.len() <= 78), "{head}");
        let refs = super::super::mime::parse(m.raw.as_bytes()).unwrap().references;
        assert_eq!(refs.len(), MAX_REFERENCES);
        assert_eq!(refs.first().unwrap(), "<ref0.abcdefghijkl@mail.example.com>");
        assert_eq!(refs.last().unwrap(), "<ref39.abcdefghijkl@mail.example.com>");
        let mut c = ctx();
        c.subject = Some("word ".repeat(300).trim().to_string());
        let m = compose_reply(&from(), &c, "b", "id", rid(), now(), BodyEncoding::QuotedPrintable).unwrap();
        let (head, _) = m.raw.split_once("\r\n\r\n").unwrap();
        assert!(head.split("\r\n").all(|l| l.len() <= 78));
        let read = super::super::mime::parse(m.raw.as_bytes()).unwrap();
        assert_eq!(read.headers.get("subject").unwrap(), format!("Re: {}", "word ".repeat(300).trim()));
        // No original Message-ID: no In-Reply-To, References as they were.
        let mut c = ctx();
        c.message_id = None;
        let m = compose_reply(&from(), &c, "b", "id", rid(), now(), BodyEncoding::QuotedPrintable).unwrap();
        assert!(!m.raw.contains("In-Reply-To"));
        assert!(m.raw.contains("References: <first@vientoapps.io>\r\n"));
    }

    #[test]
    fn carries_the_reply_id_header() {
        for encoding in [BodyEncoding::QuotedPrintable, BodyEncoding::Base64] {
            let m = compose_reply(&from(), &ctx(), "Grüße ✓", "<x@acme.com>", rid(), now(), encoding).unwrap();
            let (head, _) = m.raw.split_once("\r\n\r\n").unwrap();
            // One unfolded, unencoded line of plain ASCII, well under 78 columns.
            let lines: Vec<&str> = head.split("\r\n").filter(|l| l.starts_with("X-FTE-Reply-Id:")).collect();
            assert_eq!(lines, ["X-FTE-Reply-Id: 0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57"], "{head}");
            assert!(lines[0].is_ascii() && lines[0].len() <= 78 && !lines[0].contains("=?"));
            // Read back as a header, by any case of its name.
            let h = super::super::mime::parse(m.raw.as_bytes()).unwrap().headers;
            assert_eq!(h.get("x-fte-reply-id"), Some("0190a5d2-7c1e-7b3a-9f4e-2d6c8b1a0e57"));
            assert_eq!(Uuid::parse_str(h.get(REPLY_ID_HEADER).unwrap()).unwrap(), rid());
        }
        // Another reply, another id.
        let other = Uuid::now_v7();
        let m = compose_reply(&from(), &ctx(), "b", "id", other, now(), BodyEncoding::QuotedPrintable).unwrap();
        assert!(m.raw.contains(&format!("\r\nX-FTE-Reply-Id: {}\r\n", other.hyphenated())), "{}", m.raw);
    }
}
