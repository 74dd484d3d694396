//! The knowledge base in PostgreSQL: idempotent ingestion of a directory of
//! markdown articles or of one article (the admin API's edits), each
//! article's source markdown kept in `kb_documents` beside its chunks, and
//! tenant-scoped hybrid search (pgvector HNSW cosine plus full text, fused
//! by reciprocal rank).

use super::chunker::{Chunk, chunk_markdown, heading_path};
use super::embedder::{EmbedError, Embedder, to_stored};
use super::lexical::{self, LexicalStats, STATS_TTL};
use super::rerank::{self, RRF_K};
use crate::db::begin_tenant;
use crate::domain::TenantId;
use dashmap::DashMap;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::path::Path;
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

#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0} holds no markdown (.md) articles")]
    Empty(String),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    pub documents: usize,
    pub chunks: usize,
    /// Chunks (re-)embedded because they are new or changed.
    pub embedded: usize,
    pub unchanged: usize,
    /// Rows removed because their article or section is gone.
    pub deleted: u64,
}

/// One article as read from disk.
#[derive(Clone, Debug)]
pub struct Article {
    pub document: String,
    pub markdown: String,
}

/// Reads every `*.md` file directly in `dir`, sorted by name.
pub fn read_articles(dir: &Path) -> Result<Vec<Article>, KbError> {
    let read_err = |source| KbError::Read { path: dir.display().to_string(), source };
    let mut articles = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") || !path.is_file() {
            continue;
        }
        let markdown = std::fs::read_to_string(&path)
            .map_err(|source| KbError::Read { path: path.display().to_string(), source })?;
        let document = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        articles.push(Article { document, markdown });
    }
    if articles.is_empty() {
        return Err(KbError::Empty(dir.display().to_string()));
    }
    articles.sort_by(|a, b| a.document.cmp(&b.document));
    Ok(articles)
}

fn content_hash(chunk: &Chunk) -> String {
    let mut h = Sha256::new();
    for part in [&chunk.title, &chunk.heading, &chunk.content] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The text that gets embedded for a chunk: where it sits, then what it says.
fn embedding_text(chunk: &Chunk) -> String {
    format!("{}\n{}\n{}", chunk.title, chunk.heading, chunk.content)
}

/// Makes the tenant's knowledge base (for this embedder) exactly the given
/// articles: new and changed chunks are embedded and upserted, unchanged
/// ones are left alone, chunks no longer present are deleted, and the
/// articles' markdown is stored in `kb_documents` (articles no longer
/// present are removed from it). Running it twice on the same articles
/// changes nothing.
pub async fn ingest(
    pool: &PgPool,
    tenant: TenantId,
    embedder: &dyn Embedder,
    articles: &[Article],
) -> Result<IngestReport, KbError> {
    let per_article: Vec<Vec<Chunk>> = articles.iter().map(|a| chunk_markdown(&a.document, &a.markdown)).collect();
    let mut tx = begin_tenant(pool, tenant).await?;
    // The source rows first: their row locks order this transaction after
    // any concurrent writer of the same articles (see `ingest_document`).
    for (article, chunks) in articles.iter().zip(&per_article) {
        store_source(&mut tx, article, &title_of(article, chunks)).await?;
    }
    let chunks: Vec<Chunk> = per_article.into_iter().flatten().collect();
    let names: Vec<&str> = articles.iter().map(|a| a.document.as_str()).collect();
    sqlx::query("DELETE FROM kb_documents WHERE document <> ALL($1::text[])").bind(&names).execute(&mut *tx).await?;
    let existing = stored_hashes(&mut tx, embedder, None).await?;
    let mut report = IngestReport { documents: articles.len(), chunks: chunks.len(), ..Default::default() };
    upsert_chunks(&mut tx, embedder, &chunks, &existing, &mut report).await?;
    let keep_docs: Vec<String> = chunks.iter().map(|c| c.document.clone()).collect();
    let keep_idx: Vec<i32> = chunks.iter().map(|c| i32::try_from(c.index).unwrap_or(i32::MAX)).collect();
    report.deleted = sqlx::query(
        "DELETE FROM knowledge_base k WHERE embedder = $1 AND NOT EXISTS (
           SELECT 1 FROM unnest($2::text[], $3::int[]) AS keep(document, chunk_index)
            WHERE keep.document = k.document AND keep.chunk_index = k.chunk_index)",
    )
    .bind(embedder.name())
    .bind(&keep_docs)
    .bind(&keep_idx)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(report)
}

/// Creates or replaces one article, leaving every other one alone: its
/// markdown is stored, its new and changed chunks are embedded, unchanged
/// ones are kept, and its chunks beyond the new last one are deleted (all
/// for this embedder; other embedders' chunks are refreshed by their own
/// ingest). Writers of the same article are serialised by its
/// `kb_documents` row.
pub async fn ingest_document(
    pool: &PgPool,
    tenant: TenantId,
    embedder: &dyn Embedder,
    article: &Article,
) -> Result<IngestReport, KbError> {
    let chunks = chunk_markdown(&article.document, &article.markdown);
    let mut tx = begin_tenant(pool, tenant).await?;
    store_source(&mut tx, article, &title_of(article, &chunks)).await?;
    let existing = stored_hashes(&mut tx, embedder, Some(&article.document)).await?;
    let mut report = IngestReport { documents: 1, chunks: chunks.len(), ..Default::default() };
    upsert_chunks(&mut tx, embedder, &chunks, &existing, &mut report).await?;
    report.deleted =
        sqlx::query("DELETE FROM knowledge_base WHERE embedder = $1 AND document = $2 AND chunk_index >= $3")
            .bind(embedder.name())
            .bind(&article.document)
            .bind(i32::try_from(chunks.len()).unwrap_or(i32::MAX))
            .execute(&mut *tx)
            .await?
            .rows_affected();
    tx.commit().await?;
    Ok(report)
}

/// Removes one article: its markdown and its chunks of every embedder.
/// False when the tenant has no such article.
pub async fn delete_document(pool: &PgPool, tenant: TenantId, document: &str) -> Result<bool, KbError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let sources = sqlx::query("DELETE FROM kb_documents WHERE document = $1")
        .bind(document)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let chunks = sqlx::query("DELETE FROM knowledge_base WHERE document = $1")
        .bind(document)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(sources + chunks > 0)
}

/// An article's title as the chunker read it (its `#` line, else its
/// name), also when it has no text to chunk.
fn title_of(article: &Article, chunks: &[Chunk]) -> String {
    if let Some(chunk) = chunks.first() {
        return chunk.title.clone();
    }
    let title_line = article.markdown.lines().find_map(|l| l.trim_start().strip_prefix("# ").map(str::trim));
    match title_line {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => article.document.trim_end_matches(".md").replace(['-', '_'], " "),
    }
}

/// Upserts the article's `kb_documents` row; `updated_at` moves only when
/// the markdown changed.
async fn store_source(conn: &mut PgConnection, article: &Article, title: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO kb_documents (tenant_id, document, title, markdown)
         VALUES (app_current_tenant(), $1, $2, $3)
         ON CONFLICT (tenant_id, document) DO UPDATE SET
           title = EXCLUDED.title, markdown = EXCLUDED.markdown,
           updated_at = CASE WHEN kb_documents.markdown IS DISTINCT FROM EXCLUDED.markdown
                             OR kb_documents.title IS DISTINCT FROM EXCLUDED.title
                             THEN now() ELSE kb_documents.updated_at END",
    )
    .bind(&article.document)
    .bind(title)
    .bind(&article.markdown)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Content hashes of the stored chunks of this embedder (of one document,
/// or of all), by (document, chunk index).
async fn stored_hashes(
    conn: &mut PgConnection,
    embedder: &dyn Embedder,
    document: Option<&str>,
) -> Result<HashMap<(String, i32), String>, sqlx::Error> {
    Ok(sqlx::query_as::<_, (String, i32, String)>(
        "SELECT document, chunk_index, content_hash FROM knowledge_base
          WHERE embedder = $1 AND ($2::text IS NULL OR document = $2)",
    )
    .bind(embedder.name())
    .bind(document)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(d, i, h)| ((d, i), h))
    .collect())
}

/// Embeds and upserts the chunks whose content hash differs from the
/// stored one; counts embedded and unchanged chunks into `report`.
async fn upsert_chunks(
    conn: &mut PgConnection,
    embedder: &dyn Embedder,
    chunks: &[Chunk],
    existing: &HashMap<(String, i32), String>,
    report: &mut IngestReport,
) -> Result<(), KbError> {
    let mut changed = Vec::new();
    for chunk in chunks {
        let hash = content_hash(chunk);
        let key = (chunk.document.clone(), i32::try_from(chunk.index).unwrap_or(i32::MAX));
        if existing.get(&key) == Some(&hash) {
            report.unchanged += 1;
        } else {
            changed.push((chunk, hash));
        }
    }
    for batch in changed.chunks(64) {
        let texts: Vec<String> = batch.iter().map(|(c, _)| embedding_text(c)).collect();
        let vectors = embedder.embed(&texts).await?;
        if vectors.len() != texts.len() {
            return Err(EmbedError::Count { expected: texts.len(), got: vectors.len() }.into());
        }
        for ((chunk, hash), vector) in batch.iter().zip(vectors) {
            let dims = i32::try_from(vector.len()).unwrap_or(i32::MAX);
            sqlx::query(
                "INSERT INTO knowledge_base
                   (id, tenant_id, document, title, heading, chunk_index, content, content_hash, embedder, embedding,
                    dims)
                 VALUES ($1, app_current_tenant(), $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (tenant_id, embedder, document, chunk_index) DO UPDATE SET
                   title = EXCLUDED.title, heading = EXCLUDED.heading, content = EXCLUDED.content,
                   content_hash = EXCLUDED.content_hash, embedding = EXCLUDED.embedding, dims = EXCLUDED.dims,
                   updated_at = now()",
            )
            .bind(Uuid::now_v7())
            .bind(&chunk.document)
            .bind(&chunk.title)
            .bind(&chunk.heading)
            .bind(i32::try_from(chunk.index).unwrap_or(i32::MAX))
            .bind(&chunk.content)
            .bind(hash)
            .bind(embedder.name())
            .bind(to_stored(vector)?)
            .bind(dims)
            .execute(&mut *conn)
            .await?;
            report.embedded += 1;
        }
    }
    Ok(())
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
