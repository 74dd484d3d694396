//! Inbound mail read through the `mail-parser` crate (RFC 5322 header
//! fields, RFC 2047 encoded words, the MIME part tree, transfer encodings
//! and charsets), turned into what the adapter uses: the sender and
//! recipients (`address`), threading ids and the raw header fields
//! (`headers`), the readable text with attachments listed (`body`, HTML
//! through `html`). Lenient on input (mail in the wild is messy): the only
//! failures are an empty message, one that is not a message at all, and
//! one without a usable `From`. Also the encoders for the reply we send
//! (`encoded_word`, `transfer`). Owns `ParsedMail` and `MimeError`.

pub mod address;
pub mod body;
pub mod encoded_word;
pub mod headers;
pub mod html;
pub mod transfer;

pub use address::NamedAddress;
pub use body::Attachment;
pub use headers::Headers;

use chrono::{DateTime, FixedOffset};
use mail_parser::{HeaderName, MessageParser};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MimeError {
    #[error("the message is empty")]
    Empty,
    #[error("the message has no header section (not an RFC 5322 message)")]
    NoHeaders,
    #[error("the message has no From header")]
    MissingFrom,
    /// The header is kept for the caller, not quoted in the message (a
    /// sender's name and address).
    #[error("the From header holds no valid address")]
    BadFrom(String),
}

/// A message's header fields and readable text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedMail {
    pub headers: Headers,
    /// The first valid address of the first `From`.
    pub from: NamedAddress,
    pub reply_to: Option<NamedAddress>,
    /// Every valid address of every `To` (groups flattened).
    pub to: Vec<NamedAddress>,
    pub cc: Vec<NamedAddress>,
    /// RFC 2047-decoded, unfolded.
    pub subject: Option<String>,
    /// `<id@host>`, brackets kept: the first of `Message-ID`.
    pub message_id: Option<String>,
    /// The last id of `In-Reply-To` (the parent).
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub date: Option<DateTime<FixedOffset>>,
    /// The text before any quote or signature stripping (`None`: no text part).
    pub text: Option<String>,
    pub from_html: bool,
    pub attachments: Vec<Attachment>,
    pub notes: Vec<String>,
}

/// Parses raw message bytes (CRLF or LF line ends).
pub fn parse(raw: &[u8]) -> Result<ParsedMail, MimeError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(MimeError::Empty);
    }
    let raw = headers::utf8_header_section(raw);
    let message = MessageParser::default().parse(raw.as_ref()).ok_or(MimeError::NoHeaders)?;
    let headers = Headers::of(&message);
    if headers.is_empty() {
        return Err(MimeError::NoHeaders);
    }
    let from_raw = headers.get("from").ok_or(MimeError::MissingFrom)?;
    let from = message.from().and_then(address::first).ok_or_else(|| MimeError::BadFrom(from_raw.to_string()))?;
    let addresses = |name: HeaderName<'static>| -> Vec<NamedAddress> {
        message.header_values(name).filter_map(|v| v.as_address()).flat_map(address::list).collect()
    };
    let body = body::extract(&message);
    Ok(ParsedMail {
        from,
        reply_to: message.reply_to().and_then(address::first),
        to: addresses(HeaderName::To),
        cc: addresses(HeaderName::Cc),
        subject: message.subject().map(str::to_string),
        message_id: headers::message_ids(message.header(HeaderName::MessageId)).into_iter().next(),
        in_reply_to: headers::message_ids(message.header(HeaderName::InReplyTo)).pop(),
        references: headers::message_ids(message.header(HeaderName::References)),
        date: message.date().and_then(|d| DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok()),
        headers,
        text: body.text,
        from_html: body.from_html,
        attachments: body.attachments,
        notes: body.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_messages() {
        assert_eq!(parse(b""), Err(MimeError::Empty));
        assert_eq!(parse(b" \r\n"), Err(MimeError::Empty));
        assert_eq!(parse(b"\r\njust a body"), Err(MimeError::NoHeaders));
        assert_eq!(parse(b"no colon here\r\n\r\nbody"), Err(MimeError::NoHeaders));
    }

    #[test]
    fn reads_sender_recipients_and_threading() {
        let raw = b"From: \"Doe, Jane\" <Jane@Example.com>\r\nTo: a@x.com, Team: b@y.com, c@z.com;\r\nTo: d@w.com\r\n\
            Cc: bad-entry, e@v.com\r\nReply-To: tickets@example.com (Tickets)\r\nSubject: =?UTF-8?Q?Caf=C3=A9?= menu\r\n\
            Message-ID: <m1@x.com>\r\nIn-Reply-To: <p0@x.com> <p1@x.com>\r\nReferences: <r1@x.com>\r\n <r2@y.com>\r\n\
            Date: Mon, 6 May 2024 11:02:17 +0200 (CEST)\r\n\r\nHi";
        let m = parse(raw).unwrap();
        assert_eq!((m.from.name.as_deref(), m.from.address.as_str()), (Some("Doe, Jane"), "jane@example.com"));
        let to: Vec<&str> = m.to.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(to, ["a@x.com", "b@y.com", "c@z.com", "d@w.com"]);
        assert_eq!(m.cc.iter().map(|a| a.address.as_str()).collect::<Vec<_>>(), ["e@v.com"]);
        let reply_to = m.reply_to.unwrap();
        assert_eq!((reply_to.name.as_deref(), reply_to.address.as_str()), (Some("Tickets"), "tickets@example.com"));
        assert_eq!(m.subject.as_deref(), Some("Café menu"));
        assert_eq!(m.message_id.as_deref(), Some("<m1@x.com>"));
        assert_eq!(m.in_reply_to.as_deref(), Some("<p1@x.com>"));
        assert_eq!(m.references, ["<r1@x.com>", "<r2@y.com>"]);
        assert_eq!(m.date.unwrap().to_rfc3339(), "2024-05-06T11:02:17+02:00");
        assert_eq!(m.text.as_deref(), Some("Hi"));
    }

    #[test]
    fn from_must_hold_an_address() {
        assert_eq!(parse(b"Subject: x\r\n\r\nbody"), Err(MimeError::MissingFrom));
        assert_eq!(parse(b"From: Jane Doe\r\n\r\nbody"), Err(MimeError::BadFrom("Jane Doe".into())));
        assert!(matches!(parse(b"From: Jane <no-at-sign>\r\n\r\nbody"), Err(MimeError::BadFrom(_))));
        assert!(matches!(parse(b"From:\r\n\r\nbody"), Err(MimeError::BadFrom(_))));
        let m = parse(b"From: undisclosed:;, Bob <bob@x.com>\r\nDate: not a date\r\n\r\nbody").unwrap();
        assert_eq!(m.from.address.as_str(), "bob@x.com");
        assert!(m.date.is_none());
    }

    #[test]
    fn never_panics_on_garbage() {
        let samples: [&[u8]; 7] = [
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n--x--",
            b"Content-Type: text/plain; charset=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n====",
            b"Content-Type: multipart/alternative; boundary=\r\n\r\n--\r\n",
            b"A:\xff\xfe\r\n\r\n\xff",
            b"Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"x=\r\n",
            b"Content-Type: /\r\n\r\nx",
            b"From: a@b.c\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nFrom: x",
        ];
        for s in samples {
            let _ = parse(s);
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse(&raw);
        }

        #[test]
        fn structured_input_never_panics(s in "(From|To|Subject|Content-Type|Content-Transfer-Encoding|--b|=\\?|<a href|<blockquote>|</div>|&#|>|\\r\\n|[ -~]|é){0,80}") {
            let with_mime = format!("From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{s}");
            let _ = parse(with_mime.as_bytes());
            let _ = parse(s.as_bytes());
            let _ = html::to_text(&s);
            let _ = super::super::quoting::clean(&s);
        }
    }
}
