//! Tenant-scoped hybrid search of the knowledge base in PostgreSQL:
//! candidates by pgvector HNSW cosine and by full text, scored by BM25F
//! with per-tenant corpus statistics, fused by reciprocal rank and
//! reranked.

use super::chunker::heading_path;
use super::embedder::{Embedder, to_stored};
use super::error::KbError;
use super::lexical::{self, LexicalStats, STATS_TTL};
use super::rerank::{self, RRF_K};
use crate::db::begin_tenant;
use crate::domain::TenantId;
use dashmap::DashMap;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use uuid::Uuid;

/// Searches return at most this many hits (DESIGN.md §5).
pub const MAX_RESULTS: usize = 5;

/// The width that has an HNSW index of its own (MiniLM's).
const NARROW_DIMS: usize = 384;

/// Hybrid candidates: the 20 nearest chunks by cosine and the 20 best
/// keyword matches (`$1` embedder, `$2` query vector, `$3` OR-ed lexemes).
/// The limits are literals so that a generic plan of the prepared
/// statement still expects 40 rows and fetches them by key, not by a scan
/// of the table. Keyword matches are ranked row by row, so at most 500 of
/// them are (a corpus that matches more has had its commonest query words
/// left out of the match already, see [`lexical::match_lexemes`]). The
/// match (`@@`) takes them from the full-text index when PostgreSQL may
/// evaluate it before the row-level-security policy, that is when
/// `ts_match_vq` is `LEAKPROOF` (see [`keyword_index_usable`]); otherwise
/// it filters the tenant's chunks one by one. Either way the policy alone
/// decides which rows come back. The statements for the two widths differ
/// only in the vector expression, which must match an index's exactly.
macro_rules! search_sql {
    ($filter:literal, $vector:literal) => {
        concat!(
            "WITH by_vector AS (
                 SELECT id FROM knowledge_base WHERE embedder = $1 AND ",
            $filter,
            " ORDER BY ",
            $vector,
            " <=> $2 LIMIT 20
             ), by_text AS (
                 SELECT id FROM (
                     SELECT id, search_text FROM knowledge_base
                      WHERE $3 <> '' AND embedder = $1 AND search_text @@ to_tsquery('simple', $3)
                      LIMIT 500
                 ) matched
                 ORDER BY ts_rank_cd(search_text, to_tsquery('simple', $3)) DESC, id LIMIT 20
             )
             SELECT id, document, title, heading, chunk_index, content, 1 - (",
            $vector,
            " <=> $2), search_text::text
               FROM knowledge_base
              WHERE id IN (SELECT id FROM by_vector UNION SELECT id FROM by_text)"
        )
    };
}

const WIDE_SEARCH: &str = search_sql!("dims <> 384", "embedding");
const NARROW_SEARCH: &str = search_sql!("dims = 384", "subvector(embedding, 1, 384)::vector(384)");

/// Whether keyword matches can come from the full-text index under
/// row-level security: only when `ts_match_vq` (the `@@` of a `tsvector`
/// and a `tsquery`) is marked `LEAKPROOF`, a superuser's one-time step per
/// database (docs/operations.md gives it and the argument for it). Without
/// it a search is as correct, and at 100,000 chunks several times slower.
pub async fn keyword_index_usable(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT proleakproof FROM pg_proc WHERE oid = 'pg_catalog.ts_match_vq(tsvector, tsquery)'::regprocedure",
    )
    .fetch_one(pool)
    .await
}

/// One search result.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub id: Uuid,
    pub document: String,
    pub title: String,
    pub heading: String,
    /// Position of the section in its article.
    pub chunk_index: i32,
    pub content: String,
    /// Cosine similarity of the query and the chunk (-1..1).
    pub cosine: f32,
    /// BM25F score of the chunk's words against the query's.
    pub bm25: f32,
    /// Share of the query's word weight (IDF mass) the chunk contains (0..1).
    pub matched: f32,
    /// Reciprocal-rank-fusion score of the two rankings; hits are ordered
    /// by it.
    pub score: f32,
    /// The focus lexemes (see [`SearchResult::focus`]) this chunk contains.
    pub focus_matched: Vec<String>,
    /// The article's title and the chunk's headings below it (see
    /// [`chunker::heading_path`](super::chunker::heading_path)).
    pub path: Vec<String>,
}

/// Hits, and the weighted lexemes of the focus text (the question itself,
/// without the story around it): with each hit's `focus_matched`, how much
/// of the question a set of hits covers.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SearchResult {
    pub hits: Vec<SearchHit>,
    /// (lexeme, IDF) of the focus text.
    pub focus: Vec<(String, f32)>,
}

type Row = (Uuid, String, String, String, i32, String, f64, String);

fn score_rows(rows: Vec<Row>, stats: &LexicalStats, lexemes: &[String], focus: &[String]) -> Vec<SearchHit> {
    rows.into_iter()
        .map(|(id, document, title, heading, chunk_index, content, cosine, tsv)| {
            let chunk = lexical::parse_tsvector(&tsv);
            let (bm25, matched) = lexical::score(stats, lexemes, &chunk);
            let focus_matched = focus.iter().filter(|l| chunk.tf.contains_key(*l)).cloned().collect();
            let path = heading_path(&title, &heading).into_iter().map(str::to_string).collect();
            SearchHit {
                id,
                document,
                title,
                heading,
                chunk_index,
                content,
                cosine: cosine as f32,
                bm25,
                matched,
                score: 0.0,
                focus_matched,
                path,
            }
        })
        .collect()
}

/// Hybrid search with per-tenant corpus statistics cached in memory (see
/// [`lexical`]). One per process; cheap to share.
#[derive(Default)]
pub struct KbSearch {
    stats: DashMap<(TenantId, String), Arc<LexicalStats>>,
}

impl KbSearch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets a tenant's statistics (after an ingest in this process).
    pub fn invalidate(&self, tenant: TenantId) {
        self.stats.retain(|(t, _), _| *t != tenant);
    }

    /// Hybrid search over the tenant's chunks made by `embedder`: the
    /// candidates of [`KbSearch::candidates`], reranked ([`rerank`]). At
    /// most `limit` (≤ [`MAX_RESULTS`]) hits.
    pub async fn search(
        &self,
        pool: &PgPool,
        tenant: TenantId,
        embedder: &dyn Embedder,
        query: &str,
        focus: Option<&str>,
        limit: usize,
    ) -> Result<SearchResult, KbError> {
        let limit = limit.clamp(1, MAX_RESULTS);
        let mut result = self.candidates(pool, tenant, embedder, query, focus).await?;
        rerank::rerank(&mut result.hits, &result.focus);
        result.hits.truncate(limit);
        Ok(result)
    }

    /// Every candidate of a hybrid search, scored: the nearest chunks by
    /// cosine (HNSW) and the best keyword matches (BM25F over PostgreSQL
    /// lexemes), up to 20 of each, ordered by reciprocal-rank fusion of the
    /// two rankings (`score`).
    pub async fn candidates(
        &self,
        pool: &PgPool,
        tenant: TenantId,
        embedder: &dyn Embedder,
        query: &str,
        focus: Option<&str>,
    ) -> Result<SearchResult, KbError> {
        let vector = embedder.embed(&[query.to_string()]).await?.into_iter().next().unwrap_or_default();
        // 384-dimension vectors have an index of their own width (see the
        // migration `kb_narrow_index`); any other width the padded one.
        let (sql, query_vector) = if vector.len() == NARROW_DIMS {
            (NARROW_SEARCH, pgvector::Vector::from(vector))
        } else {
            to_stored(vector).map(|v| (WIDE_SEARCH, v))?
        };
        let mut tx = begin_tenant(pool, tenant).await?;
        let stats = self.stats_for(&mut tx, tenant, embedder.name()).await?;
        // One round trip for the transaction's planner settings: filtered
        // HNSW scans keep going until enough rows pass the filter; and no
        // table scans. Every part of the statement has an index that is
        // right at any corpus size, but at 100,000 chunks the planner took
        // a keyword match under a LIMIT for a table scan (it assumes
        // matches spread evenly; a rare word's are not), reading half the
        // table.
        sqlx::query(
            "SELECT set_config('hnsw.iterative_scan', 'strict_order', true), set_config('hnsw.ef_search', '100', true),
                    set_config('enable_seqscan', 'off', true)",
        )
        .execute(&mut *tx)
        .await?;
        // The query's and the focus's lexemes, in one round trip.
        let (lexemes, focus_lexemes): (Vec<String>, Vec<String>) = sqlx::query_as(
            "SELECT ARRAY(SELECT lexeme FROM unnest(to_tsvector('english', $1)) ORDER BY lexeme),
                    ARRAY(SELECT lexeme FROM unnest(to_tsvector('english', coalesce($2, ''))) ORDER BY lexeme)",
        )
        .bind(query)
        .bind(focus)
        .fetch_one(&mut *tx)
        .await?;
        let usable = |l: Vec<String>| -> Vec<String> { l.into_iter().filter(|l| l.len() <= 100).take(128).collect() };
        let (lexemes, focus_lexemes) = (usable(lexemes), usable(focus_lexemes));
        // Quoted lexemes, OR-ed: nothing in the customer's text is query
        // syntax.
        let or_query = lexical::match_lexemes(&lexemes, &stats)
            .into_iter()
            .filter(|l| !l.contains(['\\', '\'']))
            .map(|l| format!("'{l}'"))
            .collect::<Vec<_>>()
            .join(" | ");
        let rows: Vec<Row> =
            sqlx::query_as(sql).bind(embedder.name()).bind(&query_vector).bind(&or_query).fetch_all(&mut *tx).await?;
        tx.commit().await?;

        let mut hits = score_rows(rows, &stats, &lexemes, &focus_lexemes);
        // Reciprocal rank fusion of the two rankings.
        let mut order: Vec<usize> = (0..hits.len()).collect();
        order.sort_by(|a, b| hits[*b].cosine.total_cmp(&hits[*a].cosine));
        for (rank, i) in order.iter().enumerate() {
            hits[*i].score += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
        order.sort_by(|a, b| hits[*b].bm25.total_cmp(&hits[*a].bm25));
        for (rank, i) in order.iter().enumerate() {
            if hits[*i].bm25 > 0.0 {
                hits[*i].score += 1.0 / (RRF_K + rank as f32 + 1.0);
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.bm25.total_cmp(&a.bm25)).then(a.id.cmp(&b.id)));
        let focus = focus_lexemes.iter().map(|l| (l.clone(), stats.idf(l))).collect();
        Ok(SearchResult { hits, focus })
    }

    /// Whether any chunk of this embedder mentions `phrase` (a phrase query
    /// on the full-text index).
    pub async fn mentions(
        &self,
        pool: &PgPool,
        tenant: TenantId,
        embedder: &dyn Embedder,
        phrase: &str,
    ) -> Result<bool, KbError> {
        let mut tx = begin_tenant(pool, tenant).await?;
        let found: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM knowledge_base
                             WHERE embedder = $1 AND search_text @@ phraseto_tsquery('english', $2))",
        )
        .bind(embedder.name())
        .bind(phrase)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found)
    }

    /// Every section of one article, scored against `query` like search
    /// hits (`score` is left 0), in article order: for composing an answer
    /// from the article a search found.
    pub async fn article(
        &self,
        pool: &PgPool,
        tenant: TenantId,
        embedder: &dyn Embedder,
        document: &str,
        query: &str,
    ) -> Result<Vec<SearchHit>, KbError> {
        let vector = embedder.embed(&[query.to_string()]).await?.into_iter().next().unwrap_or_default();
        let stored = to_stored(vector)?;
        let mut tx = begin_tenant(pool, tenant).await?;
        let stats = self.stats_for(&mut tx, tenant, embedder.name()).await?;
        let lexemes: Vec<String> =
            sqlx::query_scalar("SELECT lexeme FROM unnest(to_tsvector('english', $1)) ORDER BY lexeme")
                .bind(query)
                .fetch_all(&mut *tx)
                .await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, document, title, heading, chunk_index, content, 1 - (embedding <=> $2), search_text::text
               FROM knowledge_base WHERE embedder = $1 AND document = $3 ORDER BY chunk_index",
        )
        .bind(embedder.name())
        .bind(&stored)
        .bind(document)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(score_rows(rows, &stats, &lexemes, &[]))
    }

    async fn stats_for(
        &self,
        conn: &mut PgConnection,
        tenant: TenantId,
        embedder: &str,
    ) -> Result<Arc<LexicalStats>, KbError> {
        let key = (tenant, embedder.to_string());
        if let Some(s) = self.stats.get(&key).filter(|s| s.fetched.elapsed() < STATS_TTL) {
            return Ok(s.clone());
        }
        let chunks: i64 = sqlx::query_scalar("SELECT count(*) FROM knowledge_base WHERE embedder = $1")
            .bind(embedder)
            .fetch_one(&mut *conn)
            .await?;
        // ts_stat runs a query given as text: the embedder name goes in as
        // a literal quoted by PostgreSQL itself (%L).
        let rows: Vec<(String, i32, i32)> = sqlx::query_as(
            "SELECT word, ndoc, nentry FROM ts_stat(
                 format('SELECT search_text FROM knowledge_base WHERE embedder = %L', $1::text))",
        )
        .bind(embedder)
        .fetch_all(&mut *conn)
        .await?;
        let total: u64 = rows.iter().map(|(_, _, e)| u64::try_from(*e).unwrap_or(0)).sum();
        let df = rows.into_iter().map(|(w, n, _)| (w, u32::try_from(n).unwrap_or(0))).collect();
        let stats = Arc::new(LexicalStats::new(u32::try_from(chunks).unwrap_or(u32::MAX), total, df));
        self.stats.insert(key, stats.clone());
        Ok(stats)
    }
}
