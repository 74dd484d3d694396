//! The sentiment score of a customer message, from 0.0 (furious or distressed) through 0.5
//! (neutral) to 1.0 (delighted), as the brand voice's bands use it: below 0.3 escalates,
//! 0.3–0.45 is answered with one empathy line. Lexicon-based and deterministic: weighted
//! words and phrases, negation ("not happy", "isn't working", "not bad"), intensifiers and
//! softeners ("really", "a bit"), shouting in capitals, emoji moods and repeated failures.
//! Mild frustration alone never takes a message below 0.3.

mod lexicon;
mod phrases;

use super::emoji::{self, Mood};
use super::text::fold;
use lexicon::Tier;

/// Score of a message with no sentiment cues.
pub const NEUTRAL: f32 = 0.5;
/// Below this score a message escalates as `negative_sentiment`.
pub const ESCALATION_THRESHOLD: f32 = 0.3;
/// Lowest score reachable by mild or single-moderate cues alone.
const MILD_FLOOR: f32 = 0.31;

/// A sentiment score with the cues that produced it.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// 0.0 furious … 0.5 neutral … 1.0 delighted.
    pub score: f32,
    /// Evidence labels of the negative cues found, most significant first, each once.
    pub cues: Vec<&'static str>,
}

/// The sentiment score of `text`, in `0.0..=1.0`.
pub fn score(text: &str) -> f32 {
    analyze(text).score
}

/// The sentiment score of `text` with its evidence.
pub fn analyze(text: &str) -> Analysis {
    if emoji::is_emoji_only(text) {
        return emoji_only(text);
    }
    let mut tally = Tally::default();
    let folded = fold(text);
    words(text, &mut tally);
    phrase_cues(&folded, &mut tally);
    emoji_cues(text, &mut tally);
    tally.finish()
}

/// Running totals of the cues found.
#[derive(Default)]
struct Tally {
    negative: f32,
    positive: f32,
    strong: usize,
    moderate: usize,
    shouted: usize,
    cues: Vec<(Tier, &'static str)>,
}

const WORD_STRONG: &str = "sentiment: insult, profanity or strongly negative word";
const WORD_MODERATE: &str = "sentiment: frustration or disappointment";
const WORD_MILD: &str = "sentiment: mild frustration or worry";
const FAILURE: &str = "sentiment: reports something not working";
const STILL: &str = "sentiment: problem persists";
const SHOUTING: &str = "sentiment: shouting in capitals";
const ANGRY_EMOJI: &str = "sentiment: angry emoji";
const DISTRESSED_EMOJI: &str = "sentiment: distressed emoji";
const SAD_EMOJI: &str = "sentiment: sad emoji";

impl Tally {
    fn add(&mut self, weight: f32, tier: Tier, label: &'static str) {
        if weight >= 0.0 {
            self.positive += weight;
            return;
        }
        self.negative += weight;
        match tier {
            Tier::Strong => self.strong += 1,
            Tier::Moderate => self.moderate += 1,
            Tier::Mild => {}
        }
        if !self.cues.iter().any(|(_, l)| *l == label) {
            self.cues.push((tier, label));
        }
    }

    fn finish(mut self) -> Analysis {
        let shouting = if self.shouted >= 3 || (self.shouted > 0 && self.negative < 0.0) {
            self.shouted.min(3) as f32 * -0.07
        } else {
            0.0
        };
        if shouting < 0.0 {
            self.add(shouting, Tier::Moderate, SHOUTING);
        }
        let positive = if self.strong > 0 { self.positive * 0.3 } else { self.positive };
        let mut score = NEUTRAL + positive + self.negative;
        if self.strong == 0 && self.moderate < 2 {
            score = score.max(MILD_FLOOR.min(NEUTRAL + positive));
        }
        self.cues.sort_by_key(|(tier, _)| match tier {
            Tier::Strong => 0,
            Tier::Moderate => 1,
            Tier::Mild => 2,
        });
        Analysis { score: score.clamp(0.0, 1.0), cues: self.cues.into_iter().map(|(_, label)| label).collect() }
    }
}

/// One word of the message.
struct Token {
    /// Folded, without apostrophes ("don't" → "dont").
    word: String,
    /// Written in capitals (four letters or more, not a known acronym).
    shouted: bool,
    /// Index of the clause the word belongs to; negation does not cross clauses.
    clause: usize,
}

/// Cuts `text` into words, tracking clauses and capitals.
fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut clause = 0;
    let mut current = String::new();
    let flush = |current: &mut String, tokens: &mut Vec<Token>, clause: usize| {
        if current.is_empty() {
            return;
        }
        let letters = current.chars().filter(|c| c.is_alphabetic()).count();
        let shouted = letters >= 4
            && current.chars().all(|c| !c.is_lowercase() && !c.is_ascii_digit())
            && !lexicon::contains(lexicon::ACRONYMS, current.as_str());
        let word: String = fold(current).chars().filter(|c| *c != '\'').collect();
        tokens.push(Token { word, shouted, clause });
        current.clear();
    };
    for ch in text.chars() {
        if ch.is_alphanumeric() || ((ch == '\'' || ch == '\u{2019}') && !current.is_empty()) {
            current.push(ch);
            continue;
        }
        flush(&mut current, &mut tokens, clause);
        let after_but = tokens.last().is_some_and(|t| t.word == "but" && t.clause == clause);
        if after_but || matches!(ch, '.' | ',' | ';' | ':' | '!' | '?' | '\n' | '(' | ')' | '—' | '–') {
            clause += 1;
        }
    }
    flush(&mut current, &mut tokens, clause);
    tokens
}

/// Applies the word lexicon with negation, intensifiers, softeners and "still".
fn words(text: &str, tally: &mut Tally) {
    let tokens = tokenize(text);
    let mut still_used = usize::MAX;
    for (i, token) in tokens.iter().enumerate() {
        if token.shouted {
            tally.shouted += 1;
        }
        let window = |n: usize| tokens[i.saturating_sub(n)..i].iter().filter(move |t| t.clause == token.clause);
        let negated = window(3).any(|t| lexicon::contains(lexicon::NEGATORS, &t.word));
        let still = window(3).any(|t| t.word == "still");
        let entry = lexicon::lookup(&token.word).filter(|_| !names_feature(&tokens, i));
        let is_function = lexicon::contains(lexicon::FUNCTION_VERBS, &token.word);
        if lexicon::contains(lexicon::INTENSIFIERS, &token.word) && next_is_weighted(&tokens, i) {
            continue;
        }
        let (mut weight, tier, label) = match (entry, negated, is_function) {
            (Some(entry), false, _) => (entry.weight, entry.tier, tier_label(entry.tier)),
            (Some(entry), true, _) if entry.weight < 0.0 => (-entry.weight * 0.3, Tier::Mild, WORD_MILD),
            (Some(entry), true, _) => (-entry.weight * 0.8, Tier::Mild, WORD_MILD),
            (None, true, true) => (-0.02, Tier::Mild, FAILURE),
            _ => continue,
        };
        if window(2).any(|t| lexicon::contains(lexicon::INTENSIFIERS, &t.word)) {
            weight *= 1.5;
        } else if window(2).any(|t| lexicon::contains(lexicon::DIMINISHERS, &t.word)) {
            weight *= 0.5;
        }
        if token.shouted && weight < 0.0 {
            weight *= 1.6;
        }
        tally.add(weight, tier, label);
        if weight < 0.0 && still && still_used != token.clause {
            still_used = token.clause;
            tally.add(-0.06, Tier::Mild, STILL);
        }
    }
}

/// Whether the word at `i` is the product's feature ("our Trash", "the trash
/// bin"), not a judgement ("this app is trash").
fn names_feature(tokens: &[Token], i: usize) -> bool {
    let word = tokens[i].word.as_str();
    let near = |j: usize, list: &[&str]| {
        tokens.get(j).is_some_and(|t| t.clause == tokens[i].clause && lexicon::contains(list, &t.word))
    };
    lexicon::contains(lexicon::FEATURE_NOUNS, word)
        && ((i > 0 && near(i - 1, lexicon::FEATURE_BEFORE)) || near(i + 1, lexicon::FEATURE_AFTER))
}

/// True if one of the next two words in the same clause carries a weight.
fn next_is_weighted(tokens: &[Token], i: usize) -> bool {
    tokens[i + 1..].iter().take(2).any(|t| {
        t.clause == tokens[i].clause
            && (lexicon::lookup(&t.word).is_some() || lexicon::contains(lexicon::FUNCTION_VERBS, &t.word))
    })
}

fn tier_label(tier: Tier) -> &'static str {
    match tier {
        Tier::Strong => WORD_STRONG,
        Tier::Moderate => WORD_MODERATE,
        Tier::Mild => WORD_MILD,
    }
}

/// Applies the multi-word phrases.
fn phrase_cues(folded: &str, tally: &mut Tally) {
    for phrase in &phrases::PHRASES {
        for (start, _) in phrase.pat.ranges(folded) {
            let lead = &folded[floor_boundary(folded, start.saturating_sub(40))..start];
            if phrase.unless_before.as_ref().is_some_and(|unless| unless.is_match(lead)) {
                continue;
            }
            tally.add(phrase.weight, phrase.tier, phrase.label);
        }
    }
}

/// The largest char boundary of `text` at or below `at`.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Applies emoji moods inside a message that also has words.
fn emoji_cues(text: &str, tally: &mut Tally) {
    let mut angry = 0;
    let mut friendly = 0;
    for mood in emoji::moods(text) {
        match mood {
            Mood::Angry => {
                let weight = if angry == 0 { -0.22 } else { -0.05 };
                angry += 1;
                tally.add(weight, Tier::Strong, ANGRY_EMOJI);
            }
            Mood::Distressed => tally.add(-0.1, Tier::Moderate, DISTRESSED_EMOJI),
            Mood::Sad => tally.add(-0.07, Tier::Mild, SAD_EMOJI),
            Mood::Friendly if friendly < 3 => {
                friendly += 1;
                tally.add(0.06, Tier::Mild, "sentiment: friendly emoji");
            }
            Mood::Friendly | Mood::Neutral => {}
        }
    }
}

/// Scores a message made only of emoji: angry → 0.1, distressed → 0.2, sad only → 0.38,
/// friendly → 0.7, neutral → 0.5.
fn emoji_only(text: &str) -> Analysis {
    let moods = emoji::moods(text);
    let (score, cue) = if moods.contains(&Mood::Angry) {
        (0.1, Some(ANGRY_EMOJI))
    } else if moods.contains(&Mood::Distressed) {
        (0.2, Some(DISTRESSED_EMOJI))
    } else if moods.contains(&Mood::Sad) {
        (0.38, Some(SAD_EMOJI))
    } else if moods.contains(&Mood::Friendly) {
        (0.7, None)
    } else {
        (NEUTRAL, None)
    };
    Analysis { score, cues: cue.into_iter().collect() }
}

#[cfg(test)]
mod tests;
