//! Content-Transfer-Encodings for the bodies we send (RFC 2045 §6):
//! quoted-printable and base64, in lines of at most 76 characters, CRLF.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Encodes text as quoted-printable with CRLF line ends and soft breaks
/// keeping every line within 76 characters.
pub fn encode_qp(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let lines: Vec<&str> = text.split('\n').collect();
    for (n, line) in lines.iter().enumerate() {
        let bytes = line.strip_suffix('\r').unwrap_or(line).as_bytes();
        let mut width = 0;
        for (k, &b) in bytes.iter().enumerate() {
            let last = k + 1 == bytes.len();
            let token = match b {
                b' ' | b'\t' if !last => (b as char).to_string(),
                33..=126 if b != b'=' => (b as char).to_string(),
                _ => format!("={b:02X}"),
            };
            if width + token.len() > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            width += token.len();
            out.push_str(&token);
        }
        if n + 1 < lines.len() {
            out.push_str("\r\n");
        }
    }
    out
}

/// Encodes bytes as base64 in CRLF-terminated lines of 76 characters.
pub fn encode_base64_lines(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::gmail::mime::parse;

    /// A body in `encoding` as a reader decodes it.
    fn decoded(body: &str, encoding: &str) -> String {
        let raw = format!(
            "From: a@b.c\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{body}"
        );
        parse(raw.as_bytes()).unwrap().text.unwrap_or_default()
    }

    #[test]
    fn encodes_quoted_printable_within_76_columns() {
        assert_eq!(encode_qp("café = ok"), "caf=C3=A9 =3D ok");
        assert_eq!(encode_qp("trailing space \nnext"), "trailing space=20\r\nnext");
        let long = "é".repeat(60);
        let enc = encode_qp(&long);
        assert!(enc.split("\r\n").all(|l| l.len() <= 76), "{enc}");
        assert_eq!(decoded(&enc, "quoted-printable"), long);
        let text = "Hello Marisol,\n\nYour refund of €20 — done ✓. ".to_string() + &"x".repeat(200);
        let enc = encode_qp(&text);
        assert!(enc.split("\r\n").all(|l| l.len() <= 76));
        assert_eq!(decoded(&enc, "quoted-printable"), text);
    }

    #[test]
    fn base64_round_trips_in_lines() {
        let text = "Grüße ✓ ".repeat(30);
        let enc = encode_base64_lines(text.as_bytes());
        assert!(enc.split("\r\n").all(|l| l.len() <= 76));
        assert_eq!(decoded(&enc, "Base64"), text);
    }
}
