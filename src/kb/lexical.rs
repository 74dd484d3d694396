//! The keyword side of hybrid search: BM25F over PostgreSQL's own lexemes.
//! Candidates come with their `tsvector` (lexemes, positions and the
//! title/heading/content weight of each position); document frequencies
//! come from `ts_stat` over the tenant's chunks, cached for a short while.
//! Scoring in Rust lets rare, decisive words ("webhook", "SCIM") count for
//! more than common ones ("workspace"), which `ts_rank_cd` cannot do.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long document frequencies are reused before being read again.
pub const STATS_TTL: Duration = Duration::from_secs(30);

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Corpus statistics of one tenant's chunks (one embedder).
#[derive(Clone, Debug)]
pub struct LexicalStats {
    pub chunks: u32,
    pub avg_len: f32,
    pub df: HashMap<String, u32>,
    pub fetched: Instant,
}

impl LexicalStats {
    pub fn new(chunks: u32, total_entries: u64, df: HashMap<String, u32>) -> Self {
        let avg_len = if chunks == 0 { 1.0 } else { (total_entries as f32 / chunks as f32).max(1.0) };
        Self { chunks, avg_len, df, fetched: Instant::now() }
    }

    /// BM25 inverse document frequency; a word the corpus never uses gets
    /// the highest value.
    pub fn idf(&self, lexeme: &str) -> f32 {
        let n = self.df.get(lexeme).copied().unwrap_or(0) as f32;
        let total = self.chunks.max(1) as f32;
        (1.0 + (total - n + 0.5) / (n + 0.5)).ln()
    }
}

/// One chunk's lexemes: weighted term frequency and length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lexemes {
    pub tf: HashMap<String, f32>,
    pub len: f32,
}

/// Weight of a position by section: title (A), heading (B), content (C/D).
fn field_weight(w: char) -> f32 {
    match w {
        'A' => 3.0,
        'B' => 2.0,
        _ => 1.0,
    }
}

/// Parses PostgreSQL's text form of a tsvector:
/// `'lexeme':1A,5 'other':3B` (a lexeme without positions counts once).
pub fn parse_tsvector(text: &str) -> Lexemes {
    let mut out = Lexemes::default();
    let mut rest = text.trim();
    while let Some(start) = rest.find('\'') {
        let after = &rest[start + 1..];
        // A quote inside a lexeme is doubled.
        let mut lexeme = String::new();
        let mut chars = after.char_indices().peekable();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if let Some((_, '\'')) = chars.peek() {
                    lexeme.push('\'');
                    chars.next();
                    continue;
                }
                end = i + 1;
                break;
            }
            lexeme.push(c);
        }
        rest = &after[end.min(after.len())..];
        let mut weight = 0.0;
        let mut positions = 0.0;
        if let Some(pos) = rest.strip_prefix(':') {
            let spec: &str = pos.split(' ').next().unwrap_or_default();
            for p in spec.split(',') {
                let w = p.chars().last().filter(|c| c.is_ascii_alphabetic()).unwrap_or('D');
                weight += field_weight(w);
                positions += 1.0;
            }
            rest = &pos[spec.len()..];
        } else {
            weight = 1.0;
            positions = 1.0;
        }
        out.len += positions;
        *out.tf.entry(lexeme).or_insert(0.0) += weight;
    }
    out
}

/// BM25F score of a chunk for the query lexemes, and the share of the
/// query's IDF mass the chunk contains (0..1).
pub fn score(stats: &LexicalStats, query: &[String], chunk: &Lexemes) -> (f32, f32) {
    let mut score = 0.0;
    let mut matched = 0.0;
    let mut total = 0.0;
    for q in query {
        let idf = stats.idf(q);
        total += idf;
        if let Some(tf) = chunk.tf.get(q) {
            matched += idf;
            let norm = K1 * (1.0 - B + B * chunk.len / stats.avg_len);
            score += idf * tf * (K1 + 1.0) / (tf + norm);
        }
    }
    (score, if total > 0.0 { matched / total } else { 0.0 })
}

/// Keyword candidates are ranked row by row in PostgreSQL, so their number
/// is the search's cost: past this many expected matches the commonest
/// query words (the lowest idf, the least evidence) stop selecting
/// candidates. They still count in every candidate's score.
pub const TEXT_MATCH_BUDGET: u64 = 2_000;

/// The query's lexemes that select keyword candidates: the rarest first,
/// while their document frequencies add up to at most
/// [`TEXT_MATCH_BUDGET`] (and at least the rarest one).
pub fn match_lexemes<'a>(lexemes: &'a [String], stats: &LexicalStats) -> Vec<&'a String> {
    let mut by_df: Vec<(&String, u64)> =
        lexemes.iter().map(|l| (l, u64::from(stats.df.get(l).copied().unwrap_or(0)))).collect();
    by_df.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    let mut expected = 0u64;
    let mut kept = Vec::new();
    for (lexeme, df) in by_df {
        if !kept.is_empty() && expected + df > TEXT_MATCH_BUDGET {
            break;
        }
        expected += df;
        kept.push(lexeme);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positions_weights_and_quotes() {
        let l = parse_tsvector("'export':1A,4C 'it''s':2 'pdf':3B 'bare'");
        assert_eq!(l.tf["export"], 4.0);
        assert_eq!(l.tf["it's"], 1.0);
        assert_eq!(l.tf["pdf"], 2.0);
        assert_eq!(l.tf["bare"], 1.0);
        assert_eq!(l.len, 5.0);
    }

    #[test]
    fn rare_words_outweigh_common_ones() {
        let df = HashMap::from([("workspac".to_string(), 9), ("webhook".to_string(), 1)]);
        let stats = LexicalStats::new(10, 100, df);
        let rare = parse_tsvector("'webhook':1");
        let common = parse_tsvector("'workspac':1");
        let q = vec!["webhook".to_string(), "workspac".to_string()];
        let (s_rare, m_rare) = score(&stats, &q, &rare);
        let (s_common, m_common) = score(&stats, &q, &common);
        assert!(s_rare > s_common && m_rare > m_common);
        assert!((m_rare + m_common - 1.0).abs() < 1e-5);
    }

    #[test]
    fn the_rarest_words_select_candidates_within_the_budget() {
        let df = |pairs: &[(&str, u32)]| pairs.iter().map(|(w, n)| (w.to_string(), *n)).collect();
        let words = |ws: &[&str]| ws.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        let query = words(&["invoic", "export", "csv", "quarterli"]);
        // A small corpus: every word selects.
        let small = LexicalStats::new(208, 20_000, df(&[("invoic", 90), ("export", 20), ("csv", 6)]));
        let mut all: Vec<&String> = match_lexemes(&query, &small);
        all.sort();
        assert_eq!(all, ["csv", "export", "invoic", "quarterli"]);
        // A large one: the common words stop selecting.
        let large = LexicalStats::new(100_000, 9_000_000, df(&[("invoic", 40_000), ("export", 1_500), ("csv", 400)]));
        assert_eq!(match_lexemes(&query, &large), ["quarterli", "csv", "export"]);
        // Even when the rarest alone is over the budget, it selects.
        let huge = LexicalStats::new(1_000_000, 90_000_000, df(&[("invoic", 400_000), ("export", 90_000)]));
        assert_eq!(match_lexemes(&words(&["invoic", "export"]), &huge), ["export"]);
    }
}
