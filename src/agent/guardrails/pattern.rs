//! The matching machinery behind every intent rule: [`Pat`], a regular expression compiled on
//! first use, and [`Rule`], a pattern with a human-readable piece of evidence and an optional
//! guard that looks at the surrounding clause to reject a keyword used without the intent.
//! Rules run over folded text (see [`super::text::fold`]), one sentence — or one pair of
//! adjacent sentences — at a time.

use std::sync::OnceLock;

use regex::Regex;

use super::text::{clause_after, clause_before};

/// A regular expression written as a constant and compiled once, on first use.
///
/// A pattern that fails to compile never matches; every module's tests check that all of its
/// patterns compile, so that cannot reach production unnoticed.
pub struct Pat {
    source: &'static str,
    compiled: OnceLock<Option<Regex>>,
}

impl Pat {
    /// A pattern over folded (lower-case, accent-free) text.
    pub const fn new(source: &'static str) -> Self {
        Self { source, compiled: OnceLock::new() }
    }

    /// The compiled expression, or `None` if the source is invalid.
    pub fn regex(&self) -> Option<&Regex> {
        self.compiled.get_or_init(|| Regex::new(self.source).ok()).as_ref()
    }

    /// True if the pattern compiles.
    pub fn is_valid(&self) -> bool {
        self.regex().is_some()
    }

    /// True if the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex().is_some_and(|re| re.is_match(text))
    }

    /// Byte ranges of the non-overlapping matches in `text`.
    pub fn ranges(&self, text: &str) -> Vec<(usize, usize)> {
        self.regex().map(|re| re.find_iter(text).map(|m| (m.start(), m.end())).collect()).unwrap_or_default()
    }

    /// Number of non-overlapping matches in `text`.
    pub fn count(&self, text: &str) -> usize {
        self.regex().map_or(0, |re| re.find_iter(text).count())
    }
}

/// One match of a rule, with the text around it, handed to the rule's guard.
pub struct Hit<'a> {
    /// The sentence (or pair of sentences) the match was found in.
    pub window: &'a str,
    /// Byte offset of the match in `window`.
    pub start: usize,
    /// Byte offset just past the match in `window`.
    pub end: usize,
}

impl<'a> Hit<'a> {
    /// The matched text.
    pub fn text(&self) -> &'a str {
        &self.window[self.start..self.end]
    }

    /// The clause text before the match.
    pub fn before(&self) -> &'a str {
        clause_before(self.window, self.start)
    }

    /// The clause text after the match.
    pub fn after(&self) -> &'a str {
        clause_after(self.window, self.end)
    }

    /// The whole window with the matched text left out.
    pub fn rest(&self) -> String {
        format!("{} {}", &self.window[..self.start], &self.window[self.end..])
    }
}

/// Decides whether a match really carries the rule's intent.
pub type Guard = fn(&Hit<'_>) -> bool;

/// Where a rule looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One sentence at a time.
    Sentence,
    /// A sentence together with the one before it ("The card was charged again. Reverse it.").
    Pair,
}

/// An intent rule: when `pat` matches and `guard` accepts, `evidence` explains why.
pub struct Rule {
    /// Short explanation, e.g. `"pricing: asks for a quote"`.
    pub evidence: &'static str,
    /// What to look for.
    pub pat: Pat,
    /// Optional check of the surrounding clause.
    pub guard: Option<Guard>,
    /// Where to look.
    pub scope: Scope,
}

impl Rule {
    /// A rule that fires on any match within one sentence.
    pub const fn new(evidence: &'static str, pattern: &'static str) -> Self {
        Self { evidence, pat: Pat::new(pattern), guard: None, scope: Scope::Sentence }
    }

    /// The same rule, firing only where `guard` accepts the match.
    pub const fn guarded(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The same rule, looking at a sentence together with the previous one.
    pub const fn in_pairs(mut self) -> Self {
        self.scope = Scope::Pair;
        self
    }

    /// True if the rule fires somewhere in `window`.
    pub fn fires_in(&self, window: &str) -> bool {
        self.pat.ranges(window).into_iter().any(|(start, end)| {
            let hit = Hit { window, start, end };
            self.guard.is_none_or(|guard| guard(&hit))
        })
    }
}

/// The evidence of every rule in `rules` that fires in one of `sentences`, in rule order,
/// each at most once.
pub fn evidence(rules: &[Rule], sentences: &[&str]) -> Vec<&'static str> {
    let mut pairs = Vec::new();
    for (i, sentence) in sentences.iter().enumerate().skip(1) {
        pairs.push(format!("{} {}", sentences[i - 1], sentence));
    }
    rules
        .iter()
        .filter(|rule| match rule.scope {
            Scope::Sentence => sentences.iter().any(|s| rule.fires_in(s)),
            Scope::Pair => {
                sentences.first().is_some_and(|s| rule.fires_in(s)) || pairs.iter().any(|p| rule.fires_in(p))
            }
        })
        .map(|rule| rule.evidence)
        .collect()
}

/// The patterns in `rules` that do not compile (for tests).
pub fn invalid_patterns(rules: &[Rule]) -> Vec<&'static str> {
    rules.iter().filter(|rule| !rule.pat.is_valid()).map(|rule| rule.pat.source).collect()
}

/// Statements that take back a keyword: "I'm not asking about cost", "we don't need a
/// refund", "pricing aside", "regardless of price".
static DISCLAIMER_BEFORE: Pat = Pat::new(
    r"(?:\b(?:not|never|no|without)\b|n't\b|\bnot\s+(?:really|just|yet|currently)\b)(?:\s+\w+){0,2}?\s+(?:ask|asking|interested|looking|inquiring|enquiring|worried|concerned|care|need|needing|want|wanting|requesting|seeking|after)\b(?:\s+(?:about|for|in|into|at))?[^,;]*$|\bnot\s+(?:really\s+|just\s+)?about\b[^,;]*$|\bregardless of\b[^,;]*$|\b(?:other than|apart from|besides|except)\b[^,;]*$",
);

static DISCLAIMER_AFTER: Pat =
    Pat::new(r"^\s*(?:is\s+not|isn't|isnt|aside|doesn't|does\s+not|don't|do\s+not|is\s+no|isn't\s+an?)\b");

/// Guard helper: true unless the clause around the match disclaims it.
pub fn not_disclaimed(hit: &Hit<'_>) -> bool {
    !DISCLAIMER_BEFORE.is_match(hit.before()) && !DISCLAIMER_AFTER.is_match(&hit.window[hit.end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_patterns_compile() {
        assert!(DISCLAIMER_BEFORE.is_valid());
        assert!(DISCLAIMER_AFTER.is_valid());
    }

    fn disclaimed(sentence: &str, keyword: &str) -> bool {
        let start = sentence.find(keyword).unwrap_or(0);
        !not_disclaimed(&Hit { window: sentence, start, end: start + keyword.len() })
    }

    #[test]
    fn disclaimers_take_back_keywords() {
        assert!(disclaimed("i'm not asking about cost at this stage", "cost"));
        assert!(disclaimed("we don't need a refund", "refund"));
        assert!(disclaimed("pricing aside, what is included", "pricing"));
        assert!(!disclaimed("isn't there a cheaper plan", "cheaper"));
        assert!(!disclaimed("don't you offer a discount for charities", "discount"));
        assert!(!disclaimed("we don't need a discount, but how much is pro", "how much"));
    }

    #[test]
    fn pair_rules_see_the_previous_sentence() {
        static RULES: [Rule; 1] = [Rule::new("x", r"charged.*reverse it").in_pairs()];
        assert_eq!(evidence(&RULES, &["the card was charged again.", "please reverse it."]), vec!["x"]);
        assert!(evidence(&RULES, &["please reverse it."]).is_empty());
        assert!(invalid_patterns(&RULES).is_empty());
    }
}
