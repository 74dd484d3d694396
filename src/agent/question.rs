//! What a customer's message asks and names: the question sentences
//! (what the search focuses on) and the products or brands it names (a
//! name no article mentions means the knowledge base cannot answer).

use crate::kb::glossary;

/// Names of products or brands in a question: runs of two or more
/// capitalised words inside an English sentence ("Apple Watch", "Microsoft
/// Teams"), and single capitalised or all-capital words that the question
/// connects Tallyloom to ("with DATEV", "und DATEV", "Okta app"). Quoted
/// text (a project's own name) is left out, and so are single capitalised
/// words elsewhere: in German every noun is one, and in any language a
/// city or a person's name says nothing about what the question is about.
pub fn named_entities(text: &str) -> Vec<String> {
    let english = glossary::detect(text).main == glossary::Lang::En;
    let text = without_quotes(text);
    let mut out = Vec::new();
    for sentence in text.split(['.', '?', '!', '\n', ';', ':']) {
        let words: Vec<&str> = sentence.split_whitespace().collect();
        let mut run: Vec<&str> = Vec::new();
        let mut run_start = 0;
        for (i, w) in words.iter().enumerate() {
            let clean = w.trim_matches(|c: char| !c.is_alphanumeric());
            let capitalised = clean.chars().next().is_some_and(char::is_uppercase)
                && clean.chars().skip(1).any(char::is_lowercase)
                && clean.chars().all(char::is_alphabetic);
            if capitalised {
                if run.is_empty() {
                    run_start = i;
                }
                run.push(clean);
            }
            let ends = !capitalised || w.ends_with(',') || i + 1 == words.len();
            if ends && !run.is_empty() {
                // A sentence-initial word is only part of a longer name.
                let from = usize::from(run_start == 0 && run.len() >= 2 && is_common_opener(run[0]));
                if english && run.len() - from >= 2 {
                    out.push(run[from..].join(" "));
                } else if run.len() == 1 && run_start > 0 && connected(&words, run_start) {
                    out.push(run[0].to_string());
                }
                run.clear();
            }
            let acronym = clean.chars().count() >= 3 && clean.chars().all(|c| c.is_ascii_uppercase());
            if acronym && i > 0 && connected(&words, i) {
                out.push(clean.to_string());
            }
        }
    }
    out.retain(|e| e.len() > 2 && !is_common_opener(e) && !e.split(' ').all(is_calendar_word));
    out.dedup();
    out
}

/// Whether the word at `i` is what the sentence connects something to:
/// after "with", "into", "and", "between", "via" (or their German, French
/// and Spanish words), or before "app", "integration" and the like.
fn connected(words: &[&str], i: usize) -> bool {
    const BEFORE: [&str; 12] =
        ["with", "into", "and", "between", "via", "mit", "und", "zwischen", "avec", "et", "con", "y"];
    const AFTER: [&str; 10] =
        ["app", "apps", "application", "integration", "plugin", "add-on", "connector", "extension", "sync", "calendar"];
    let lower = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-').to_lowercase();
    let before = i.checked_sub(1).and_then(|j| words.get(j)).is_some_and(|w| BEFORE.contains(&lower(w).as_str()));
    let after = words.get(i + 1).is_some_and(|w| AFTER.contains(&lower(w).as_str()));
    before || after
}

/// `text` without its quoted spans ('…', "…", ‘…’, “…”); an apostrophe
/// inside a word (don't) is not a quote.
fn without_quotes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = matches!(c, '\'' | '"' | '‘' | '“')
            && (i == 0 || !chars[i - 1].is_alphanumeric())
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if opens {
            let close = match c {
                '‘' => '’',
                '“' => '”',
                other => other,
            };
            let end = (i + 1..chars.len())
                .find(|&j| chars[j] == close && chars.get(j + 1).is_none_or(|n| !n.is_alphanumeric()));
            if let Some(end) = end {
                out.push(' ');
                i = end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Capitalised words that are not names of things a knowledge base covers.
fn is_calendar_word(word: &str) -> bool {
    const WORDS: [&str; 19] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    WORDS.contains(&word)
}

fn is_common_opener(word: &str) -> bool {
    const OPENERS: [&str; 24] = [
        "Is", "Are", "Can", "Could", "Do", "Does", "How", "What", "When", "Where", "Which", "Who", "Why", "Will",
        "Would", "Should", "Hi", "Hello", "Hey", "Please", "Thanks", "Dear", "I", "Also",
    ];
    OPENERS.contains(&word)
}

fn sentences(message: &str) -> Vec<&str> {
    message.split_inclusive(['.', '?', '!', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// Whether a message wonders if it is talking to a bot ("a bot", "a real
/// person", "an AI", "a human?"): the reply then says who is writing.
pub fn mentions_a_bot(text: &str) -> bool {
    const WHAT: [&str; 6] = ["a bot", "a robot", "real person", "an ai", "a human?", "talking to a machine"];
    let lower = text.to_lowercase();
    WHAT.iter().any(|w| lower.contains(w))
}

/// Whether a sentence asks about the assistant itself ("are u a real person
/// or a bot?", "am I talking to an AI?"): a question the knowledge base
/// has no article for, which the reply's introduction answers.
fn asks_about_the_assistant(sentence: &str) -> bool {
    const WHO: [&str; 7] = ["are you", "are u", "r u", "am i", "is this", "is it", "i'm talking"];
    let lower = sentence.to_lowercase().replace('’', "'");
    WHO.iter().any(|w| lower.contains(w)) && mentions_a_bot(&lower)
}

/// The sentences that ask something (with `?`, or starting like a
/// question or a request); the whole message when none do. A question
/// about the assistant itself is left out.
pub fn question_text(message: &str) -> String {
    const STARTS: [&str; 20] = [
        "how", "what", "why", "where", "when", "which", "who", "can", "could", "is", "are", "do", "does", "will",
        "would", "should", "any", "please", "i need", "i want",
    ];
    let all = sentences(message);
    let sentences: Vec<&str> = all.iter().copied().filter(|s| !asks_about_the_assistant(s)).collect();
    if sentences.is_empty() {
        return message.to_string();
    }
    let asked: Vec<&str> = sentences
        .iter()
        .copied()
        .filter(|s| {
            let lower = s.to_lowercase();
            s.ends_with('?') || STARTS.iter().any(|w| lower.starts_with(&format!("{w} ")))
        })
        .collect();
    if asked.is_empty() {
        return if sentences.len() == all.len() { message.to_string() } else { sentences.join(" ") };
    }
    // A bare "Any idea?" carries no subject: take the sentence before it.
    let mut out: Vec<&str> = Vec::new();
    for s in &asked {
        let position = sentences.iter().position(|x| x == s);
        if let Some(i) = position.filter(|i| *i > 0 && s.split_whitespace().count() <= 4)
            && !out.contains(&sentences[i - 1])
        {
            out.push(sentences[i - 1]);
        }
        out.push(s);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_entities_are_capitalised_runs_inside_sentences() {
        assert_eq!(named_entities("Is there an Apple Watch app?"), vec!["Apple Watch"]);
        assert_eq!(named_entities("Can Tallyloom post project updates into Microsoft Teams?"), vec!["Microsoft Teams"]);
        assert!(named_entities("Can I change the font used in PDF exports?").is_empty());
        assert!(named_entities("How do I reset my password?").is_empty());
    }

    #[test]
    fn a_name_counts_when_the_question_connects_to_it_and_not_in_quotes() {
        // Both names count; the knowledge base mentions one of them.
        assert_eq!(
            named_entities(
                "Gibt es eine direkte Schnittstelle zwischen Tallyloom und DATEV, damit unsere Stunden übertragen werden?"
            ),
            vec!["Tallyloom", "DATEV"]
        );
        // A city, a project's quoted name, a German noun: not products.
        assert!(
            named_entities("I want a copy of our 'Court maintenance – Madrid' project for the new Valencia venue.")
                .is_empty()
        );
        assert!(named_entities("Kann man das gelöschte Projekt noch aus dem Papierkorb zurückholen?").is_empty());
        assert!(named_entities("Our new CISO wants sessions to expire after eight hours.").is_empty());
        assert_eq!(named_entities("Can we connect it with Harvest?"), vec!["Harvest"]);
        assert_eq!(named_entities("Is there a Garmin app?"), vec!["Garmin"]);
    }

    #[test]
    fn question_sentences_are_picked_out_of_the_story() {
        let m = "We moved offices last week. Everything is slow. How do I check the WebSocket connection? Thanks!";
        assert_eq!(question_text(m), "How do I check the WebSocket connection?");
        assert_eq!(question_text("Board is slow"), "Board is slow");
    }

    #[test]
    fn a_question_about_the_assistant_is_not_the_question() {
        let m = "are u a real person or a bot? anyway one project keeps pinging me all day, can i mute just that one";
        assert_eq!(question_text(m), "anyway one project keeps pinging me all day, can i mute just that one");
        let m = "Am I talking to an AI? How do I export a report to PDF?";
        assert_eq!(question_text(m), "How do I export a report to PDF?");
        assert_eq!(question_text("Are you a bot?"), "Are you a bot?");
        let m = "Is this a real time report? Where do I change its date range?";
        assert_eq!(question_text(m), m);
    }
}
