//! `X-Hub-Signature-256` verification for Meta webhook POSTs. Meta signs
//! the raw request body with the app's App Secret and sends
//! `sha256=<lowercase hex HMAC-SHA256>` (Meta "Webhooks — Getting started:
//! Validating payloads"; the same check as Meta's WhatsApp Node.js SDK,
//! `whatsapp.github.io/WhatsApp-Nodejs-SDK/api-reference/webhooks/start`).
//! The check must run on the bytes exactly as received, before any JSON
//! parsing: a re-serialised body (different escaping of non-ASCII text,
//! different spacing) would not match. Owns `AppSecret`,
//! `SIGNATURE_HEADER` and `SignatureError`.
//!
//! HMAC-SHA256 comes from `ring` (the project's `hmac` 0.13 belongs to the
//! `digest` 0.11 family, its `sha2` to 0.10); it is checked against RFC 4231
//! vectors and Python's `hmac`.

use std::fmt;

/// The header Meta puts the signature in (HTTP header names are
/// case-insensitive; servers often hand it over as `x-hub-signature-256`).
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

const PREFIX: &str = "sha256=";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the Meta App Secret is empty")]
    EmptySecret,
    #[error("the request has no X-Hub-Signature-256 header")]
    Missing,
    #[error("X-Hub-Signature-256 is not of the form sha256=<64 hex digits>")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match the request body (wrong App Secret, or the body was altered)")]
    Mismatch,
}

/// A Meta app's App Secret, the HMAC key of its webhook signatures. Never
/// shown in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AppSecret(String);

impl fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppSecret(<redacted>)")
    }
}

impl AppSecret {
    /// An empty secret is refused: anyone could sign with it.
    pub fn new(secret: &str) -> Result<Self, SignatureError> {
        if secret.is_empty() {
            return Err(SignatureError::EmptySecret);
        }
        Ok(Self(secret.to_string()))
    }

    /// The header value Meta would send for `body`: `sha256=` and the
    /// lowercase hex HMAC-SHA256 (useful to sign test requests).
    pub fn sign(&self, body: &[u8]) -> String {
        let mac = hmac_sha256(self.0.as_bytes(), body);
        let mut out = String::with_capacity(PREFIX.len() + 64);
        out.push_str(PREFIX);
        for b in mac {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
        out
    }

    /// Checks `header` (the `X-Hub-Signature-256` value, if the request had
    /// one) against the raw `body`. The digest comparison takes the same
    /// time wherever the first difference is. Hex digits are accepted in
    /// either case (Meta sends lowercase).
    pub fn verify(&self, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
        let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(SignatureError::Missing)?;
        let hex = header.strip_prefix(PREFIX).ok_or(SignatureError::Malformed)?;
        let given = decode_hex_32(hex).ok_or(SignatureError::Malformed)?;
        let expected = hmac_sha256(self.0.as_bytes(), body);
        if constant_time_eq(&given, &expected) { Ok(()) } else { Err(SignatureError::Mismatch) }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// HMAC-SHA256 (RFC 2104), by `ring`.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), message);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn decode_hex_32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = hex_val(pair[0])? << 4 | hex_val(pair[1])?;
    }
    Some(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// (key, message, HMAC-SHA256 hex). RFC 4231 test cases 2 and 6, and
    /// values from `python3 -c "import hmac,hashlib;print(hmac.new(K, M,
    /// hashlib.sha256).hexdigest())"`.
    fn vectors() -> Vec<(Vec<u8>, Vec<u8>, &'static str)> {
        vec![
            (b"secret".to_vec(), b"body".to_vec(), "dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355"),
            // The whatsapp_sdk (Elixir) documentation's example.
            (b"secret".to_vec(), b"test".to_vec(), "0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"),
            (
                b"test-app-secret".to_vec(),
                br#"{"object":"whatsapp_business_account","entry":[]}"#.to_vec(),
                "c84a394cc475525991e78ff16e430b02e47f953877d2af0ade26956ce6f384dc",
            ),
            (
                b"k".repeat(100),
                "Olá 👋 — ünïcode".as_bytes().to_vec(),
                "e527fc9c5c6b0c0aacb1eb4ccf61186e863fed5615074008db318975e1d7842f",
            ),
            (
                b"0123456789abcdef0123456789abcdef".to_vec(),
                Vec::new(),
                "796cd3078af14636753d26b3b5555422ff55a3e261cf847b48e95371b9bd0aa2",
            ),
            (b"k".repeat(64), b"x".to_vec(), "f91c4c403625fb06910ef93999265bbd2d62baeaec6ff36455498cc124fe3e66"),
            (b"k".repeat(65), b"x".to_vec(), "75092ca3ee2b307470c227697b42b3e65376aa3bae98fb5a1f7b7536daa9588a"),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ]
    }

    #[test]
    fn hmac_matches_known_answers() {
        for (key, msg, want) in vectors() {
            assert_eq!(hex(&hmac_sha256(&key, &msg)), want, "key len {}", key.len());
        }
    }

    #[test]
    fn accepts_meta_signatures() {
        for (key, msg, want) in vectors() {
            let Ok(key) = String::from_utf8(key) else { continue };
            let secret = AppSecret::new(&key).unwrap();
            let header = format!("sha256={want}");
            assert_eq!(secret.sign(&msg), header);
            assert_eq!(secret.verify(&msg, Some(&header)), Ok(()));
            assert_eq!(secret.verify(&msg, Some(&format!("  {header}\r\n"))), Ok(()));
            assert_eq!(secret.verify(&msg, Some(&format!("sha256={}", want.to_uppercase()))), Ok(()));
        }
    }

    #[test]
    fn rejects_missing_malformed_and_wrong_signatures() {
        let secret = AppSecret::new("secret").unwrap();
        let good = "sha256=dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355";
        assert_eq!(secret.verify(b"body", None), Err(SignatureError::Missing));
        assert_eq!(secret.verify(b"body", Some("  ")), Err(SignatureError::Missing));
        for bad in [
            "dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355",
            "sha1=dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355",
            "SHA256=dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355",
            "sha256=",
            "sha256=dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d35",
            "sha256=dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d3555",
            "sha256=zc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355",
            "sha256=dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d35é",
        ] {
            assert_eq!(secret.verify(b"body", Some(bad)), Err(SignatureError::Malformed), "{bad}");
        }
        assert_eq!(secret.verify(b"body ", Some(good)), Err(SignatureError::Mismatch));
        assert_eq!(secret.verify(b"Body", Some(good)), Err(SignatureError::Mismatch));
        let other = AppSecret::new("secret2").unwrap();
        assert_eq!(other.verify(b"body", Some(good)), Err(SignatureError::Mismatch));
        let zeros = format!("sha256={}", "0".repeat(64));
        assert_eq!(secret.verify(b"body", Some(&zeros)), Err(SignatureError::Mismatch));
    }

    #[test]
    fn large_and_binary_bodies_are_fine() {
        let secret = AppSecret::new("s").unwrap();
        let body: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        let header = secret.sign(&body);
        assert_eq!(secret.verify(&body, Some(&header)), Ok(()));
        assert_eq!(secret.verify(&body[1..], Some(&header)), Err(SignatureError::Mismatch));
    }

    #[test]
    fn empty_secret_is_refused_and_debug_is_redacted() {
        assert_eq!(AppSecret::new(""), Err(SignatureError::EmptySecret));
        let s = AppSecret::new("super-secret-value").unwrap();
        assert!(!format!("{s:?}").contains("super-secret-value"));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
