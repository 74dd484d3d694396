//! Content-Transfer-Encodings (RFC 2045 §6): decoding `quoted-printable`
//! (soft line breaks `=` CRLF, `=XX` octets; malformed escapes are kept
//! literally, as §6.7 recommends) and `base64`; encoding quoted-printable
//! and base64 for outgoing bodies (lines of at most 76 characters, CRLF).

use super::super::b64;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Decodes a body by its `Content-Transfer-Encoding` (`7bit`, `8bit`,
/// `binary` and unknown values pass through).
pub fn decode_body(body: &[u8], encoding: Option<&str>) -> Vec<u8> {
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        Some("base64") => b64::decode_mime(body),
        Some("quoted-printable") => decode_qp(body),
        _ => body.to_vec(),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7), lenient about lowercase hex
/// and whitespace between a soft break's `=` and the line end.
pub fn decode_qp(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        // Soft line break: "=" [spaces] ("\r\n" | "\n" | end).
        let mut j = i + 1;
        while matches!(input.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        match (input.get(j), input.get(j + 1)) {
            (None, _) => {
                i = j;
                continue;
            }
            (Some(b'\n'), _) => {
                i = j + 1;
                continue;
            }
            (Some(b'\r'), Some(b'\n')) => {
                i = j + 2;
                continue;
            }
            _ => {}
        }
        match (input.get(i + 1).copied().and_then(hex), input.get(i + 2).copied().and_then(hex)) {
            (Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

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

    #[test]
    fn decodes_quoted_printable() {
        assert_eq!(decode_qp(b"caf=C3=A9 =3D ok"), "café = ok".as_bytes());
        // Soft breaks with CRLF, LF, trailing spaces, and at the very end.
        assert_eq!(decode_qp(b"long li=\r\nne, an=\nd mo=  \r\nre="), b"long line, and more");
        // Malformed escapes stay literal; lowercase hex is accepted.
        assert_eq!(decode_qp(b"a=ZZ b=4 c=e9"), b"a=ZZ b=4 c\xe9");
        assert_eq!(decode_qp(b"=\r"), b"=\r");
    }

    #[test]
    fn encodes_quoted_printable_within_76_columns() {
        assert_eq!(encode_qp("café = ok"), "caf=C3=A9 =3D ok");
        assert_eq!(encode_qp("trailing space \nnext"), "trailing space=20\r\nnext");
        let long = "é".repeat(60);
        let enc = encode_qp(&long);
        assert!(enc.split("\r\n").all(|l| l.len() <= 76), "{enc}");
        assert_eq!(decode_qp(enc.as_bytes()), long.as_bytes());
        let text = "Hello Marisol,\r\n\r\nYour refund of €20 — done ✓. ".to_string() + &"x".repeat(200);
        let enc = encode_qp(&text);
        assert!(enc.split("\r\n").all(|l| l.len() <= 76));
        assert_eq!(String::from_utf8(decode_qp(enc.as_bytes())).unwrap(), text);
    }

    #[test]
    fn base64_round_trips_in_lines() {
        let data = vec![7u8; 200];
        let enc = encode_base64_lines(&data);
        assert!(enc.split("\r\n").all(|l| l.len() <= 76));
        assert_eq!(decode_body(enc.as_bytes(), Some("Base64")), data);
        assert_eq!(decode_body(b"as is", Some("8bit")), b"as is");
    }
}
