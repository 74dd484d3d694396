//! Reranking of hybrid-search candidates. The first stage fuses the
//! cosine ranking and the BM25F ranking by reciprocal rank (robust to the
//! two scores' different scales); this step adds, on the same scale as one
//! first-place rank, the candidate's cosine relative to the best
//! candidate's and the share of the question's own words (the focus, IDF
//! weighted) it contains. The weights were fitted on the development
//! tickets (`fte eval --retrieval`, docs/agent.md).

use super::search::SearchHit;

/// The reciprocal-rank-fusion constant of the first stage: a first place
/// is worth `1 / (RRF_K + 1)`.
pub const RRF_K: f32 = 60.0;
/// Weight of the relative cosine, in first places.
const COSINE: f32 = 0.5;
/// Weight of the focus coverage, in first places.
const FOCUS: f32 = 0.0;

/// The share of the focus's IDF mass that `hit` contains (0..1).
pub fn focus_coverage(hit: &SearchHit, focus: &[(String, f32)]) -> f32 {
    let total: f32 = focus.iter().map(|(_, idf)| idf).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let matched: f32 = focus.iter().filter(|(l, _)| hit.focus_matched.contains(l)).map(|(_, idf)| idf).sum();
    matched / total
}

/// Adds the reranking terms to each hit's first-stage `score` and orders
/// `hits` by it, best first (ties: BM25F, then id).
pub fn rerank(hits: &mut [SearchHit], focus: &[(String, f32)]) {
    let max_cos = hits.iter().map(|h| h.cosine).fold(0.0f32, f32::max).max(1e-3);
    for h in hits.iter_mut() {
        let bonus = COSINE * h.cosine.max(0.0) / max_cos + FOCUS * focus_coverage(h, focus);
        h.score += bonus / (RRF_K + 1.0);
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.bm25.total_cmp(&a.bm25)).then(a.id.cmp(&b.id)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(n: u128, cosine: f32, bm25: f32, score: f32, focus: &[&str]) -> SearchHit {
        SearchHit {
            id: uuid::Uuid::from_u128(n),
            document: format!("d{n}.md"),
            title: String::new(),
            heading: String::new(),
            chunk_index: 0,
            content: String::new(),
            cosine,
            bm25,
            matched: 0.0,
            score,
            focus_matched: focus.iter().map(|s| s.to_string()).collect(),
            path: Vec::new(),
        }
    }

    #[test]
    fn a_close_second_with_the_nearer_meaning_moves_up() {
        // Tied on fused rank; the one nearer in meaning wins.
        let mut hits = vec![hit(1, 0.30, 9.0, 0.0325, &[]), hit(2, 0.60, 8.0, 0.0325, &[])];
        rerank(&mut hits, &[]);
        assert_eq!(hits[0].id, uuid::Uuid::from_u128(2));
        // A clear first place by fused rank stays first.
        let mut hits = vec![hit(1, 0.30, 9.0, 0.0328, &[]), hit(2, 0.60, 1.0, 0.0160, &[])];
        rerank(&mut hits, &[]);
        assert_eq!(hits[0].id, uuid::Uuid::from_u128(1));
    }

    #[test]
    fn focus_coverage_is_the_share_of_the_questions_word_weight() {
        let focus = vec![("guest".to_string(), 3.0), ("time".to_string(), 1.0)];
        assert!((focus_coverage(&hit(1, 0.0, 0.0, 0.0, &["guest"]), &focus) - 0.75).abs() < 1e-6);
        assert_eq!(focus_coverage(&hit(1, 0.0, 0.0, 0.0, &[]), &[]), 0.0);
    }
}
