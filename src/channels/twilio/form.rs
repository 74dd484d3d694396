//! The `application/x-www-form-urlencoded` codec: Twilio posts its webhooks
//! in it and takes the Messages API's parameters in it. Owns `Form` (the
//! decoded pairs, repeats and order kept, as the signature needs them) and
//! `FormError`. The percent-coding is the `percent-encoding` and
//! `form_urlencoded` crates'; decoding refuses a name or value that is not
//! UTF-8 (where `form_urlencoded::parse` would replace the bytes).

/// A decoded form, its pairs in the order they came.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormError {
    #[error("form field {0:?} is not valid UTF-8 once decoded")]
    NotUtf8(String),
}

impl Form {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// Decodes a request body.
    pub fn decode(body: &[u8]) -> Result<Self, FormError> {
        let mut pairs = Vec::new();
        for segment in body.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
            let (name, value) = match segment.iter().position(|&b| b == b'=') {
                Some(i) => (&segment[..i], &segment[i + 1..]),
                None => (segment, &segment[..0]),
            };
            let name =
                percent_decode(name).map_err(|_| FormError::NotUtf8(String::from_utf8_lossy(name).into_owned()))?;
            let value = percent_decode(value).map_err(|_| FormError::NotUtf8(name.clone()))?;
            pairs.push((name, value));
        }
        Ok(Self { pairs })
    }

    /// Every pair, in order, repeats included.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, if it is not blank.
    pub fn get_nonblank(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// Percent-decodes one name or value: `+` is a space, a malformed `%`
/// escape is kept literally, and the bytes must be UTF-8.
fn percent_decode(raw: &[u8]) -> Result<String, std::str::Utf8Error> {
    let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_encoding::percent_decode(&spaced).decode_utf8().map(std::borrow::Cow::into_owned)
}

/// Encodes pairs as a form body (WHATWG `application/x-www-form-urlencoded`:
/// ASCII alphanumerics and `*-._` are kept, a space becomes `+`, every
/// other byte `%XX`).
pub fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_escapes_and_repeats() {
        let f = Form::decode(b"Body=Ol%C3%A1+there%21&a=1&a=2&empty=&flag&&bad=%zz%4").unwrap();
        assert_eq!(f.get("Body"), Some("Olá there!"));
        let a: Vec<_> = f.pairs().iter().filter(|(k, _)| k == "a").map(|(_, v)| v.as_str()).collect();
        assert_eq!(a, ["1", "2"]);
        assert_eq!(f.get("empty"), Some(""));
        assert_eq!(f.get_nonblank("empty"), None);
        assert_eq!(f.get("flag"), Some(""));
        assert_eq!(f.get("bad"), Some("%zz%4"));
        assert_eq!(f.pairs().len(), 6);
    }

    #[test]
    fn rejects_invalid_utf8() {
        assert_eq!(Form::decode(b"Body=%FF"), Err(FormError::NotUtf8("Body".into())));
    }

    #[test]
    fn encode_round_trips() {
        let pairs = [("To", "whatsapp:+447700900418"), ("Body", "Olá & 100% = done ✓\n"), ("x", "a+b*c-d.e_f~")];
        let body = encode(pairs);
        assert_eq!(
            body,
            "To=whatsapp%3A%2B447700900418&Body=Ol%C3%A1+%26+100%25+%3D+done+%E2%9C%93%0A&x=a%2Bb*c-d.e_f%7E"
        );
        let back = Form::decode(body.as_bytes()).unwrap();
        let back: Vec<_> = back.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(back, pairs);
    }
}
