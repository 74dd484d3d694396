//! For tests and local fakes only: mints what Google would send, so the
//! project's integration tests and a local fake Pub/Sub can exercise the
//! real verification code. Signs RS256 JWTs with a PKCS#8 RSA key, builds
//! the matching JWK, the claims of a Pub/Sub push token, and a push body.
//! Production code never calls this; the keys it is meant for are the
//! test-only ones next to this file (`test_only_rsa_key_a.pk8`,
//! `test_only_rsa_key_b.pk8`, 2048-bit, generated with `openssl genrsa`
//! for this purpose and published in the repository — never trust them).
//! Owns `TestkitError`.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TestkitError {
    #[error("not a PKCS#8 RSA private key: {0}")]
    BadKey(String),
    #[error("RSA signing failed")]
    SigningFailed,
}

fn key_pair(pkcs8_der: &[u8]) -> Result<RsaKeyPair, TestkitError> {
    RsaKeyPair::from_pkcs8(pkcs8_der).map_err(|e| TestkitError::BadKey(e.to_string()))
}

/// A compact RS256 JWT of `claims`, with header `{"alg":"RS256","kid":…,"typ":"JWT"}`.
pub fn sign_rs256_jwt(pkcs8_der: &[u8], kid: &str, claims: &Value) -> Result<String, TestkitError> {
    let pair = key_pair(pkcs8_der)?;
    let header = json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig)
        .map_err(|_| TestkitError::SigningFailed)?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The public JWK of a key, shaped like Google's certs entries.
pub fn jwk_for_key(pkcs8_der: &[u8], kid: &str) -> Result<Value, TestkitError> {
    let pair = key_pair(pkcs8_der)?;
    let public: PublicKeyComponents<Vec<u8>> = pair.public().into();
    Ok(json!({
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(&public.n),
        "e": URL_SAFE_NO_PAD.encode(&public.e),
    }))
}

/// A JWKS document (`{"keys": [...]}`) holding one key.
pub fn jwks_json(pkcs8_der: &[u8], kid: &str) -> Result<String, TestkitError> {
    Ok(json!({ "keys": [jwk_for_key(pkcs8_der, kid)?] }).to_string())
}

/// The claims of a Pub/Sub push token, as Google issues them.
pub fn push_claims(audience: &str, service_account: &str, issued_at: i64, expires_at: i64) -> Value {
    json!({
        "aud": audience,
        "azp": "113774264463038321964",
        "email": service_account,
        "email_verified": true,
        "exp": expires_at,
        "iat": issued_at,
        "iss": "https://accounts.google.com",
        "sub": "113774264463038321964",
    })
}

/// A Pub/Sub push body carrying a Gmail notification.
pub fn push_body(mailbox: &str, history_id: u64, push_message_id: &str) -> String {
    let data = STANDARD.encode(json!({"emailAddress": mailbox, "historyId": history_id}).to_string());
    json!({
        "message": {
            "attributes": {},
            "data": data,
            "messageId": push_message_id,
            "message_id": push_message_id,
            "publishTime": "2024-05-01T09:30:00.000Z",
            "publish_time": "2024-05-01T09:30:00.000Z",
        },
        "subscription": "projects/test-project/subscriptions/gmail-push",
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_usable_fixtures() {
        let key = include_bytes!("test_only_rsa_key_a.pk8");
        let t = sign_rs256_jwt(key, "k1", &json!({"a": 1})).unwrap();
        assert_eq!(t.split('.').count(), 3);
        let jwks = jwks_json(key, "k1").unwrap();
        assert!(super::super::jwt::Jwks::parse(jwks.as_bytes()).is_ok());
        assert!(matches!(sign_rs256_jwt(b"junk", "k", &json!({})), Err(TestkitError::BadKey(_))));
        let n = super::super::push::GmailNotification::parse(push_body("a@b.co", 5, "m1").as_bytes()).unwrap();
        assert_eq!((n.history_id, n.push_message_id.as_str()), (5, "m1"));
    }
}
