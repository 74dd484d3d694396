//! `LocalBrain`'s answering step (offline, deterministic): two knowledge-
//! base searches at most (the second reformulated from the question's own
//! terms), then an answer composed from the best passages in the brand
//! voice with a confidence taken from the retrieval, or `no_knowledge`.

use super::compose;
use super::format::ReplyParts;
use super::tools::{SearchKnowledgeBaseInput, ToolError, TurnTools};
use crate::kb::SearchHit;

/// What retrieval found good enough to answer with.
#[derive(Clone, Debug)]
pub struct Answer {
    pub paragraphs: Vec<String>,
    pub sources: Vec<String>,
    pub confidence: f32,
}

/// Below these the best passage matches nothing of the question.
const MIN_BM25: f32 = 2.0;
const MIN_COSINE: f32 = 0.15;

/// Searches twice (the whole message, then the question alone: two
/// wordings), ranks articles by their best passage in both, and returns an
/// answer from the best article — or None when the knowledge base does not
/// cover the question (`no_knowledge`).
pub async fn retrieve_answer(
    tools: &mut TurnTools<'_>,
    subject: Option<&str>,
    message: &str,
    budget_chars: usize,
) -> Result<Option<Answer>, ToolError> {
    let first_query = match subject {
        Some(s) if !s.trim().is_empty() => format!("{s}\n{message}"),
        _ => message.to_string(),
    };
    let question = question_text(message);
    let mut results = vec![
        tools
            .search_focused(
                SearchKnowledgeBaseInput { query: first_query.clone(), max_results: Some(5) },
                Some(&question),
            )
            .await?,
    ];
    if !question.trim().is_empty() && question != first_query {
        results.push(
            tools
                .search_focused(
                    SearchKnowledgeBaseInput { query: question.clone(), max_results: Some(5) },
                    Some(&question),
                )
                .await?,
        );
    }
    // Articles by their best passage in each search: keyword and vector
    // similarity, each relative to that search's best; the whole message
    // counts more than the question alone.
    let mut articles: Vec<(String, f32)> = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let weight =
            if i == 0 { 1.0 } else { std::env::var("FTE_W_Q").ok().and_then(|v| v.parse().ok()).unwrap_or(0.6) };
        let max_bm25 = r.hits.iter().map(|h| h.bm25).fold(0.0f32, f32::max).max(1e-3);
        let max_cos = r.hits.iter().map(|h| h.cosine).fold(0.0f32, f32::max).max(1e-3);
        // Per article: its best passage, plus a share of its second best
        // (an article with several matching sections is the likelier one).
        let mut per_doc: Vec<(String, Vec<f32>)> = Vec::new();
        for h in &r.hits {
            if h.bm25 < MIN_BM25 && h.cosine < MIN_COSINE {
                continue;
            }
            let s = weight * (0.7 * h.bm25 / max_bm25 + 0.3 * h.cosine.max(0.0) / max_cos);
            match per_doc.iter_mut().find(|(d, _)| *d == h.document) {
                Some((_, v)) => v.push(s),
                None => per_doc.push((h.document.clone(), vec![s])),
            }
        }
        const SECOND: f32 = 0.3;
        let best_per_doc = per_doc.into_iter().map(|(d, mut v)| {
            v.sort_by(|a, b| b.total_cmp(a));
            let s = v[0] + SECOND * v.get(1).copied().unwrap_or(0.0);
            (d, s)
        });
        for (doc, score) in best_per_doc {
            match articles.iter_mut().find(|(d, _)| *d == doc) {
                Some((_, s)) => *s += score,
                None => articles.push((doc, score)),
            }
        }
    }
    articles.sort_by(|a, b| b.1.total_cmp(&a.1));
    if tracing::enabled!(tracing::Level::DEBUG) {
        let ranked: Vec<String> = articles.iter().take(4).map(|(d, s)| format!("{d}={s:.4}")).collect();
        tracing::debug!(question, ranked = ranked.join(" "), "articles ranked");
    }
    let Some((document, _)) = articles.first() else { return Ok(None) };
    if let Some(entity) = uncovered_entity(tools, &question).await? {
        tracing::debug!(entity, "question names something the knowledge base never mentions");
        return Ok(None);
    }
    // Compose from the whole article: its sections most like the message,
    // within the channel's budget, in the article's order.
    let query = format!("{first_query}\n{question}");
    let sections = tools.read_article(document, &query).await?;
    // A short channel's answer is condensed from what a long one would
    // quote, so the sentences that matter can come from any section.
    let passages = if budget_chars < compose::CONDENSE_BELOW {
        choose_sections(&sections, compose::CONDENSE_FROM)
    } else {
        choose_sections(&sections, budget_chars)
    };
    let best_bm25 = results
        .iter()
        .flat_map(|r| r.hits.iter())
        .filter(|h| &h.document == document)
        .map(|h| h.bm25)
        .fold(0.0f32, f32::max);
    let best_cos = sections.iter().map(|h| h.cosine).fold(0.0f32, f32::max);
    let confidence = (0.55 + 0.25 * (best_bm25 / 12.0).min(1.0) + 0.4 * best_cos.max(0.0)).clamp(0.0, 0.99);
    tracing::debug!(document = %document, best_bm25, best_cos, confidence, sections = passages.len(), "answer composed");
    let paragraphs = if budget_chars < compose::CONDENSE_BELOW {
        condensed(tools, &passages, &question_or(&question, &first_query), budget_chars).await
    } else {
        compose::answer_paragraphs(&passages)
    };
    Ok(Some(Answer { paragraphs, sources: vec![document.clone()], confidence }))
}

fn question_or(question: &str, message: &str) -> String {
    if question.trim().is_empty() { message.to_string() } else { format!("{message}\n{question}") }
}

/// The answer cut down to its units most like the question: by meaning
/// (the embedder's cosine between unit and question, plus half its
/// section's), and by words (`compose::lexical_scores`). Without vectors,
/// by words and sections alone.
async fn condensed(tools: &TurnTools<'_>, passages: &[&SearchHit], query: &str, budget: usize) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut section_of = Vec::new();
    for p in passages {
        for para in compose::answer_paragraphs(&[p]) {
            paragraphs.push(para);
            section_of.push(p.cosine.max(0.0));
        }
    }
    let units = compose::answer_units(&paragraphs);
    let prior: Vec<f32> = units.iter().map(|u| 0.5 * section_of.get(u.paragraph()).copied().unwrap_or(0.0)).collect();
    let lexical = compose::lexical_scores(&units, query);
    let mut texts = vec![query.to_string()];
    texts.extend(units.iter().map(|u| u.text.replace("**", "")));
    let scores: Vec<f32> = match tools.embedder.embed(&texts).await {
        Ok(vectors) if vectors.len() == texts.len() => vectors[1..]
            .iter()
            .zip(lexical.iter().zip(&prior))
            .map(|(v, (l, p))| cosine(&vectors[0], v) + 0.5 * l + p)
            .collect(),
        _ => lexical.iter().zip(&prior).map(|(l, p)| l + p).collect(),
    };
    compose::condense_units(&units, &scores, budget)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
}

/// The sections to quote: by similarity to the message (cosine, then
/// keyword score), while they fit in `budget` characters — the best one
/// always — then put back in article order.
fn choose_sections(sections: &[SearchHit], budget: usize) -> Vec<&SearchHit> {
    let max_bm25 = sections.iter().map(|h| h.bm25).fold(0.0f32, f32::max).max(1e-3);
    let mut ranked: Vec<&SearchHit> = sections.iter().collect();
    let key = |h: &SearchHit| 0.6 * h.cosine + 0.4 * h.bm25 / max_bm25;
    ranked.sort_by(|a, b| key(b).total_cmp(&key(a)));
    let mut chosen: Vec<&SearchHit> = Vec::new();
    let mut used = 0;
    for h in ranked {
        let len = h.content.chars().count() + h.heading.chars().count();
        if chosen.is_empty() || used + len <= budget {
            used += len;
            chosen.push(h);
        }
    }
    chosen.sort_by_key(|h| h.chunk_index);
    chosen
}

/// A product or brand the question names (a run of capitalised words
/// inside a sentence, e.g. "Apple Watch", "Microsoft Teams") that no
/// article mentions: the knowledge base cannot answer a question about it.
async fn uncovered_entity(tools: &mut TurnTools<'_>, question: &str) -> Result<Option<String>, ToolError> {
    for entity in named_entities(question) {
        if !tools.kb_mentions(&entity).await? {
            return Ok(Some(entity));
        }
    }
    Ok(None)
}

/// Runs of two or more capitalised words, or one capitalised word that
/// does not start its sentence.
pub fn named_entities(text: &str) -> Vec<String> {
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
                if run.len() >= 2 || run_start > 0 {
                    // A sentence-initial word is only part of a longer name.
                    let from = usize::from(run_start == 0 && run.len() >= 2 && is_common_opener(run[0]));
                    if run.len() - from >= 1 && (run_start > 0 || run.len() - from >= 2) {
                        out.push(run[from..].join(" "));
                    }
                }
                run.clear();
            }
        }
    }
    out.retain(|e| e.len() > 2 && !is_common_opener(e) && !e.split(' ').all(is_calendar_word));
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

/// The sentences that ask something (with `?`, or starting like a
/// question or a request); the whole message when none do.
pub fn question_text(message: &str) -> String {
    const STARTS: [&str; 20] = [
        "how", "what", "why", "where", "when", "which", "who", "can", "could", "is", "are", "do", "does", "will",
        "would", "should", "any", "please", "i need", "i want",
    ];
    let sentences: Vec<&str> =
        message.split_inclusive(['.', '?', '!', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect();
    let asked: Vec<&str> = sentences
        .iter()
        .copied()
        .filter(|s| {
            let lower = s.to_lowercase();
            s.ends_with('?') || STARTS.iter().any(|w| lower.starts_with(&format!("{w} ")))
        })
        .collect();
    if asked.is_empty() {
        return message.to_string();
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

/// The answer as reply parts for `send_response`.
pub fn answer_parts(
    answer: &Answer,
    first_name: Option<String>,
    first_reply: bool,
    empathy: Option<String>,
) -> ReplyParts {
    ReplyParts { first_name, first_reply, empathy, paragraphs: answer.paragraphs.clone(), ..Default::default() }
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
    fn question_sentences_are_picked_out_of_the_story() {
        let m = "We moved offices last week. Everything is slow. How do I check the WebSocket connection? Thanks!";
        assert_eq!(question_text(m), "How do I check the WebSocket connection?");
        assert_eq!(question_text("Board is slow"), "Board is slow");
    }
}
