//! Text normalisation shared by the offline embedder and the retrieval
//! scoring: lowercase word tokens, English stop words, and a light suffix
//! stemmer (plural, -ing, -ed, -ly) so "exports", "exporting" and
//! "exported" meet at "export".

/// Lowercase alphanumeric tokens (keeps inner `'`, `.`, `-`, `_` and `/`
/// only inside a token, so "app.tallyloom.com/diagnostics" and "TL-1234"
/// stay whole as well as being split into their parts).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| c.is_whitespace() || ",;:!?()[]{}<>\"“”‘’*`|".contains(c)) {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        if word.is_empty() {
            continue;
        }
        let parts: Vec<&str> = word.split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty()).collect();
        if parts.len() > 1 {
            out.extend(parts.iter().map(|p| p.to_string()));
            if !word.contains('\'') {
                out.push(word.clone());
            }
        } else if let Some(p) = parts.first() {
            out.push(p.to_string());
        }
    }
    out
}

/// Content words: tokens without stop words, stemmed.
pub fn terms(text: &str) -> Vec<String> {
    tokens(text).into_iter().filter(|t| !is_stop_word(t)).map(|t| stem(&t)).collect()
}

pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// A light English suffix stemmer: enough to meet word forms, not a
/// linguistic one. Short words and tokens with digits are left alone.
pub fn stem(word: &str) -> String {
    if word.chars().count() <= 3 || word.chars().any(|c| c.is_ascii_digit()) || !word.is_ascii() {
        return word.to_string();
    }
    let w = word;
    for (suffix, replacement) in
        [("ies", "y"), ("sses", "ss"), ("ing", ""), ("edly", ""), ("ed", ""), ("ly", ""), ("es", ""), ("s", "")]
    {
        if let Some(base) = w.strip_suffix(suffix) {
            if suffix == "s" && (base.ends_with('s') || base.ends_with('u') || base.ends_with('i')) {
                continue;
            }
            if suffix == "es" && !(base.ends_with("sh") || base.ends_with("ch") || base.ends_with('x')) {
                continue;
            }
            if base.len() < 3 {
                continue;
            }
            let mut stemmed = format!("{base}{replacement}");
            // "running" -> "runn" -> "run"; "stopped" -> "stop".
            let bytes = stemmed.as_bytes();
            let n = bytes.len();
            if (suffix == "ing" || suffix == "ed")
                && n >= 2
                && bytes[n - 1] == bytes[n - 2]
                && !matches!(bytes[n - 1], b'l' | b's' | b'z')
            {
                stemmed.pop();
            }
            return stemmed;
        }
    }
    w.to_string()
}

/// Sorted, for binary search.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyway",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "else",
    "etc",
    "even",
    "every",
    "few",
    "for",
    "from",
    "further",
    "get",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "hello",
    "her",
    "here",
    "hers",
    "herself",
    "hey",
    "hi",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "let",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "please",
    "same",
    "she",
    "should",
    "so",
    "some",
    "still",
    "such",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "way",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn word_forms_meet() {
        for (a, b) in [("exports", "exporting"), ("exported", "export"), ("stopped", "stop"), ("entries", "entry")] {
            assert_eq!(stem(a), stem(b), "{a} vs {b}");
        }
        assert_eq!(stem("access"), "access");
        assert_eq!(stem("status"), "status");
    }

    #[test]
    fn urls_and_references_stay_whole_and_split() {
        let t = tokens("See app.tallyloom.com/diagnostics or TL-1234, it's fine.");
        assert!(t.contains(&"app.tallyloom.com/diagnostics".to_string()));
        assert!(t.contains(&"diagnostics".to_string()));
        assert!(t.contains(&"tl-1234".to_string()));
        assert!(t.contains(&"it".to_string()) && t.contains(&"s".to_string()));
    }
}
