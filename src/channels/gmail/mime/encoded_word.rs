//! RFC 2047 encoded words in headers (`=?UTF-8?B?…?=`, `=?iso-8859-1?Q?…?=`):
//! decoding for Subject, display names and filenames, and encoding for
//! the Subject and display names we send. Adjacent encoded words are
//! joined without the whitespace between them (§6.2), and their bytes are
//! concatenated before charset decoding, since clients split multi-byte
//! UTF-8 characters across words.

use super::super::b64;
use super::charset;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

enum Segment<'a> {
    Text(&'a str),
    Word { charset: String, bytes: Vec<u8> },
}

/// Decodes every encoded word in a header value; text that is not a
/// well-formed encoded word is kept as is.
pub fn decode(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let mut segments = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        match parse_word(&rest[start..]) {
            Some((charset, bytes, len)) => {
                if start > 0 {
                    segments.push(Segment::Text(&rest[..start]));
                }
                segments.push(Segment::Word { charset, bytes });
                rest = &rest[start + len..];
            }
            None => {
                segments.push(Segment::Text(&rest[..start + 2]));
                rest = &rest[start + 2..];
            }
        }
    }
    if !rest.is_empty() {
        segments.push(Segment::Text(rest));
    }
    let mut out = String::with_capacity(value.len());
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut i = 0;
    while i < segments.len() {
        match &segments[i] {
            Segment::Word { charset, bytes } => match &mut pending {
                Some((cs, buf)) if cs.eq_ignore_ascii_case(charset) => buf.extend_from_slice(bytes),
                _ => {
                    flush(&mut out, pending.take());
                    pending = Some((charset.clone(), bytes.clone()));
                }
            },
            Segment::Text(t) => {
                let between_words = t.chars().all(char::is_whitespace)
                    && pending.is_some()
                    && matches!(segments.get(i + 1), Some(Segment::Word { .. }));
                if !between_words {
                    flush(&mut out, pending.take());
                    out.push_str(t);
                }
            }
        }
        i += 1;
    }
    flush(&mut out, pending);
    out
}

fn flush(out: &mut String, pending: Option<(String, Vec<u8>)>) {
    if let Some((cs, bytes)) = pending {
        out.push_str(&charset::decode(&bytes, Some(&cs)).0);
    }
}

/// Parses `=?charset?enc?text?=` at the start of `s`: charset (without any
/// RFC 2231 `*lang`), decoded bytes, and the word's length.
fn parse_word(s: &str) -> Option<(String, Vec<u8>, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, rest) = inner.split_once('?')?;
    let (enc, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let text = &rest[..end];
    if charset.is_empty() || text.contains(char::is_whitespace) || charset.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match enc {
        "B" | "b" => b64::decode(text.as_bytes()).ok()?,
        "Q" | "q" => decode_q(text.as_bytes()),
        _ => return None,
    };
    let charset = charset.split('*').next().unwrap_or(charset).to_string();
    let len = 2 + charset_len(inner) + 1 + enc.len() + 1 + end + 2;
    Some((charset, bytes, len))
}

fn charset_len(inner: &str) -> usize {
    inner.find('?').unwrap_or(0)
}

/// The Q encoding (§4.2): `_` is a space, `=XX` an octet.
fn decode_q(text: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = text.iter().map(|&b| if b == b'_' { b' ' } else { b }).collect();
    super::transfer::decode_qp(&spaced)
}

/// Whether a header value can go out as is: printable ASCII that does not
/// look like an encoded word.
fn is_plain_ascii(s: &str) -> bool {
    s.bytes().all(|b| (32..=126).contains(&b)) && !s.contains("=?")
}

/// Encodes `text` for a header as `=?UTF-8?B?…?=` words of at most 75
/// characters, separated by folding whitespace (`CRLF SP`), splitting only
/// between characters. Plain ASCII is returned unchanged.
pub fn encode(text: &str) -> String {
    if is_plain_ascii(text) {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        // 45 bytes make 60 base64 characters: 72 with the 12 of the wrapper.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
    }
    words.join("\r\n ")
}

/// A display name as an RFC 5322 phrase: as is when it is only atoms,
/// quoted (with `\` escapes) when it has specials, encoded when not ASCII.
pub fn encode_phrase(name: &str) -> String {
    if !is_plain_ascii(name) {
        return encode(name);
    }
    let atoms_only = name
        .split(' ')
        .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)));
    if atoms_only { name.to_string() } else { format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\"")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_b_and_q_words() {
        assert_eq!(decode("=?UTF-8?B?w4lsb8Ovc2U=?="), "Éloïse");
        assert_eq!(decode("=?iso-8859-1?Q?Fa=E7ade_caf=E9?="), "Façade café");
        assert_eq!(decode("Re: =?utf-8?q?Rechnung_f=C3=BCr_Mai?= (urgent)"), "Re: Rechnung für Mai (urgent)");
        assert_eq!(decode("=?UTF-8*en?Q?hi?="), "hi");
    }

    #[test]
    fn joins_adjacent_words_and_split_characters() {
        // "für" split inside the ü across two words, separated by folding.
        assert_eq!(decode("=?UTF-8?Q?f=C3?=\r\n =?UTF-8?Q?=BCr?="), "für");
        assert_eq!(decode("=?UTF-8?B?SGVs?= =?UTF-8?B?bG8=?="), "Hello");
        // Whitespace between a word and plain text is kept.
        assert_eq!(decode("=?UTF-8?Q?a?= b"), "a b");
    }

    #[test]
    fn leaves_malformed_words_alone() {
        for s in ["=?", "=?utf-8?X?abc?=", "=?utf-8?Q?a b?=", "a =? b", "=??Q?x?=", "=?utf-8?B?***?="] {
            assert_eq!(decode(s), s, "{s:?}");
        }
    }

    #[test]
    fn encodes_non_ascii_into_short_words() {
        assert_eq!(encode("Re: Invoice"), "Re: Invoice");
        assert_eq!(encode("Re: Façade"), "=?UTF-8?B?UmU6IEZhw6dhZGU=?=");
        let long = "Ünïcödé ".repeat(20);
        let enc = encode(&long);
        assert!(enc.split("\r\n ").all(|w| w.len() <= 75 && w.starts_with("=?UTF-8?B?")), "{enc}");
        assert_eq!(decode(&enc), long);
        // Something that looks like an encoded word is encoded itself.
        assert!(encode("=?x?Q?y?=").starts_with("=?UTF-8?B?"));
    }

    #[test]
    fn encodes_phrases() {
        assert_eq!(encode_phrase("Acme Support"), "Acme Support");
        assert_eq!(encode_phrase("Doe, Jane"), "\"Doe, Jane\"");
        assert_eq!(encode_phrase("Say \"hi\""), "\"Say \\\"hi\\\"\"");
        assert_eq!(encode_phrase("Zoë"), "=?UTF-8?B?Wm/Dqw==?=");
    }
}
