//! Knowledge-base administration: the tenant's articles
//! (`GET /api/v1/kb/documents`, `GET /api/v1/kb/documents/{document}`;
//! viewer and up), replacing or removing one (`PUT`/`DELETE` on it;
//! supervisor and up, audited) and a preview of what the agent's search
//! retrieves (`POST /api/v1/kb/search`; viewer and up). A `PUT` re-chunks
//! the article and re-embeds only the sections that changed
//! ([`ingest::ingest_document`]); after any change this process's search
//! statistics are dropped ([`KbSearch::invalidate`]; other processes
//! refresh theirs within the statistics' time to live). Edits and search
//! need the process's embedder: without one they answer 503.

use super::audit::{self, Entry};
use super::{TenantQuery, require, scope, unavailable};
use crate::auth::{Caller, Role};
use crate::db::begin_tenant;
use crate::domain::TenantId;
use crate::http::AppState;
use crate::http::problem::{FieldError, Problem};
use crate::http::request_id::RequestId;
use crate::kb::ingest::{self, Article, IngestReport};
use crate::kb::{Embedder, KbSearch};
use crate::kb::{KbError, MAX_RESULTS, SearchHit};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest article accepted, in bytes of markdown.
pub const MAX_MARKDOWN_BYTES: usize = 100 * 1024;
/// Longest search preview query, in characters.
const MAX_QUERY_CHARS: usize = 2_000;
const MAX_LIMIT: i64 = 500;

/// The knowledge-base routes, for the main router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_documents))
        .routes(routes!(get_document, put_document, delete_document))
        .routes(routes!(search_preview))
}

/// One article in the list.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct DocumentSummary {
    /// The article's name, e.g. `password-reset.md`.
    pub document: String,
    pub title: String,
    /// Sections stored for this process's embedder (for any embedder when
    /// the process has none).
    pub chunks: i64,
    /// Whether the source markdown is stored (articles ingested before it
    /// was kept have only chunks until they are ingested again).
    pub has_markdown: bool,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    /// By name.
    pub items: Vec<DocumentSummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
    /// The embedder whose chunks are counted (none in a process without one).
    pub embedder: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The tenant to work in (global admin keys only).
    tenant: Option<String>,
    /// Page size (1-500, default 100).
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One section of an article as stored.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ChunkView {
    pub index: i32,
    /// The `##` heading; empty for the introduction.
    pub heading: String,
    pub content: String,
}

/// An article: its source and its sections.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDetail {
    pub document: String,
    pub title: String,
    /// Absent for an article ingested before sources were kept.
    pub markdown: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub chunks: Vec<ChunkView>,
}

/// `PUT /api/v1/kb/documents/{document}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentBody {
    /// The whole article: a `#` title, then `##` sections (at most 100 KiB).
    pub markdown: String,
}

/// What a `PUT` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentStored {
    pub document: String,
    /// True when the article is new.
    pub created: bool,
    pub embedder: String,
    pub report: IngestReport,
}

/// `POST /api/v1/kb/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// What a customer might ask.
    pub query: String,
    /// Hits to return, 1-5 (default 5, the agent's own limit).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPreview {
    pub embedder: String,
    /// Best first (by `score`).
    pub hits: Vec<SearchHit>,
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

/// A name that can be looked up at all (PostgreSQL text holds no NUL; the
/// table allows 255 bytes): anything else is simply not found.
fn storable_name(name: &str) -> bool {
    (1..=255).contains(&name.len()) && !name.contains('\0')
}

/// `[a-z0-9][a-z0-9._-]{0,120}`.
pub fn valid_document_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.len() <= 121
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fn embedder(state: &AppState) -> Result<&Arc<dyn Embedder>, Problem> {
    state.embedder.as_ref().ok_or_else(|| {
        Problem::unavailable("this process has no knowledge-base embedder (see its start-up log); use another")
    })
}

fn kb_failed(e: KbError) -> Problem {
    match e {
        KbError::Db(e) => unavailable(e),
        other => {
            tracing::error!(error = %other, "knowledge-base operation failed");
            Problem::unavailable(format!("the knowledge base could not be updated or searched: {other}; retry"))
        }
    }
}

/// The stored source of one article, if any.
struct Source {
    title: String,
    markdown: String,
    updated_at: DateTime<Utc>,
}

async fn source(state: &AppState, tenant: TenantId, document: &str) -> Result<Option<Source>, Problem> {
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let row: Option<(String, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT title, markdown, updated_at FROM kb_documents WHERE document = $1")
            .bind(document)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(row.map(|(title, markdown, updated_at)| Source { title, markdown, updated_at }))
}

/// The tenant's articles, by name.
#[utoipa::path(
    get,
    path = "/api/v1/kb/documents",
    tag = "knowledge base",
    params(ListQuery),
    responses(
        (status = 200, description = "The tenant's articles", body = DocumentPage),
        (status = 400, description = "Bad query", body = Problem),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 404, description = "Another tenant named", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn list_documents(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<DocumentPage>, Problem> {
    require(&caller, Role::Viewer)?;
    let Query(q) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let limit = super::page_limit(q.limit, 100, MAX_LIMIT)?;
    if q.cursor.as_deref().is_some_and(|c| !storable_name(c)) {
        return Err(Problem::bad_request("cursor is not one this API gave out"));
    }
    let embedder_name = state.embedder.as_ref().map(|e| e.name().to_string());
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let items: Vec<DocumentSummary> = sqlx::query_as(
        "WITH chunked AS (
             SELECT document, max(title) AS title, max(updated_at) AS updated_at,
                    count(DISTINCT chunk_index) FILTER (WHERE $1::text IS NULL OR embedder = $1) AS chunks
               FROM knowledge_base GROUP BY document)
         SELECT COALESCE(d.document, c.document) AS document, COALESCE(d.title, c.title) AS title,
                COALESCE(c.chunks, 0) AS chunks, d.document IS NOT NULL AS has_markdown,
                COALESCE(d.updated_at, c.updated_at) AS updated_at
           FROM kb_documents d FULL JOIN chunked c ON c.document = d.document
          WHERE $2::text IS NULL OR COALESCE(d.document, c.document) > $2
          ORDER BY 1 LIMIT $3",
    )
    .bind(embedder_name.as_deref())
    .bind(q.cursor.as_deref())
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    let (items, next_cursor) = super::into_page(items, limit, |d| d.document.clone());
    Ok(Json(DocumentPage { items, next_cursor, embedder: embedder_name }))
}

/// One article: its markdown and its sections as stored.
#[utoipa::path(
    get,
    path = "/api/v1/kb/documents/{document}",
    tag = "knowledge base",
    params(("document" = String, Path, description = "The article's name, e.g. `password-reset.md`"), TenantQuery),
    responses(
        (status = 200, description = "The article", body = DocumentDetail),
        (status = 400, description = "A global key named no tenant", body = Problem),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 404, description = "No such article", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn get_document(
    State(state): State<AppState>,
    caller: Caller,
    Path(document): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<DocumentDetail>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    if !storable_name(&document) {
        return Err(Problem::not_found("no such document"));
    }
    let embedder_name = state.embedder.as_ref().map(|e| e.name().to_string());
    let source = source(&state, tenant, &document).await?;
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    // One row per section: this process's embedder's when it has them.
    let rows: Vec<(i32, String, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT DISTINCT ON (chunk_index) chunk_index, heading, content, title, updated_at
           FROM knowledge_base WHERE document = $1
          ORDER BY chunk_index, (embedder = $2) IS TRUE DESC, updated_at DESC",
    )
    .bind(&document)
    .bind(embedder_name.as_deref())
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    let (title, markdown, updated_at) = match (source, rows.first()) {
        (Some(s), _) => (s.title, Some(s.markdown), s.updated_at),
        (None, Some(first)) => {
            let latest = rows.iter().map(|r| r.4).max().unwrap_or(first.4);
            (first.3.clone(), None, latest)
        }
        (None, None) => return Err(Problem::not_found("no such document")),
    };
    let chunks =
        rows.into_iter().map(|(index, heading, content, _, _)| ChunkView { index, heading, content }).collect();
    Ok(Json(DocumentDetail { document, title, markdown, updated_at, chunks }))
}

/// Creates or replaces one article: it is re-chunked and only new or
/// changed sections are re-embedded; sections that are gone are deleted.
#[utoipa::path(
    put,
    path = "/api/v1/kb/documents/{document}",
    tag = "knowledge base",
    params(("document" = String, Path, description = "The article's name: `[a-z0-9][a-z0-9._-]{0,120}`"), TenantQuery),
    request_body = DocumentBody,
    responses(
        (status = 200, description = "Replaced", body = DocumentStored),
        (status = 201, description = "Created", body = DocumentStored),
        (status = 400, description = "A global key named no tenant", body = Problem),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 403, description = "Below supervisor", body = Problem),
        (status = 404, description = "Another tenant named", body = Problem),
        (status = 422, description = "Invalid name or markdown", body = Problem),
        (status = 503, description = "No embedder in this process, or the embedder failed", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn put_document(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(document): Path<String>,
    Query(q): Query<TenantQuery>,
    body: Result<Json<DocumentBody>, JsonRejection>,
) -> Result<(StatusCode, Json<DocumentStored>), Problem> {
    require(&caller, Role::Supervisor)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let body = super::body(body)?;
    let mut errors = Vec::new();
    if !valid_document_name(&document) {
        errors.push(field(
            "document",
            "1-121 characters: lowercase letters, digits, '.', '_', '-'; not starting with a symbol",
        ));
    }
    if body.markdown.trim().is_empty() {
        errors.push(field("markdown", "must not be empty"));
    } else if body.markdown.len() > MAX_MARKDOWN_BYTES {
        errors.push(field("markdown", format!("at most {MAX_MARKDOWN_BYTES} bytes")));
    } else if crate::kb::chunker::chunk_markdown(&document, &body.markdown).is_empty() {
        errors.push(field("markdown", "holds no text below its headings: nothing could be searched"));
    }
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let embedder = embedder(&state)?;
    let before = source(&state, tenant, &document).await?;
    let article = Article { document: document.clone(), markdown: body.markdown };
    let report = ingest::ingest_document(&state.pool, tenant, embedder.as_ref(), &article).await.map_err(kb_failed)?;
    state.kb_search.invalidate(tenant);
    let after = source(&state, tenant, &document).await?;
    tracing::info!(
        tenant_id = %tenant,
        document,
        chunks = report.chunks,
        embedded = report.embedded,
        deleted = report.deleted,
        "knowledge-base article stored"
    );
    let created = before.is_none();
    let snapshot = |s: &Option<Source>| match s {
        Some(s) => serde_json::json!({ "title": s.title, "markdown": s.markdown }),
        None => serde_json::Value::Null,
    };
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: if created { "kb.document.create" } else { "kb.document.update" },
            target_type: "kb_document",
            target_id: document.clone(),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(DocumentStored { document, created, embedder: embedder.name().to_string(), report })))
}

/// Removes one article and all its sections.
#[utoipa::path(
    delete,
    path = "/api/v1/kb/documents/{document}",
    tag = "knowledge base",
    params(("document" = String, Path, description = "The article's name"), TenantQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A global key named no tenant", body = Problem),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 403, description = "Below supervisor", body = Problem),
        (status = 404, description = "No such article", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn delete_document(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(document): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<StatusCode, Problem> {
    require(&caller, Role::Supervisor)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    if !storable_name(&document) {
        return Err(Problem::not_found("no such document"));
    }
    let before = source(&state, tenant, &document).await?;
    if !ingest::delete_document(&state.pool, tenant, &document).await.map_err(kb_failed)? {
        return Err(Problem::not_found("no such document"));
    }
    state.kb_search.invalidate(tenant);
    tracing::info!(tenant_id = %tenant, document, "knowledge-base article deleted");
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: "kb.document.delete",
            target_type: "kb_document",
            target_id: document,
            before: match before {
                Some(s) => serde_json::json!({ "title": s.title, "markdown": s.markdown }),
                None => serde_json::json!({ "markdown": null }),
            },
            after: serde_json::Value::Null,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the agent's knowledge-base search would retrieve for `query`, with
/// the scores it ranks by.
#[utoipa::path(
    post,
    path = "/api/v1/kb/search",
    tag = "knowledge base",
    params(TenantQuery),
    request_body = SearchRequest,
    responses(
        (status = 200, description = "The hits, best first", body = SearchPreview),
        (status = 400, description = "A global key named no tenant", body = Problem),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 404, description = "Another tenant named", body = Problem),
        (status = 422, description = "Empty or too long query, limit outside 1-5", body = Problem),
        (status = 503, description = "No embedder in this process, or the embedder failed", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn search_preview(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TenantQuery>,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<SearchPreview>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let body = super::body(body)?;
    let mut errors = Vec::new();
    let query = body.query.trim();
    if query.is_empty() {
        errors.push(field("query", "must not be empty"));
    } else if query.chars().count() > MAX_QUERY_CHARS {
        errors.push(field("query", format!("at most {MAX_QUERY_CHARS} characters")));
    }
    let max = i64::try_from(MAX_RESULTS).unwrap_or(5);
    let limit = body.limit.unwrap_or(max);
    if !(1..=max).contains(&limit) {
        errors.push(field("limit", format!("1-{max}")));
    }
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let embedder = embedder(&state)?;
    let search: &KbSearch = &state.kb_search;
    let limit = usize::try_from(limit).unwrap_or(MAX_RESULTS);
    let result = search.search(&state.pool, tenant, embedder.as_ref(), query, None, limit).await.map_err(kb_failed)?;
    Ok(Json(SearchPreview { embedder: embedder.name().to_string(), hits: result.hits }))
}

#[cfg(test)]
mod tests {
    use super::valid_document_name;

    #[test]
    fn document_names() {
        for ok in ["password-reset.md", "a", "0", "faq_2024.v2.md", &"a".repeat(121)] {
            assert!(valid_document_name(ok), "{ok}");
        }
        for bad in ["", ".hidden", "-x", "_x", "Upper.md", "a b", "a/b", "../etc", "é", &"a".repeat(122)] {
            assert!(!valid_document_name(bad), "{bad}");
        }
    }
}
