//! Turning a MIME part's bytes into text by its declared charset (RFC 2046
//! §4.1.2): UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and windows-1252 are
//! decoded exactly; any other charset is decoded as lossy UTF-8 and a note
//! says so, so that an odd charset degrades a message instead of losing it.

/// Decodes `bytes` as `charset` (case-insensitive; `None` means US-ASCII).
/// The second value is a note when the decoding was a guess.
pub fn decode(bytes: &[u8], charset: Option<&str>) -> (String, Option<String>) {
    let cs = charset.map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).unwrap_or_default();
    match cs.as_str() {
        "" | "us-ascii" | "ascii" | "utf-8" | "utf8" | "ansi_x3.4-1968" => match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), None),
            // Mislabelled 8-bit text is far more often windows-1252 than not.
            Err(_) if cs != "utf-8" && cs != "utf8" => (windows_1252(bytes), None),
            Err(_) => {
                (String::from_utf8_lossy(bytes).into_owned(), Some("invalid UTF-8 replaced with U+FFFD".to_string()))
            }
        },
        "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "latin-1" | "l1" | "windows-1252" | "cp1252" => {
            // Every mail client sends windows-1252 labelled as Latin-1
            // (WHATWG Encoding treats them as one).
            (windows_1252(bytes), None)
        }
        "iso-8859-15" | "iso8859-15" | "latin-9" | "latin9" => (latin9(bytes), None),
        other => (
            String::from_utf8_lossy(bytes).into_owned(),
            Some(format!("charset {other:?} is not supported; decoded as UTF-8 with replacements")),
        ),
    }
}

/// windows-1252's 0x80..=0x9F (the rest is Latin-1). Undefined bytes map to
/// the C1 control of the same value, as WHATWG does.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘', '’',
    '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

fn windows_1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9f => CP1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

fn latin9(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0xa4 => '€',
            0xa6 => 'Š',
            0xa8 => 'š',
            0xb4 => 'Ž',
            0xb8 => 'ž',
            0xbc => 'Œ',
            0xbd => 'œ',
            0xbe => 'Ÿ',
            _ => char::from(b),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_known_charsets() {
        assert_eq!(decode("héllo".as_bytes(), Some("UTF-8")), ("héllo".to_string(), None));
        assert_eq!(decode(b"h\xe9llo", Some("ISO-8859-1")), ("héllo".to_string(), None));
        assert_eq!(decode(b"\x93quoted\x94 \x80", Some("windows-1252")), ("“quoted” €".to_string(), None));
        assert_eq!(decode(b"\xa4", Some("iso-8859-15")).0, "€");
        assert_eq!(decode(b"plain", None), ("plain".to_string(), None));
        // 8-bit bytes in "us-ascii": read as windows-1252.
        assert_eq!(decode(b"caf\xe9", Some("us-ascii")).0, "café");
    }

    #[test]
    fn other_charsets_are_lossy_with_a_note() {
        let (s, note) = decode(b"ok \xff", Some("koi8-r"));
        assert_eq!(s, "ok \u{fffd}");
        assert!(note.unwrap().contains("koi8-r"));
        let (s, note) = decode(b"\xff", Some("utf-8"));
        assert_eq!(s, "\u{fffd}");
        assert!(note.is_some());
    }
}
