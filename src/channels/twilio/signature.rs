//! `X-Twilio-Signature` verification, matching twilio-python's
//! `RequestValidator` (9.x): the signed string is the full URL followed, for
//! a form post, by every parameter name (sorted, each once) with each of its
//! values (sorted, each once) appended; the signature is the base64 of its
//! HMAC-SHA1 under the account's Auth Token. Like the SDK, a request passes
//! if the signature matches the URL with its port removed or the URL with
//! the scheme's default port (443 for https, 80 otherwise) added, since
//! Twilio signs either spelling. A JSON post carries `bodySHA256` (hex
//! SHA-256 of the raw body) in the URL's query: the signature covers the URL
//! alone and the body must hash to that value. Owns `RequestValidator` and
//! `SignatureError`.
//!
//! Deviations from the SDK, all on inputs Twilio does not produce: the URL
//! is used as given apart from its port (Python re-serialises it through
//! `urlparse`, which e.g. drops a bare trailing `?`); the port is found
//! after any `user:pass@` and outside IPv6 brackets (Python splits the
//! netloc at its first `:`); and a JSON post without `bodySHA256` is refused
//! (Python would then sign the body's characters as parameter names).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The header Twilio puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

type HmacSha1 = Hmac<Sha1>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the Twilio Auth Token is empty")]
    EmptyAuthToken,
    #[error("the request has no X-Twilio-Signature")]
    Missing,
    #[error("X-Twilio-Signature is not a base64 HMAC-SHA1")]
    Malformed,
    #[error("the webhook URL {0:?} is not an absolute http(s) URL")]
    BadUrl(String),
    #[error("X-Twilio-Signature does not match the request")]
    Mismatch,
    #[error("a JSON webhook's URL has no bodySHA256 parameter")]
    BodyHashMissing,
    #[error("the request body does not match the URL's bodySHA256")]
    BodyHashMismatch,
}

/// Checks webhook signatures for one Twilio account (or subaccount).
#[derive(Clone)]
pub struct RequestValidator {
    mac: HmacSha1,
}

impl fmt::Debug for RequestValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestValidator { auth_token: <redacted> }")
    }
}

impl RequestValidator {
    /// A validator for the account whose Auth Token is `auth_token`. An
    /// empty token is refused: anyone could sign with it.
    pub fn new(auth_token: &str) -> Result<Self, SignatureError> {
        if auth_token.is_empty() {
            return Err(SignatureError::EmptyAuthToken);
        }
        // HMAC takes a key of any length; the error cannot happen.
        let mac = HmacSha1::new_from_slice(auth_token.as_bytes()).map_err(|_| SignatureError::EmptyAuthToken)?;
        Ok(Self { mac })
    }

    /// The signature Twilio would send for `url` and the form `params`
    /// (`compute_signature` in the SDK): base64, exactly as in the header.
    pub fn compute_signature(&self, url: &str, params: &[(String, String)]) -> String {
        BASE64.encode(self.mac_for(url, params).finalize().into_bytes())
    }

    /// Checks a form-encoded webhook: `url` is the full URL Twilio requested
    /// (scheme, host, path and query, as configured at Twilio, not as seen
    /// behind a proxy), `params` the decoded POST parameters, all of them.
    pub fn validate_form(&self, url: &str, params: &[(String, String)], signature: &str) -> Result<(), SignatureError> {
        self.check(url, params, signature)
    }

    /// Checks a JSON webhook: the signature covers `url` alone, and `body`
    /// (the raw bytes) must hash to the URL's `bodySHA256`.
    pub fn validate_json(&self, url: &str, body: &[u8], signature: &str) -> Result<(), SignatureError> {
        let expected = body_sha256_param(url).ok_or(SignatureError::BodyHashMissing)?;
        let actual = hex_lower(&Sha256::digest(body));
        // Both must pass; check the signature first so that a forged
        // request learns nothing about the body hash.
        self.check(url, &[], signature)?;
        if constant_time_eq(actual.as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            Err(SignatureError::BodyHashMismatch)
        }
    }

    fn check(&self, url: &str, params: &[(String, String)], signature: &str) -> Result<(), SignatureError> {
        if signature.is_empty() {
            return Err(SignatureError::Missing);
        }
        let given = BASE64.decode(signature).map_err(|_| SignatureError::Malformed)?;
        if given.len() != 20 {
            return Err(SignatureError::Malformed);
        }
        let (without_port, with_port) = url_spellings(url)?;
        // Both are computed and compared in constant time, whichever matches.
        let a = self.mac_for(&without_port, params).verify_slice(&given).is_ok();
        let b = self.mac_for(&with_port, params).verify_slice(&given).is_ok();
        if a | b { Ok(()) } else { Err(SignatureError::Mismatch) }
    }

    fn mac_for(&self, url: &str, params: &[(String, String)]) -> HmacSha1 {
        let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (name, value) in params {
            sorted.entry(name.as_str()).or_default().insert(value.as_str());
        }
        let mut mac = self.mac.clone();
        mac.update(url.as_bytes());
        for (name, values) in sorted {
            for value in values {
                mac.update(name.as_bytes());
                mac.update(value.as_bytes());
            }
        }
        mac
    }
}

/// The URL without its port, and with the scheme's default port added (or
/// as given, if it has one): the two spellings the SDK accepts.
fn url_spellings(url: &str) -> Result<(String, String), SignatureError> {
    let bad = || SignatureError::BadUrl(url.to_string());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(bad());
    }
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_len);
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let (userinfo, hostport) = authority.split_at(host_start);
    // The port's colon is the last one, unless it sits inside [IPv6].
    let (host, port) = match hostport.rfind(':') {
        Some(i) if !hostport[i..].contains(']') => (&hostport[..i], Some(&hostport[i + 1..])),
        _ => (hostport, None),
    };
    if host.is_empty() {
        return Err(bad());
    }
    let prefix = &url[..url.len() - rest.len()];
    let without = format!("{prefix}{userinfo}{host}{tail}");
    // As in Python, an empty port or port 0 counts as none.
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?).filter(|&p| p != 0),
    };
    let with = match port {
        Some(_) => url.to_string(),
        None => {
            let default = if scheme == "https" { 443 } else { 80 };
            format!("{prefix}{userinfo}{host}:{default}{tail}")
        }
    };
    Ok((without, with))
}

/// The first `bodySHA256` value in the URL's query, if any.
fn body_sha256_param(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    query.split('&').find_map(|kv| kv.strip_prefix("bodySHA256=")).filter(|v| !v.is_empty())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

#[cfg(test)]
mod tests {
    //! The vectors below were produced with the official SDK, twilio 9.13.0
    //! from PyPI, by tests/clients/twilio_signature_vectors.py
    //! (`RequestValidator("12345").compute_signature(url, params)`; repeated
    //! keys passed as a Flask-style MultiDict), which also asserts that
    //! `RequestValidator.validate` accepts each one; `valid` in the cross
    //! checks is `validate`'s own answer.

    use super::*;

    const TOKEN: &str = "12345";

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn validator() -> RequestValidator {
        RequestValidator::new(TOKEN).unwrap()
    }

    const WHATSAPP: &[(&str, &str)] = &[
        ("SmsMessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
        ("NumMedia", "1"),
        ("ProfileName", "Marisol Ortega"),
        ("SmsSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
        ("WaId", "447700900418"),
        ("SmsStatus", "received"),
        ("Body", "Olá! My invoice is wrong ✓ & 100% off?"),
        ("To", "whatsapp:+14155238886"),
        ("NumSegments", "1"),
        ("MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
        ("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
        ("From", "whatsapp:+447700900418"),
        ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"),
        ("MediaContentType0", "image/jpeg"),
        ("ApiVersion", "2010-04-01"),
    ];
    const REPEATED: &[(&str, &str)] =
        &[("b", "2"), ("a", "z"), ("b", "1"), ("a", "y"), ("b", "2"), ("A", "x"), ("b", "10")];
    const ONE: &[(&str, &str)] = &[("From", "whatsapp:+12025550147")];

    /// (url, params, signature) from `compute_signature`.
    type Params = &'static [(&'static str, &'static str)];

    const FORM: &[(&str, Params, &str)] = &[
        ("https://support.example.com/twilio/whatsapp?tenant=acme", WHATSAPP, "5T6/OYSCWtMdiBnHF3BwOV3zXJ8="),
        ("https://support.example.com:443/twilio/whatsapp?tenant=acme", WHATSAPP, "C70nq6X8SheiN6F9OeByb0ANBjE="),
        ("http://support.example.com/hook", REPEATED, "a/yfKg6Bd3X4vumP42fQaoylEog="),
        ("http://support.example.com:80/hook", REPEATED, "ZgHLVLdRdhRffYfMwJGpQvb9qOI="),
        ("https://support.example.com/hook", &[], "pBRfga/SlQb10fq9eMEK6onZEnY="),
        ("https://support.example.com:8443/hook", ONE, "FupWNHg0YLMVHApAaG66fHfrkz0="),
    ];

    /// (url signed, url presented, params, signature, what `validate` said).
    const CROSS: &[(&str, &str, Params, &str, bool)] = &[
        (
            "https://support.example.com:443/twilio/whatsapp?tenant=acme",
            "https://support.example.com/twilio/whatsapp?tenant=acme",
            WHATSAPP,
            "C70nq6X8SheiN6F9OeByb0ANBjE=",
            true,
        ),
        (
            "https://support.example.com/twilio/whatsapp?tenant=acme",
            "https://support.example.com:443/twilio/whatsapp?tenant=acme",
            WHATSAPP,
            "5T6/OYSCWtMdiBnHF3BwOV3zXJ8=",
            true,
        ),
        (
            "http://support.example.com:80/hook",
            "http://support.example.com/hook",
            REPEATED,
            "ZgHLVLdRdhRffYfMwJGpQvb9qOI=",
            true,
        ),
        (
            "http://support.example.com/hook",
            "http://support.example.com:80/hook",
            REPEATED,
            "a/yfKg6Bd3X4vumP42fQaoylEog=",
            true,
        ),
        (
            "https://support.example.com/hook",
            "https://support.example.com:8443/hook",
            ONE,
            "74vKhY6qRPUujY1NYdewWZgjTbk=",
            true,
        ),
        (
            "https://support.example.com:80/hook",
            "https://support.example.com/hook",
            ONE,
            "QhmZcTWXjz6TpVeO63Bm+d8ru+c=",
            false,
        ),
        (
            "https://support.example.com:443/hook",
            "http://support.example.com/hook",
            ONE,
            "rVTy6ax2C2GyNGykadwpRViGkqc=",
            false,
        ),
    ];

    /// (url with bodySHA256, raw body, signature).
    const JSON: &[(&str, &str, &str)] = &[
        (
            "https://support.example.com/twilio/events?tenant=acme&bodySHA256=5c461a8de6296f296d46b109cad12dbe7a82d47245a84796dc6811e9a7399aca",
            r#"{"MessageSid":"SM1","MessageStatus":"delivered","note":"olá"}"#,
            "x7nfs8gElBewVeycCbO7jLoCQD4=",
        ),
        (
            "https://support.example.com:443/twilio/events?bodySHA256=015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862",
            r#"{"a":1}"#,
            "NFyHyal0Woclbuzhzq9I0gUL7V8=",
        ),
    ];

    #[test]
    fn computes_the_sdk_signatures() {
        let v = validator();
        for (url, params, sig) in FORM {
            assert_eq!(v.compute_signature(url, &pairs(params)), *sig, "{url}");
        }
        for (signed, _, params, sig, _) in CROSS {
            assert_eq!(v.compute_signature(signed, &pairs(params)), *sig, "{signed}");
        }
    }

    #[test]
    fn accepts_what_the_sdk_accepts() {
        let v = validator();
        for (url, params, sig) in FORM {
            assert_eq!(v.validate_form(url, &pairs(params), sig), Ok(()), "{url}");
        }
        for (signed, presented, params, sig, valid) in CROSS {
            let got = v.validate_form(presented, &pairs(params), sig);
            assert_eq!(got.is_ok(), *valid, "signed {signed}, presented {presented}: {got:?}");
            if !valid {
                assert_eq!(got, Err(SignatureError::Mismatch));
            }
        }
    }

    #[test]
    fn repeated_keys_are_order_independent_and_deduplicated() {
        let v = validator();
        let mut shuffled = pairs(REPEATED);
        shuffled.reverse();
        assert_eq!(
            v.validate_form("http://support.example.com/hook", &shuffled, "a/yfKg6Bd3X4vumP42fQaoylEog="),
            Ok(())
        );
        // The SDK signs each distinct value once: a duplicate changes nothing.
        shuffled.push(("a".into(), "z".into()));
        assert_eq!(
            v.validate_form("http://support.example.com/hook", &shuffled, "a/yfKg6Bd3X4vumP42fQaoylEog="),
            Ok(())
        );
        // A new value does.
        shuffled.push(("a".into(), "w".into()));
        assert_eq!(
            v.validate_form("http://support.example.com/hook", &shuffled, "a/yfKg6Bd3X4vumP42fQaoylEog="),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rejects_tampering() {
        let v = validator();
        let (url, params, sig) = FORM[0];
        let mut changed = pairs(params);
        changed[6].1.push('!');
        assert_eq!(v.validate_form(url, &changed, sig), Err(SignatureError::Mismatch));
        let mut extra = pairs(params);
        extra.push(("Injected".into(), "1".into()));
        assert_eq!(v.validate_form(url, &extra, sig), Err(SignatureError::Mismatch));
        assert_eq!(
            v.validate_form("https://support.example.com/twilio/whatsapp?tenant=evil", &pairs(params), sig),
            Err(SignatureError::Mismatch)
        );
        let other = RequestValidator::new("54321").unwrap();
        assert_eq!(other.validate_form(url, &pairs(params), sig), Err(SignatureError::Mismatch));
    }

    #[test]
    fn rejects_missing_and_malformed_signatures_and_bad_urls() {
        let v = validator();
        let (url, params, _) = FORM[0];
        let params = pairs(params);
        assert_eq!(v.validate_form(url, &params, ""), Err(SignatureError::Missing));
        assert_eq!(v.validate_form(url, &params, "not base64!"), Err(SignatureError::Malformed));
        assert_eq!(v.validate_form(url, &params, "AAAA"), Err(SignatureError::Malformed));
        for bad in ["/twilio/whatsapp", "ftp://x/y", "https:///x", "https://h:99999/x", "https://h:x/y"] {
            assert!(
                matches!(v.validate_form(bad, &params, "5T6/OYSCWtMdiBnHF3BwOV3zXJ8="), Err(SignatureError::BadUrl(_))),
                "{bad}"
            );
        }
        assert_eq!(RequestValidator::new("").unwrap_err(), SignatureError::EmptyAuthToken);
    }

    #[test]
    fn json_bodies_are_checked_against_body_sha256() {
        let v = validator();
        for (url, body, sig) in JSON {
            assert_eq!(v.validate_json(url, body.as_bytes(), sig), Ok(()), "{url}");
            let mut other = body.to_string();
            other.push(' ');
            assert_eq!(v.validate_json(url, other.as_bytes(), sig), Err(SignatureError::BodyHashMismatch));
            assert_eq!(
                v.validate_json(url, body.as_bytes(), "5T6/OYSCWtMdiBnHF3BwOV3zXJ8="),
                Err(SignatureError::Mismatch)
            );
        }
        // The :443 vector also validates without the port, as in the SDK.
        let (url, body, sig) = JSON[1];
        let without = url.replace(":443", "");
        assert_eq!(v.validate_json(&without, body.as_bytes(), sig), Ok(()));
        assert_eq!(
            v.validate_json("https://support.example.com/twilio/events", b"{}", sig),
            Err(SignatureError::BodyHashMissing)
        );
    }

    #[test]
    fn url_spellings_follow_the_sdk() {
        let s = |u: &str| url_spellings(u).unwrap();
        assert_eq!(s("https://h.io/p?q=1"), ("https://h.io/p?q=1".into(), "https://h.io:443/p?q=1".into()));
        assert_eq!(s("http://h.io"), ("http://h.io".into(), "http://h.io:80".into()));
        assert_eq!(s("https://h.io:8443/p"), ("https://h.io/p".into(), "https://h.io:8443/p".into()));
        assert_eq!(s("https://u:pw@h.io/p"), ("https://u:pw@h.io/p".into(), "https://u:pw@h.io:443/p".into()));
        assert_eq!(s("https://[::1]:444/p"), ("https://[::1]/p".into(), "https://[::1]:444/p".into()));
        assert_eq!(s("https://[::1]/p"), ("https://[::1]/p".into(), "https://[::1]:443/p".into()));
    }

    #[test]
    fn debug_hides_the_token() {
        assert!(!format!("{:?}", validator()).contains(TOKEN));
    }
}
