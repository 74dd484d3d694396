//! Percent-encoding (the `percent-encoding` and `form_urlencoded` crates)
//! for the few URL pieces this adapter builds: path
//! segments and query values of Gmail REST URLs (RFC 3986 §2.1, keeping
//! only the unreserved characters) and the
//! `application/x-www-form-urlencoded` body of the OAuth token request
//! (WHATWG URL §5, where a space is `+`).

/// Encodes every byte but the RFC 3986 unreserved ones
/// (`A-Z a-z 0-9 - . _ ~`).
pub fn component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// `application/x-www-form-urlencoded` body from name/value pairs.
pub fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// Everything but the RFC 3986 unreserved characters.
const NOT_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Whether `s` is an absolute http(s) URL with a host and no whitespace.
pub fn is_http_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_components_and_forms() {
        assert_eq!(component("me"), "me");
        assert_eq!(component("a b@c.com/x"), "a%20b%40c.com%2Fx");
        assert_eq!(component("newer_than:1d"), "newer_than%3A1d");
        assert_eq!(form([("a", "x y"), ("b&", "1/2=é")]), "a=x+y&b%26=1%2F2%3D%C3%A9");
    }

    #[test]
    fn recognises_http_urls() {
        assert!(is_http_url("https://gmail.googleapis.com"));
        assert!(is_http_url("http://127.0.0.1:8080"));
        assert!(!is_http_url("ftp://x"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("https://a b"));
    }
}
