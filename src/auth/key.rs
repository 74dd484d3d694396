//! API keys: `fte_<prefix>_<secret>`, where the prefix (12 hex digits)
//! finds the row and the secret (32 random bytes, base64url) is stored only
//! as its SHA-256. Keys are random and long, so a fast hash is enough (as
//! for GitHub's tokens); the comparison is constant-time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

const SCHEME: &str = "fte";

/// A new key: shown to its creator once, stored as (prefix, hash).
pub struct NewKey {
    pub prefix: String,
    pub secret: String,
}

impl NewKey {
    pub fn generate() -> Result<Self, ring::error::Unspecified> {
        let rng = SystemRandom::new();
        let mut prefix = [0u8; 6];
        let mut secret = [0u8; 32];
        rng.fill(&mut prefix)?;
        rng.fill(&mut secret)?;
        Ok(Self { prefix: prefix.iter().map(|b| format!("{b:02x}")).collect(), secret: URL_SAFE_NO_PAD.encode(secret) })
    }

    /// The key as its holder presents it.
    pub fn token(&self) -> String {
        format!("{SCHEME}_{}_{}", self.prefix, self.secret)
    }

    pub fn hash(&self) -> String {
        hash_secret(&self.secret)
    }
}

/// SHA-256 of a secret, lowercase hex.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits a presented token into (prefix, secret), if it has the shape.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.trim().strip_prefix(SCHEME)?.strip_prefix('_')?;
    let (prefix, secret) = rest.split_once('_')?;
    let prefix_ok = prefix.len() == 12 && prefix.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = (40..=64).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (prefix_ok && secret_ok).then_some((prefix, secret))
}

/// Whether `secret` hashes to `stored` (constant-time in the hash).
pub fn matches(secret: &str, stored: &str) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(hash_secret(secret).as_bytes(), stored.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_only_their_secret_matches() {
        let key = NewKey::generate().unwrap();
        let token = key.token();
        let (prefix, secret) = parse_token(&token).unwrap();
        assert_eq!(prefix, key.prefix);
        assert!(matches(secret, &key.hash()));
        assert!(!matches("something-else-entirely-0000000000000000000", &key.hash()));
        assert_ne!(NewKey::generate().unwrap().token(), token);
        for bad in [
            "",
            "fte_",
            "Bearer x",
            "fte_zzzzzzzzzzzz_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "xyz_0123456789ab_aaaa",
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }
}
