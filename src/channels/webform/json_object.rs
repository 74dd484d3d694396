//! Reads a request body as one JSON object, keeping its members in order
//! and keeping repeated keys (a `serde_json::Map` would silently keep the
//! last one, so `{"website":"x","website":""}` could hide a filled
//! honeypot). Owns `JsonBody`, the only place that touches raw bytes.

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// A parsed body: an object's members in document order, or some other
/// JSON value (array, string, number, bool, null), which is not accepted.
#[derive(Debug, PartialEq)]
pub enum JsonBody {
    Object(Vec<(String, Value)>),
    NotAnObject,
}

impl JsonBody {
    /// Parses UTF-8 text holding exactly one JSON value (whitespace around
    /// it is allowed, anything else after it is not). The error is
    /// serde_json's, which names the line and column.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl<'de> Deserialize<'de> for JsonBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = JsonBody;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonBody, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            members.push((key, value));
        }
        Ok(JsonBody::Object(members))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonBody, A::Error> {
        // Read to the end so that the rest of the document is still checked.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(JsonBody::NotAnObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<JsonBody, E> {
        Ok(JsonBody::NotAnObject)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<JsonBody, E> {
        Ok(JsonBody::NotAnObject)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<JsonBody, E> {
        Ok(JsonBody::NotAnObject)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<JsonBody, E> {
        Ok(JsonBody::NotAnObject)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<JsonBody, E> {
        Ok(JsonBody::NotAnObject)
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonBody, E> {
        Ok(JsonBody::NotAnObject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_members_in_order_with_repeats() {
        let body = JsonBody::parse(r#" {"b": 1, "a": "x", "b": null} "#).unwrap();
        assert_eq!(
            body,
            JsonBody::Object(vec![("b".into(), json!(1)), ("a".into(), json!("x")), ("b".into(), json!(null))])
        );
        assert_eq!(JsonBody::parse("{}").unwrap(), JsonBody::Object(vec![]));
    }

    #[test]
    fn other_values_are_not_objects() {
        for text in ["[]", "[1, {\"a\": 2}]", "\"x\"", "1", "-1", "1.5", "true", "null"] {
            assert_eq!(JsonBody::parse(text).unwrap(), JsonBody::NotAnObject, "{text}");
        }
    }

    #[test]
    fn malformed_documents_are_errors() {
        for text in ["", "{", "{\"a\":", "{\"a\" 1}", "{} {}", "[1,", "{'a': 1}", "{\"a\": 1,}", "nul"] {
            assert!(JsonBody::parse(text).is_err(), "{text:?}");
        }
        let deep = "[".repeat(10_000);
        assert!(JsonBody::parse(&deep).is_err(), "nesting beyond serde_json's limit is an error, not a crash");
    }
}
