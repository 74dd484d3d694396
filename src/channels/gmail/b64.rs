//! Lenient base64 decoding for everything Google hands us: Pub/Sub
//! `message.data` (standard alphabet, padded), Gmail `raw` (base64url,
//! RFC 4648 §5) and the numbers of Google's signing keys (JWK `n` and
//! `e`, base64url without padding). One decoder accepts both alphabets,
//! with or without padding, so a provider
//! switching spelling never breaks the adapter.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64 in the standard or URL-safe alphabet, padded or not,
/// ignoring ASCII whitespace. Fails on any other character.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    let mut clean = Vec::with_capacity(input.len());
    for &b in input {
        match b {
            b'-' => clean.push(b'+'),
            b'_' => clean.push(b'/'),
            b'=' | b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => clean.push(b),
        }
    }
    LENIENT.decode(&clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_alphabets_with_or_without_padding() {
        // "??>" is 0x3f 0x3f 0x3e: "Pz8+" standard, "Pz8-" URL-safe.
        for s in ["Pz8+", "Pz8-", "Pz8+\r\n"] {
            assert_eq!(decode(s.as_bytes()).unwrap(), b"??>");
        }
        for s in ["aGk=", "aGk", "a G k ="] {
            assert_eq!(decode(s.as_bytes()).unwrap(), b"hi");
        }
        assert!(decode(b"a*b=").is_err());
    }
}
