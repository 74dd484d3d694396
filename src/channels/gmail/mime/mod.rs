//! A compact RFC 5322 / MIME reader and the header encoders for sending,
//! written here because the project has no mail-parsing crate: header
//! sections (`headers`), addresses (`address`), RFC 2047 encoded words
//! (`encoded_word`), transfer encodings (`transfer`), charsets
//! (`charset`), the multipart walk that finds the text (`body`) and HTML
//! to text (`html`). Lenient on input (mail in the wild is messy): the only
//! failures are an empty message and one that is not a message at all.
//! Owns `ParsedMail` and `MimeError`.

pub mod address;
pub mod body;
pub mod charset;
pub mod encoded_word;
pub mod headers;
pub mod html;
pub mod transfer;

pub use address::NamedAddress;
pub use body::Attachment;
pub use headers::Headers;

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

/// A message's header section and readable text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedMail {
    pub headers: Headers,
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
    let (head, body) = headers::split(raw);
    let headers = Headers::parse(head);
    if headers.is_empty() {
        return Err(MimeError::NoHeaders);
    }
    let extracted = body::extract(&headers, body);
    Ok(ParsedMail {
        headers,
        text: extracted.text,
        from_html: extracted.from_html,
        attachments: extracted.attachments,
        notes: extracted.notes,
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
    fn never_panics_on_garbage() {
        let samples: [&[u8]; 6] = [
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n--x--",
            b"Content-Type: text/plain; charset=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n====",
            b"Content-Type: multipart/alternative; boundary=\r\n\r\n--\r\n",
            b"A:\xff\xfe\r\n\r\n\xff",
            b"Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"x=\r\n",
            b"Content-Type: /\r\n\r\nx",
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
        fn structured_input_never_panics(s in "(From|To|Subject|Content-Type|Content-Transfer-Encoding|--b|=\\?|<a href|&#|>|\\r\\n|[ -~]|é){0,80}") {
            let with_mime = format!("Content-Type: multipart/mixed; boundary=b\r\n\r\n{s}");
            let _ = parse(with_mime.as_bytes());
            let _ = html::to_text(&s);
            let _ = encoded_word::decode(&s);
            let _ = address::parse_list(&s);
            let _ = super::super::quoting::clean(&s);
        }
    }
}
