//! Idempotent ingestion into PostgreSQL: a directory of markdown articles
//! or one article (the admin API's edits) split into chunks, new and
//! changed chunks embedded and upserted, vanished ones deleted, and each
//! article's source markdown kept in `kb_documents` beside its chunks.

use super::chunker::{Chunk, chunk_markdown};
use super::embedder::{EmbedError, Embedder, to_stored};
use super::error::KbError;
use crate::db::begin_tenant;
use crate::domain::TenantId;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::path::Path;
use uuid::Uuid;

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
