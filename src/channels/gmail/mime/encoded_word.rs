//! RFC 2047 encoded words for the headers we send: the Subject and display
//! names as `=?UTF-8?B?…?=` words when they are not plain ASCII, and RFC
//! 5322 phrases (quoted when they hold specials) otherwise.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

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
    use crate::channels::gmail::mime::parse;

    /// `value` as a reader decodes it in a Subject header.
    fn decoded(value: &str) -> String {
        let m = parse(format!("From: a@b.c\r\nSubject: {value}\r\n\r\n").as_bytes()).unwrap();
        m.subject.unwrap_or_default()
    }

    #[test]
    fn encodes_non_ascii_into_short_words() {
        assert_eq!(encode("Re: Invoice"), "Re: Invoice");
        assert_eq!(encode("Re: Façade"), "=?UTF-8?B?UmU6IEZhw6dhZGU=?=");
        let long = "Ünïcödé ".repeat(20);
        let enc = encode(&long);
        assert!(enc.split("\r\n ").all(|w| w.len() <= 75 && w.starts_with("=?UTF-8?B?")), "{enc}");
        assert_eq!(decoded(&enc), long);
        // Something that looks like an encoded word is encoded itself.
        assert!(encode("=?x?Q?y?=").starts_with("=?UTF-8?B?"));
        assert_eq!(decoded(&encode("=?x?Q?y?=")), "=?x?Q?y?=");
    }

    #[test]
    fn encodes_phrases() {
        assert_eq!(encode_phrase("Acme Support"), "Acme Support");
        assert_eq!(encode_phrase("Doe, Jane"), "\"Doe, Jane\"");
        assert_eq!(encode_phrase("Say \"hi\""), "\"Say \\\"hi\\\"\"");
        assert_eq!(encode_phrase("Zoë"), "=?UTF-8?B?Wm/Dqw==?=");
    }
}
