//! Status-link tokens: the `token` query parameter of
//! `/support/tickets/{id}?token=…` and `GET /support/api/tickets/{id}`,
//! which lets whoever submitted a form read that ticket's status and
//! replies without an account. Owns `StatusTokenKey`, `issue`, `verify`
//! and `TokenError`.
//!
//! Scheme (version 1):
//!
//! ```text
//! tag   = HMAC-SHA256(server secret, "webform-status:v1:" ‖ ticket id's 16 bytes)[..16]
//! token = base64url without padding (ticket id's 16 bytes ‖ tag)   // 43 characters
//! ```
//!
//! The ticket id is a UUID in its RFC 9562 byte order. The 128-bit tag is
//! unforgeable without the secret; carrying the id as well keeps a token
//! self-describing (one token cannot be replayed on another ticket, and a
//! log line with a token says which ticket it was for). Verification
//! rebuilds the expected token and compares all 43 characters in constant
//! time, so id mismatch, tag mismatch and non-canonical base64 are the same
//! failure, found in the same time. Tokens do not expire: a ticket's link
//! works as long as the secret is kept. Rotating the secret invalidates
//! every link; the `v1` in the signed string leaves room for a new scheme.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use std::fmt;
use uuid::Uuid;

/// Length of every token, in characters.
pub const TOKEN_LEN: usize = 43;
/// Shortest secret accepted, in bytes (HMAC-SHA256's own output size).
pub const MIN_SECRET_BYTES: usize = 32;

const DOMAIN: &[u8] = b"webform-status:v1:";
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the status-link secret is {len} bytes; at least {MIN_SECRET_BYTES} are required")]
    WeakSecret { len: usize },
    #[error("the status link has no token")]
    Missing,
    #[error("the status-link token is not a {TOKEN_LEN}-character base64url string")]
    Malformed,
    #[error("the status-link token does not belong to this ticket")]
    Mismatch,
}

/// The server secret status links are signed with, ready for use.
#[derive(Clone)]
pub struct StatusTokenKey {
    key: hmac::Key,
}

impl fmt::Debug for StatusTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StatusTokenKey { secret: <redacted> }")
    }
}

impl StatusTokenKey {
    /// A key from the configured secret (random bytes, or a long random
    /// string's bytes). Shorter than 32 bytes is refused.
    pub fn new(secret: &[u8]) -> Result<Self, TokenError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(TokenError::WeakSecret { len: secret.len() });
        }
        Ok(Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret) })
    }

    fn token_bytes(&self, ticket_id: Uuid) -> [u8; 16 + TAG_LEN] {
        let mut signed = Vec::with_capacity(DOMAIN.len() + 16);
        signed.extend_from_slice(DOMAIN);
        signed.extend_from_slice(ticket_id.as_bytes());
        let tag = hmac::sign(&self.key, &signed);
        let mut out = [0u8; 16 + TAG_LEN];
        out[..16].copy_from_slice(ticket_id.as_bytes());
        out[16..].copy_from_slice(&tag.as_ref()[..TAG_LEN]);
        out
    }
}

/// The token for `ticket_id`'s status link (43 URL-safe characters).
pub fn issue(key: &StatusTokenKey, ticket_id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(key.token_bytes(ticket_id))
}

/// Checks that `token` is the one `issue` gives for `ticket_id`.
/// Surrounding whitespace is not tolerated: the token is used as sent.
pub fn verify(key: &StatusTokenKey, ticket_id: Uuid, token: &str) -> Result<(), TokenError> {
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    let well_formed =
        token.len() == TOKEN_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(TokenError::Malformed);
    }
    let expected = issue(key, ticket_id);
    // Constant-time (the lengths are public: every token has 43 characters).
    if bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), token.as_bytes())) {
        Ok(())
    } else {
        Err(TokenError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn id() -> Uuid {
        Uuid::parse_str("0196b3f2-7c1e-7a3b-9d4e-5f6a7b8c9d0e").unwrap()
    }

    fn key() -> StatusTokenKey {
        StatusTokenKey::new(SECRET).unwrap()
    }

    #[test]
    fn known_answer() {
        // Python: base64.urlsafe_b64encode(u.bytes + hmac.new(secret,
        // b"webform-status:v1:" + u.bytes, sha256).digest()[:16]).rstrip(b"=")
        assert_eq!(issue(&key(), id()), "AZaz8nweejudTl9qe4ydDhvbaJ5A6OLWy0jjTzAObmg");
    }

    #[test]
    fn round_trip() {
        for ticket in [id(), Uuid::nil(), Uuid::max(), Uuid::now_v7(), Uuid::new_v4()] {
            let token = issue(&key(), ticket);
            assert_eq!(token.len(), TOKEN_LEN);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
            assert_eq!(verify(&key(), ticket, &token), Ok(()));
        }
    }

    #[test]
    fn tampering_is_refused() {
        let token = issue(&key(), id());
        // Another ticket, another secret.
        assert_eq!(verify(&key(), Uuid::new_v4(), &token), Err(TokenError::Mismatch));
        let other = StatusTokenKey::new(b"another secret, also 32 bytes long").unwrap();
        assert_eq!(verify(&other, id(), &token), Err(TokenError::Mismatch));
        // Every single-character change.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            assert_eq!(verify(&key(), id(), &changed), Err(TokenError::Mismatch), "position {i}");
        }
        // A token for another ticket, with this ticket's id spliced in.
        let foreign = URL_SAFE_NO_PAD.decode(issue(&key(), Uuid::nil())).unwrap();
        let mut spliced = id().as_bytes().to_vec();
        spliced.extend_from_slice(&foreign[16..]);
        assert_eq!(verify(&key(), id(), &URL_SAFE_NO_PAD.encode(spliced)), Err(TokenError::Mismatch));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let token = issue(&key(), id());
        assert_eq!(verify(&key(), id(), ""), Err(TokenError::Missing));
        for bad in [
            format!("{token}="),
            format!(" {token}"),
            token[..42].to_string(),
            format!("{}+", &token[..42]),
            format!("{}/", &token[..42]),
            format!("{}é", &token[..41]),
            "x".repeat(10_000),
        ] {
            assert_eq!(verify(&key(), id(), &bad), Err(TokenError::Malformed), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics(token in "\\PC{0,60}") {
            proptest::prop_assert!(verify(&key(), id(), &token).is_err());
        }
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_secret() {
        assert_eq!(StatusTokenKey::new(b"").unwrap_err(), TokenError::WeakSecret { len: 0 });
        assert_eq!(StatusTokenKey::new(&SECRET[..31]).unwrap_err(), TokenError::WeakSecret { len: 31 });
        assert!(!format!("{:?}", key()).contains("0123"));
    }
}
