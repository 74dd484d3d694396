//! Authenticating a Pub/Sub push: the OIDC ID token Pub/Sub puts in
//! `Authorization: Bearer <jwt>` when the subscription has push
//! authentication (cloud.google.com/pubsub/docs/authenticate-push-subscriptions).
//! The token is an RS256 JWT (RFC 7515/7519) signed by Google; its header's
//! `kid` names the key in Google's JWKS (`{"keys": [{"kid", "n", "e",
//! "kty": "RSA", "alg": "RS256", "use": "sig"}]}`, RFC 7517, served at
//! `GOOGLE_CERTS_URL`, which the caller fetches and caches).
//!
//! `jsonwebtoken` reads the JWKS entries, parses the token and checks its
//! RS256 signature. This module checks the rest. The header first, before
//! any key is used: `alg` is RS256 (`none`, HMAC and every other `alg` are
//! refused, and named in the error), no `crit`, a `kid` the JWKS holds
//! (an unknown one tells the caller to refetch the certs once). Then the
//! claims, against the caller's clock: `aud` is the audience configured on
//! the subscription, `iss` is `https://accounts.google.com` or
//! `accounts.google.com`, `email` is the subscription's service account
//! with `email_verified: true`, `exp` not past and `iat` not ahead (each
//! with a leeway). `jsonwebtoken`'s own claim checks are off: they read the
//! system clock, check no `iat`, and do not say which value was wrong.
//!
//! Owns `Jwks`, `PushTokenVerifier`, `PushClaims` and `JwtError`.

use super::b64;
use crate::domain::EmailAddress;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// Where Google publishes the keys signing its ID tokens (JWK format).
pub const GOOGLE_CERTS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// The `iss` values of a Google ID token.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// Clock skew tolerated on `exp` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECS: i64 = 60;

/// A Google ID token is about 1 KB; refuse anything absurd before decoding.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What `jsonwebtoken` checks: the RS256 signature (and that the header
/// says RS256). Every claim is `check_claims`'s.
static SIGNATURE_ONLY: LazyLock<Validation> = LazyLock::new(|| {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation
});

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the push request has no Authorization header (is push authentication enabled on the subscription?)")]
    MissingAuthorization,
    #[error("the Authorization header is not `Bearer <token>`")]
    NotBearer,
    #[error("the bearer token is not a well-formed JWT: {0}")]
    Malformed(&'static str),
    #[error("JWT algorithm {0:?} is refused: only RS256 is accepted")]
    UnsupportedAlgorithm(String),
    #[error("the JWT header has no key id (kid)")]
    MissingKeyId,
    #[error("no Google signing key has id {0:?}: refetch the certs once, then reject")]
    UnknownKey(String),
    #[error("the JWT signature does not verify with Google's key")]
    BadSignature,
    #[error("the JWT has no valid {0} claim")]
    MissingClaim(&'static str),
    #[error("JWT audience {got:?} is not the configured push audience {expected:?}")]
    WrongAudience { expected: String, got: String },
    #[error("JWT issuer {0:?} is not Google (accounts.google.com)")]
    WrongIssuer(String),
    #[error("JWT email {got:?} is not the push service account {expected:?}")]
    WrongEmail { expected: String, got: String },
    #[error("the JWT's email is not verified (email_verified is not true)")]
    EmailNotVerified,
    #[error("the JWT expired at {expired_at} (now {now}, unix seconds)")]
    Expired { expired_at: i64, now: i64 },
    #[error("the JWT was issued at {issued_at}, after now ({now}, unix seconds)")]
    IssuedInFuture { issued_at: i64, now: i64 },
    #[error("Google certs (JWKS): {0}")]
    BadJwks(String),
}

impl JwtError {
    /// Whether the token names a key the cached JWKS lacks: Google rotates
    /// keys, so refetch the certs once and verify again before rejecting.
    pub fn is_unknown_key(&self) -> bool {
        matches!(self, JwtError::UnknownKey(_))
    }

    /// What `jsonwebtoken` refuses in a token whose header passed
    /// `rs256_key_id`.
    fn from_library(e: &jsonwebtoken::errors::Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::Base64(_) => JwtError::Malformed("signature or claims are not base64url"),
            ErrorKind::Json(_) | ErrorKind::Utf8(_) => JwtError::Malformed("header or claims are not a JWT's JSON"),
            _ => JwtError::Malformed("not a JWS that jsonwebtoken accepts"),
        }
    }
}

/// One RSA signing key from the JWKS.
#[derive(Clone, Debug)]
struct RsaKey {
    kid: String,
    key: DecodingKey,
}

/// Google's signing keys, parsed from the certs document.
#[derive(Clone, Debug)]
pub struct Jwks {
    keys: Vec<RsaKey>,
}

impl Jwks {
    /// Parses a JWKS. Keys that are not RSA signing keys usable with RS256
    /// (or not JWKs at all) are skipped; a document with no usable key is an
    /// error.
    pub fn parse(body: &[u8]) -> Result<Self, JwtError> {
        let doc: Value = serde_json::from_slice(body).map_err(|e| JwtError::BadJwks(format!("not JSON: {e}")))?;
        let list =
            doc.get("keys").and_then(Value::as_array).ok_or_else(|| JwtError::BadJwks("no keys array".into()))?;
        let mut keys = Vec::new();
        for jwk in list.iter().filter_map(|k| Jwk::deserialize(k).ok()) {
            let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else { continue };
            let Some(kid) = &jwk.common.key_id else { continue };
            let for_signing = matches!(jwk.common.public_key_use, None | Some(PublicKeyUse::Signature));
            let for_rs256 = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
            if !(for_signing && for_rs256) {
                continue;
            }
            let (Ok(n), Ok(e)) = (b64::decode(rsa.n.as_bytes()), b64::decode(rsa.e.as_bytes())) else {
                return Err(JwtError::BadJwks(format!("key {kid:?} has a modulus or exponent that is not base64url")));
            };
            let key = DecodingKey::from_rsa_raw_components(strip_leading_zeros(&n), strip_leading_zeros(&e));
            keys.push(RsaKey { kid: kid.clone(), key });
        }
        if keys.is_empty() {
            return Err(JwtError::BadJwks("no RSA signing key".into()));
        }
        Ok(Self { keys })
    }

    /// The key ids, in document order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    fn find(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &k.key)
    }
}

/// The big-endian number without the zero bytes some JWKS publishers put
/// in front (RFC 7518 §6.3.1.1 says they must not).
fn strip_leading_zeros(v: &[u8]) -> &[u8] {
    let zeros = v.iter().take_while(|&&b| b == 0).count();
    &v[zeros..]
}

/// The verified claims of a push token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushClaims {
    pub email: String,
    pub subject: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// What a push token must say: the subscription's audience and service
/// account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTokenVerifier {
    audience: String,
    service_account: EmailAddress,
    leeway_secs: i64,
}

impl PushTokenVerifier {
    /// `audience` as configured on the push subscription (the endpoint URL
    /// if none was set); `service_account` the subscription's
    /// `serviceAccountEmail`.
    pub fn new(audience: &str, service_account: EmailAddress) -> Self {
        Self { audience: audience.to_string(), service_account, leeway_secs: DEFAULT_LEEWAY_SECS }
    }

    pub fn with_leeway_secs(mut self, secs: i64) -> Self {
        self.leeway_secs = secs.max(0);
        self
    }

    /// Checks a push request's `Authorization` header value.
    pub fn verify_header(
        &self,
        authorization: Option<&str>,
        jwks: &Jwks,
        now: DateTime<Utc>,
    ) -> Result<PushClaims, JwtError> {
        let header = authorization.map(str::trim).filter(|h| !h.is_empty()).ok_or(JwtError::MissingAuthorization)?;
        let (scheme, token) = header.split_once(' ').ok_or(JwtError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(JwtError::NotBearer);
        }
        self.verify_token(token.trim(), jwks, now)
    }

    /// Checks a bare JWT: header, key, signature, then claims.
    pub fn verify_token(&self, token: &str, jwks: &Jwks, now: DateTime<Utc>) -> Result<PushClaims, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::Malformed("longer than 16 KB"));
        }
        let kid = rs256_key_id(token)?;
        let key = jwks.find(&kid).ok_or(JwtError::UnknownKey(kid))?;
        let verified = jsonwebtoken::decode::<Map<String, Value>>(token, key, &SIGNATURE_ONLY)
            .map_err(|e| JwtError::from_library(&e))?;
        self.check_claims(&verified.claims, now.timestamp())
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: i64) -> Result<PushClaims, JwtError> {
        let iss = claims.get("iss").and_then(Value::as_str).ok_or(JwtError::MissingClaim("iss"))?;
        if !GOOGLE_ISSUERS.contains(&iss) {
            return Err(JwtError::WrongIssuer(iss.to_string()));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == &self.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(self.audience.as_str())),
            _ => return Err(JwtError::MissingClaim("aud")),
        };
        if !aud_ok {
            let got = claims.get("aud").map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_string));
            return Err(JwtError::WrongAudience { expected: self.audience.clone(), got: got.unwrap_or_default() });
        }
        let email = claims.get("email").and_then(Value::as_str).ok_or(JwtError::MissingClaim("email"))?;
        if !EmailAddress::parse(email).is_ok_and(|e| e == self.service_account) {
            return Err(JwtError::WrongEmail { expected: self.service_account.to_string(), got: email.to_string() });
        }
        let verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        if !verified {
            return Err(JwtError::EmailNotVerified);
        }
        let exp = numeric_date(claims, "exp")?;
        let iat = numeric_date(claims, "iat")?;
        if now > exp.saturating_add(self.leeway_secs) {
            return Err(JwtError::Expired { expired_at: exp, now });
        }
        if iat > now.saturating_add(self.leeway_secs) {
            return Err(JwtError::IssuedInFuture { issued_at: iat, now });
        }
        Ok(PushClaims {
            email: email.to_string(),
            subject: claims.get("sub").and_then(Value::as_str).map(str::to_string),
            issued_at: iat,
            expires_at: exp,
        })
    }
}

/// The `kid` of a token whose header is one this module accepts: three
/// segments, a base64url JSON object header, `alg` RS256, no `crit`. Read
/// here rather than with `jsonwebtoken::decode_header`, which fails to
/// parse an `alg` it does not know (`none`) instead of naming it.
fn rs256_key_id(token: &str) -> Result<String, JwtError> {
    let mut parts = token.split('.');
    let (Some(h64), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed("not three dot-separated parts"));
    };
    let header: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(h64)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(JwtError::Malformed("header is not base64url JSON"))?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or(JwtError::Malformed("header has no alg"))?;
    if alg != "RS256" {
        return Err(JwtError::UnsupportedAlgorithm(alg.to_string()));
    }
    if header.contains_key("crit") {
        return Err(JwtError::Malformed("header has critical extensions"));
    }
    header.get("kid").and_then(Value::as_str).map(str::to_string).ok_or(JwtError::MissingKeyId)
}

/// A NumericDate claim (RFC 7519 §2): seconds, possibly fractional.
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<i64, JwtError> {
    let v = claims.get(name).ok_or(JwtError::MissingClaim(name))?;
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f as i64))
        .ok_or(JwtError::MissingClaim(name))
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::TimeZone;
    use serde_json::json;

    const KEY_A: &[u8] = include_bytes!("test_only_rsa_key_a.pk8");
    const KEY_B: &[u8] = include_bytes!("test_only_rsa_key_b.pk8");
    const AUD: &str = "https://support.acme.test/gmail/push";
    const SA: &str = "gmail-push@acme-prod.iam.gserviceaccount.com";
    const NOW: i64 = 1_700_000_000;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(NOW, 0).unwrap()
    }

    fn jwks() -> Jwks {
        let a = testkit::jwk_for_key(KEY_A, "key-a").unwrap();
        let doc = json!({"keys": [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            a,
        ]});
        Jwks::parse(doc.to_string().as_bytes()).unwrap()
    }

    fn verifier() -> PushTokenVerifier {
        PushTokenVerifier::new(AUD, EmailAddress::parse(SA).unwrap())
    }

    fn claims() -> Value {
        testkit::push_claims(AUD, SA, NOW - 10, NOW + 3590)
    }

    fn token_with(claims: &Value) -> String {
        testkit::sign_rs256_jwt(KEY_A, "key-a", claims).unwrap()
    }

    fn verify(token: &str) -> Result<PushClaims, JwtError> {
        verifier().verify_token(token, &jwks(), now())
    }

    #[test]
    fn accepts_a_good_token() {
        let header = format!("Bearer {}", token_with(&claims()));
        let c = verifier().verify_header(Some(&header), &jwks(), now()).unwrap();
        assert_eq!(c.email, SA);
        assert_eq!(c.expires_at, NOW + 3590);
        assert_eq!(jwks().key_ids().collect::<Vec<_>>(), ["key-a"]);
        // The bare issuer spelling and the leeway at both ends.
        let mut c2 = claims();
        c2["iss"] = json!("accounts.google.com");
        c2["exp"] = json!(NOW - 30);
        c2["iat"] = json!(NOW + 30);
        c2["email_verified"] = json!("true");
        assert!(verify(&token_with(&c2)).is_ok());
    }

    #[test]
    fn rejects_wrong_claims() {
        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            verify(&token_with(&c))
        };
        assert!(matches!(with("aud", json!("https://evil.test/")), Err(JwtError::WrongAudience { .. })));
        assert_eq!(with("iss", json!("https://evil.test")), Err(JwtError::WrongIssuer("https://evil.test".into())));
        assert!(matches!(with("email", json!("other@x.iam.gserviceaccount.com")), Err(JwtError::WrongEmail { .. })));
        assert_eq!(with("email_verified", json!(false)), Err(JwtError::EmailNotVerified));
        assert_eq!(with("exp", json!(NOW - 61)), Err(JwtError::Expired { expired_at: NOW - 61, now: NOW }));
        assert_eq!(with("iat", json!(NOW + 61)), Err(JwtError::IssuedInFuture { issued_at: NOW + 61, now: NOW }));
        assert_eq!(with("exp", json!("soon")), Err(JwtError::MissingClaim("exp")));
        let mut c = claims();
        c.as_object_mut().unwrap().remove("email_verified");
        assert_eq!(verify(&token_with(&c)), Err(JwtError::EmailNotVerified));
        c.as_object_mut().unwrap().remove("aud");
        assert_eq!(verify(&token_with(&c)), Err(JwtError::MissingClaim("aud")));
        // An audience list holding ours is accepted (RFC 7519 §4.1.3).
        assert!(with("aud", json!(["x", AUD])).is_ok());
    }

    #[test]
    fn rejects_other_algorithms_before_touching_keys() {
        let c = URL_SAFE_NO_PAD.encode(claims().to_string());
        for alg in ["none", "HS256", "RS512", "PS256", "ES256"] {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "key-a", "typ": "JWT"}).to_string());
            for tail in ["", "c2ln"] {
                let t = format!("{h}.{c}.{tail}");
                assert_eq!(verify(&t), Err(JwtError::UnsupportedAlgorithm(alg.into())), "{alg}");
            }
        }
    }

    #[test]
    fn rejects_unknown_keys_and_bad_signatures() {
        let other_kid = testkit::sign_rs256_jwt(KEY_A, "key-z", &claims()).unwrap();
        let err = verify(&other_kid).unwrap_err();
        assert!(err.is_unknown_key(), "{err}");
        // Signed by another key under the known kid.
        let forged = testkit::sign_rs256_jwt(KEY_B, "key-a", &claims()).unwrap();
        assert_eq!(verify(&forged), Err(JwtError::BadSignature));
        // Claims changed after signing.
        let good = token_with(&claims());
        let mut parts: Vec<&str> = good.split('.').collect();
        let mut evil = claims();
        evil["email"] = json!("attacker@evil.test");
        let evil = URL_SAFE_NO_PAD.encode(evil.to_string());
        parts[1] = &evil;
        assert_eq!(verify(&parts.join(".")), Err(JwtError::BadSignature));
        // One signature bit flipped.
        let (head, sig) = good.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        sig[10] ^= 1;
        assert_eq!(verify(&format!("{head}.{}", URL_SAFE_NO_PAD.encode(sig))), Err(JwtError::BadSignature));
        let no_kid = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
        assert_eq!(verify(&format!("{no_kid}.{}.", parts[1])), Err(JwtError::MissingKeyId));
    }

    #[test]
    fn rejects_critical_headers_and_segments_jsonwebtoken_cannot_read() {
        let good = token_with(&claims());
        let (head, _) = good.rsplit_once('.').unwrap();
        assert_eq!(verify(&format!("{head}.*")), Err(JwtError::Malformed("signature or claims are not base64url")));
        // Signed with Google's key, but the claims are not a JSON object.
        let list = testkit::sign_rs256_jwt(KEY_A, "key-a", &json!([1])).unwrap();
        assert_eq!(verify(&list), Err(JwtError::Malformed("header or claims are not a JWT's JSON")));
        let crit = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "key-a", "crit": ["exp"]}).to_string());
        let (_, rest) = good.split_once('.').unwrap();
        assert_eq!(verify(&format!("{crit}.{rest}")), Err(JwtError::Malformed("header has critical extensions")));
    }

    #[test]
    fn rejects_malformed_headers_and_tokens() {
        let v = verifier();
        assert_eq!(v.verify_header(None, &jwks(), now()), Err(JwtError::MissingAuthorization));
        assert_eq!(v.verify_header(Some("  "), &jwks(), now()), Err(JwtError::MissingAuthorization));
        assert_eq!(v.verify_header(Some("Basic abc"), &jwks(), now()), Err(JwtError::NotBearer));
        assert_eq!(v.verify_header(Some("Bearer"), &jwks(), now()), Err(JwtError::NotBearer));
        for t in ["", "a.b", "a.b.c.d", "!!.e30.x", "e30.e30.x", "WzFd.e30.x"] {
            assert!(matches!(verify(t), Err(JwtError::Malformed(_))), "{t:?}");
        }
        assert!(matches!(verify(&"a".repeat(20_000)), Err(JwtError::Malformed(_))));
    }

    #[test]
    fn parses_and_rejects_jwks_documents() {
        assert!(matches!(Jwks::parse(b"nope"), Err(JwtError::BadJwks(_))));
        assert!(matches!(Jwks::parse(b"{}"), Err(JwtError::BadJwks(_))));
        assert!(matches!(Jwks::parse(br#"{"keys":[]}"#), Err(JwtError::BadJwks(_))));
        let enc_only = br#"{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB","use":"enc"}]}"#;
        assert!(matches!(Jwks::parse(enc_only), Err(JwtError::BadJwks(_))));
        let bad_n = br#"{"keys":[{"kty":"RSA","kid":"k","n":"*","e":"AQAB"}]}"#;
        assert!(matches!(Jwks::parse(bad_n), Err(JwtError::BadJwks(_))));
        // Google's own shape, with a leading zero byte on n (tolerated).
        let jwk = testkit::jwk_for_key(KEY_A, "k").unwrap();
        let mut n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        n.insert(0, 0);
        let doc = json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k",
            "n": URL_SAFE_NO_PAD.encode(n), "e": jwk["e"]}]});
        let jwks = Jwks::parse(doc.to_string().as_bytes()).unwrap();
        let t = testkit::sign_rs256_jwt(KEY_A, "k", &claims()).unwrap();
        assert!(verifier().verify_token(&t, &jwks, now()).is_ok());
    }
}
