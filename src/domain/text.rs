//! Inbound text as it is stored: what a customer wrote, without the
//! characters PostgreSQL refuses (NUL) or that only serve to hide or
//! garble text (other control characters, bidirectional overrides), in
//! one Unicode normal form (NFC), so that equal text compares equal.

use std::borrow::Cow;
use unicode_normalization::{UnicodeNormalization, is_nfc};

/// Whether `c` is dropped: C0 and C1 control characters other than
/// newline and tab, and the bidirectional embedding, override and isolate
/// controls (U+202A–U+202E, U+2066–U+2069).
fn dropped(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `text` cleaned: CR LF and lone CR become LF, dropped characters (see
/// [`dropped`]) are removed, and the rest is put in NFC. Clean text comes
/// back borrowed.
pub fn clean_text(text: &str) -> Cow<'_, str> {
    let needs_work = text.chars().any(|c| c == '\r' || dropped(c)) || !is_nfc(text);
    if !needs_work {
        return Cow::Borrowed(text);
    }
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let kept: String = unified.chars().filter(|&c| !dropped(c)).collect();
    Cow::Owned(kept.nfc().collect())
}

/// Every string inside a JSON value cleaned with [`clean_text`] (keys too).
pub fn clean_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            if let Cow::Owned(clean) = clean_text(s) {
                *s = clean;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(clean_json),
        serde_json::Value::Object(map) => {
            let dirty: Vec<String> = map.keys().filter(|k| matches!(clean_text(k), Cow::Owned(_))).cloned().collect();
            for key in dirty {
                if let Some(v) = map.remove(&key) {
                    map.insert(clean_text(&key).into_owned(), v);
                }
            }
            map.values_mut().for_each(clean_json);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nul_controls_and_bidi_overrides_go_newlines_and_tabs_stay() {
        assert_eq!(clean_text("a\0b\u{7}c\u{85}d"), "abcd");
        assert_eq!(clean_text("line 1\r\nline 2\rline 3\n\tend"), "line 1\nline 2\nline 3\n\tend");
        assert_eq!(clean_text("pay \u{202E}gpj.exe"), "pay gpj.exe");
        assert_eq!(clean_text("\u{2066}x\u{2069}"), "x");
    }

    #[test]
    fn text_is_put_in_nfc_and_clean_text_is_borrowed() {
        assert_eq!(clean_text("e\u{301}"), "\u{e9}");
        assert!(matches!(clean_text("Grüße, 👋🏽 👨‍👩‍👧"), Cow::Borrowed(_)), "emoji and their joiners are kept");
    }

    #[test]
    fn json_strings_and_keys_are_cleaned() {
        let mut v = serde_json::json!({ "a\u{0}": ["x\u{0}y", { "k": "e\u{301}" }], "n": 1 });
        clean_json(&mut v);
        assert_eq!(v, serde_json::json!({ "a": ["xy", { "k": "\u{e9}" }], "n": 1 }));
    }

    proptest! {
        #[test]
        fn cleaning_leaves_no_dropped_character_is_nfc_and_idempotent(s in any::<String>()) {
            let once = clean_text(&s).into_owned();
            prop_assert!(!once.chars().any(|c| c == '\r' || dropped(c)));
            prop_assert!(is_nfc(&once));
            let twice = clean_text(&once);
            prop_assert_eq!(twice.as_ref(), once.as_str());
        }
    }
}
