//! `LocalBrain`'s answering step (offline, deterministic): two knowledge-
//! base searches at most (the whole message, then the question with what
//! it refers back to; German, French and Spanish words expanded with the
//! English terms of a glossary), articles ranked by their best passages,
//! a confidence calibrated on the development tickets from the retrieval's
//! evidence, and either `no_knowledge` (the question is not covered) or an
//! answer that leads with the sentences that answer the question, keeping
//! the conditions the article attaches to them. Messages in German, French
//! or Spanish are answered in English, with a line saying so in the
//! customer's language.

use super::compose;
use super::format::ReplyParts;
use super::question::{named_entities, question_text};
use super::tools::{SearchKnowledgeBaseInput, ToolError, TurnTools};
use crate::kb::{SearchHit, SearchResult, glossary, rerank};

/// What retrieval found good enough to answer with.
#[derive(Clone, Debug)]
pub struct Answer {
    pub paragraphs: Vec<String>,
    /// The answer's key sentences (the best-ranked one with the conditions
    /// the article attaches to it), as they read in `paragraphs`: what the
    /// answer leads with, and what a short channel must keep.
    pub lead: Option<String>,
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
) -> Result<Retrieved, ToolError> {
    let plan = search_plan(subject, message);
    let question = plan.last().map(|q| q.focus.clone()).unwrap_or_default();
    let first_query = plan.first().map(|q| q.text.clone()).unwrap_or_default();
    let mut results = Vec::new();
    for q in &plan {
        let r = tools
            .search_focused(SearchKnowledgeBaseInput { query: q.text.clone(), max_results: Some(5) }, Some(&q.focus))
            .await?;
        results.push((q.weight, r));
    }
    let articles = rank_articles(&results);
    if tracing::enabled!(tracing::Level::DEBUG) {
        let ranked: Vec<String> = articles.iter().take(4).map(|(d, s)| format!("{d}={s:.4}")).collect();
        tracing::debug!(question, ranked = ranked.join(" "), "articles ranked");
    }
    let Some((document, _)) = articles.first() else {
        return Ok(Retrieved::Uncovered { confidence: NOTHING_FOUND_CONFIDENCE });
    };
    if let Some(entity) = uncovered_entity(tools, &question_text(message)).await? {
        tracing::debug!(entity, "question names something the knowledge base never mentions");
        return Ok(Retrieved::Uncovered { confidence: ENTITY_CONFIDENCE });
    }
    let evidence = Evidence::of(&results, &articles);
    let confidence = evidence.confidence();
    if let Some(handover) = evidence.uncovered() {
        tracing::debug!(document = %document, ?evidence, confidence, "the best article does not cover the question");
        return Ok(Retrieved::Uncovered { confidence: handover });
    }
    // Compose from the article: its sections most like the message, within
    // the channel's budget, led by the sentences that answer the question.
    let query = format!("{first_query}\n{question}");
    let sections = tools.read_article(document, &query).await?;
    // The English embedder and the sentences' words compare best with
    // English: a message in another language is represented by the English
    // terms of its glossary words.
    let language = glossary::detect(message);
    let terms = glossary::expand(&question);
    let unit_query = if language.main != glossary::Lang::En && !terms.is_empty() {
        terms.join(" ")
    } else {
        question_or(&question, &first_query)
    };
    let note = language_note(language.main);
    let budget = budget_chars.saturating_sub(note.map_or(0, |n| n.chars().count() + 2));
    // A short channel's answer is condensed from what a long one would
    // quote, so the sentences that matter can come from any section.
    let passages = if budget < compose::CONDENSE_BELOW {
        choose_sections(&sections, compose::CONDENSE_FROM)
    } else {
        choose_sections(&sections, budget)
    };
    tracing::debug!(document = %document, ?evidence, confidence, sections = passages.len(), "answer composed");
    let (mut paragraphs, lead) = focused_answer(tools, &passages, &unit_query, budget).await;
    if let Some(note) = note {
        paragraphs.insert(0, note.to_string());
    }
    Ok(Retrieved::Answer(Answer { paragraphs, lead, sources: vec![document.clone()], confidence }))
}

/// What the local brain makes of a question.
#[derive(Clone, Debug)]
pub enum Retrieved {
    Answer(Answer),
    /// The knowledge base does not cover the question (`no_knowledge`), with
    /// the confidence that handing it over is right.
    Uncovered {
        confidence: f32,
    },
}

/// Confidence of a hand-over when no article matches at all.
const NOTHING_FOUND_CONFIDENCE: f32 = 0.95;
/// Confidence of a hand-over when the question names a product the
/// knowledge base never mentions.
const ENTITY_CONFIDENCE: f32 = 0.9;

/// What the searches say about the best article: the features of the
/// calibrated confidence.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Evidence {
    /// Best cosine similarity of the article's hits.
    pub cosine: f32,
    /// Best BM25F score of the article's hits.
    pub bm25: f32,
    /// How far the article is ahead of the second: (first − second) / first.
    pub margin: f32,
    /// Best share of the question's word weight one of its hits contains.
    pub focus: f32,
}

/// The confidence model: a logistic regression of "the best article is
/// the labelled one" on the evidence, fitted on the development tickets
/// (docs/agent.md, "Calibration"). Intercept, cosine, margin, ln(1 + BM25F),
/// focus coverage.
const CALIBRATION: [f32; 5] = [-3.305, 0.835, -0.014, 1.918, -0.548];
/// Below this best cosine the article is not about the question, however
/// many of its words it shares (on the development tickets the answered
/// ones have 0.37 or more; a question on a feature nobody documented had
/// 0.06).
const UNCOVERED_COSINE: f32 = 0.2;
/// Confidence of that hand-over.
const UNCOVERED_COSINE_CONFIDENCE: f32 = 0.9;
/// Below this confidence the answer is more likely wrong than right: the
/// question is handed over as `no_knowledge`.
const UNCOVERED_BELOW: f32 = 0.5;

impl Evidence {
    /// The evidence for the first of `articles` in the searches' hits.
    pub fn of(results: &[(f32, SearchResult)], articles: &[(String, f32)]) -> Self {
        let Some((document, first)) = articles.first() else { return Self::default() };
        let second = articles.get(1).map_or(0.0, |(_, s)| *s);
        let mut e = Self { margin: if *first > 0.0 { (first - second) / first } else { 0.0 }, ..Self::default() };
        for (_, r) in results {
            for h in r.hits.iter().filter(|h| &h.document == document) {
                e.cosine = e.cosine.max(h.cosine);
                e.bm25 = e.bm25.max(h.bm25);
                e.focus = e.focus.max(rerank::focus_coverage(h, &r.focus));
            }
        }
        e
    }

    /// The calibrated probability that the article answers the question.
    pub fn confidence(&self) -> f32 {
        let [b, c, m, l, f] = CALIBRATION;
        let z = b + c * self.cosine + m * self.margin + l * self.bm25.max(0.0).ln_1p() + f * self.focus;
        (1.0 / (1.0 + (-z).exp())).clamp(0.01, 0.99)
    }

    /// When the knowledge base does not cover the question: the confidence
    /// that handing it over is right.
    pub fn uncovered(&self) -> Option<f32> {
        if self.cosine < UNCOVERED_COSINE {
            return Some(UNCOVERED_COSINE_CONFIDENCE);
        }
        let confidence = self.confidence();
        (confidence < UNCOVERED_BELOW).then_some(1.0 - confidence)
    }
}

/// The line that opens an answer to a message written in German, French
/// or Spanish: the local brain answers from the English articles, in
/// English, and says so in the customer's language. None for English and
/// for messages that mix English with another language.
pub fn language_note(language: glossary::Lang) -> Option<&'static str> {
    match language {
        glossary::Lang::En => None,
        glossary::Lang::De => Some("Ich kann leider nur auf Englisch antworten."),
        glossary::Lang::Fr => Some("Je ne peux malheureusement répondre qu'en anglais."),
        glossary::Lang::Es => Some("Lo siento, solo puedo responder en inglés."),
    }
}

/// One knowledge-base search of a turn.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedQuery {
    /// What is searched.
    pub text: String,
    /// The question itself (see [`question_text`]): the words a hit should
    /// contain.
    pub focus: String,
    /// How much the search counts when ranking articles.
    pub weight: f32,
}

/// How much the search with the question alone counts against the one with
/// the whole message.
const QUESTION_WEIGHT: f32 = 0.6;

/// The turn's searches: the whole message (with its subject), then the
/// question sentences alone when they differ. A message in German, French
/// or Spanish, or mixing one with English, is searched with the English
/// terms of its glossary words added ([`glossary::expand_query`]).
pub fn search_plan(subject: Option<&str>, message: &str) -> Vec<PlannedQuery> {
    let whole = match subject {
        Some(s) if !s.trim().is_empty() => format!("{s}\n{message}"),
        _ => message.to_string(),
    };
    let question = question_text(message);
    let focus = glossary::expand_query(&question);
    let mut plan = vec![PlannedQuery { text: glossary::expand_query(&whole), focus: focus.clone(), weight: 1.0 }];
    if !question.trim().is_empty() && question != whole {
        plan.push(PlannedQuery { text: focus.clone(), focus, weight: QUESTION_WEIGHT });
    }
    plan
}

/// Articles by their best passages in each search: keyword and vector
/// similarity, each relative to that search's best, weighted by the
/// search's weight, plus a share of the article's second-best passage (an
/// article with several matching sections is the likelier one). Best first.
pub fn rank_articles(results: &[(f32, SearchResult)]) -> Vec<(String, f32)> {
    let mut articles: Vec<(String, f32)> = Vec::new();
    for (weight, r) in results {
        let max_bm25 = r.hits.iter().map(|h| h.bm25).fold(0.0f32, f32::max).max(1e-3);
        let max_cos = r.hits.iter().map(|h| h.cosine).fold(0.0f32, f32::max).max(1e-3);
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
        for (doc, mut v) in per_doc {
            v.sort_by(|a, b| b.total_cmp(a));
            let score = v[0] + SECOND * v.get(1).copied().unwrap_or(0.0);
            match articles.iter_mut().find(|(d, _)| *d == doc) {
                Some((_, s)) => *s += score,
                None => articles.push((doc, score)),
            }
        }
    }
    articles.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    articles
}

fn question_or(question: &str, message: &str) -> String {
    if question.trim().is_empty() { message.to_string() } else { format!("{message}\n{question}") }
}

/// The answer from the chosen sections, led by what answers the question
/// ([`compose::focused`]): every sentence and list item is scored by
/// meaning (the embedder's cosine between it and the question, plus half
/// its section's), and by words (`compose::lexical_scores`); without
/// vectors, by words and sections alone. A long channel keeps every chosen
/// section, the lead first and the steps whole; a short one
/// (< [`compose::CONDENSE_BELOW`]) keeps the best units within `budget`.
/// Also returns the lead (the answer's key sentence). A section whose
/// heading names the plans it is for ("Audit log (Enterprise)") says so.
async fn focused_answer(
    tools: &TurnTools<'_>,
    passages: &[&SearchHit],
    query: &str,
    budget: usize,
) -> (Vec<String>, Option<String>) {
    let long = budget >= compose::CONDENSE_BELOW;
    // The sections whose sentences are compared with the question by
    // meaning: all of a short answer's, the two best of a long one's (the
    // lead comes from them; embedding every sentence costs more than the
    // search).
    let max_bm25 = passages.iter().map(|h| h.bm25).fold(0.0f32, f32::max).max(1e-3);
    let key = |h: &SearchHit| 0.6 * h.cosine + 0.4 * h.bm25 / max_bm25;
    let mut best: Vec<usize> = (0..passages.len()).collect();
    best.sort_by(|&a, &b| key(passages[b]).total_cmp(&key(passages[a])));
    best.truncate(if long { 2 } else { passages.len() });
    let has_sections = passages.iter().any(|p| p.chunk_index > 0 && !p.heading.is_empty());
    let mut paragraphs = Vec::new();
    let mut section_of = Vec::new();
    let mut embedded_paragraph = Vec::new();
    let mut heading_of = Vec::new();
    // Every unit of the article's opening scores this much less as the
    // lead when other sections are quoted: an opening summarises, it
    // seldom answers.
    const OPENING: f32 = 0.25;
    let mut opening_paragraph = Vec::new();
    for (pi, p) in passages.iter().enumerate() {
        let mut paras = compose::answer_paragraphs(&[p]);
        if let (Some(condition), Some(first)) = (heading_condition(&p.heading), paras.first_mut()) {
            let list = compose::starts_list(first);
            *first = format!("{condition}{}{first}", if list { "\n" } else { " " });
        }
        for para in paras {
            paragraphs.push(para);
            section_of.push(p.cosine.max(0.0));
            embedded_paragraph.push(best.contains(&pi));
            heading_of.push(p.heading.replace(" > ", ": "));
            opening_paragraph.push(has_sections && p.chunk_index == 0);
        }
    }
    let units = compose::answer_units(&paragraphs);
    let at = |v: &[bool], u: &compose::Unit| v.get(u.paragraph()).copied().unwrap_or(false);
    let prior: Vec<f32> = units.iter().map(|u| 0.5 * section_of.get(u.paragraph()).copied().unwrap_or(0.0)).collect();
    let lexical = compose::lexical_scores(&units, query);
    let embedded: Vec<usize> = (0..units.len()).filter(|&i| at(&embedded_paragraph, &units[i])).collect();
    let mut texts = vec![query.to_string()];
    // A sentence is compared in its section's context: its heading first.
    texts.extend(embedded.iter().map(|&i| {
        let text = units[i].text.replace("**", "");
        match heading_of.get(units[i].paragraph()).filter(|h| !h.is_empty()) {
            Some(heading) => format!("{heading}: {text}"),
            None => text,
        }
    }));
    let mut meaning = vec![0.0f32; units.len()];
    match tools.embedder.embed(&texts).await {
        Ok(vectors) if vectors.len() == texts.len() => {
            for (&i, v) in embedded.iter().zip(&vectors[1..]) {
                meaning[i] = cosine(&vectors[0], v);
            }
        }
        _ => meaning = lexical.clone(),
    }
    let scores: Vec<f32> = (0..units.len()).map(|i| meaning[i] + 0.5 * lexical[i] + prior[i]).collect();
    let lead_scores: Vec<f32> =
        units.iter().zip(&scores).map(|(u, s)| if at(&opening_paragraph, u) { s - OPENING } else { *s }).collect();
    if long {
        compose::focused(&units, &scores, &lead_scores, usize::MAX, true)
    } else {
        compose::focused(&units, &scores, &lead_scores, budget, false)
    }
}

/// The plans a section is for, from its heading's parenthesis ("Share
/// with a link (Team, Pro, Enterprise)" → "Available on Team, Pro,
/// Enterprise.").
fn heading_condition(heading: &str) -> Option<String> {
    let last = heading.rsplit(" > ").next().unwrap_or(heading);
    let inside = last.rsplit_once('(')?.1.strip_suffix(')')?.trim();
    let plans = ["Starter", "Team", "Pro", "Enterprise"];
    let all_plans = !inside.is_empty()
        && inside.split([',', '/']).map(|p| p.trim().trim_start_matches("and ").trim()).all(|p| plans.contains(&p));
    all_plans.then(|| format!("Available on {inside}."))
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

/// The answer as reply parts for `send_response`.
pub fn answer_parts(
    answer: &Answer,
    first_name: Option<String>,
    first_reply: bool,
    empathy: Option<String>,
) -> ReplyParts {
    ReplyParts {
        first_name,
        first_reply,
        empathy,
        paragraphs: answer.paragraphs.clone(),
        lead: answer.lead.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_a_heading_names_becomes_a_sentence() {
        assert_eq!(
            heading_condition("Share with a link (Team, Pro, Enterprise)").as_deref(),
            Some("Available on Team, Pro, Enterprise.")
        );
        assert_eq!(heading_condition("Audit log (Enterprise)").as_deref(), Some("Available on Enterprise."));
        assert_eq!(heading_condition("Exports (CSV or PDF)"), None);
        assert_eq!(heading_condition("Create a project"), None);
    }

    #[test]
    fn confidence_grows_with_the_evidence_and_a_foreign_answer_says_it_is_in_english() {
        let weak = Evidence { cosine: 0.3, bm25: 5.0, margin: 0.05, focus: 0.1 };
        let strong = Evidence { cosine: 0.7, bm25: 25.0, margin: 0.6, focus: 0.5 };
        assert!(strong.confidence() > weak.confidence());
        assert!((0.0..=1.0).contains(&weak.confidence()) && (0.0..=1.0).contains(&strong.confidence()));
        assert!(Evidence { cosine: 0.05, ..strong }.uncovered().is_some());
        assert_eq!(strong.uncovered(), None);
        assert!(strong.confidence() > 0.9 && weak.confidence() < 0.8, "{} {}", strong.confidence(), weak.confidence());
        assert_eq!(language_note(glossary::Lang::En), None);
        assert!(language_note(glossary::Lang::De).is_some_and(|n| n.contains("Englisch")));
    }

    #[test]
    fn a_foreign_message_is_searched_with_english_terms() {
        let plan =
            search_plan(None, "Hallo, ich habe aus Versehen ein Projekt gelöscht. Kann man das noch zurückholen?");
        assert!(plan.iter().all(|q| q.text.contains("trash") || q.text.contains("restore")), "{plan:?}");
        let plan = search_plan(Some("Export"), "How do I export a report? Thanks");
        assert_eq!(plan[0].text, "Export\nHow do I export a report? Thanks");
    }
}
