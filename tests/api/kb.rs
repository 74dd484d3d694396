//! The knowledge base in PostgreSQL: re-ingesting is idempotent (unchanged
//! sections are not re-embedded, changed ones are, removed ones deleted);
//! search is tenant-scoped and never compares vectors of different
//! embedders; the OpenAI-compatible embedder speaks `/embeddings` (tested
//! against a local fake).

use crate::common::{TestDb, index_scans, index_scans_after};
use axum::Json;
use axum::routing::post;
use fte::crm::MergePolicy;
use fte::kb::{self, Article, Embedder, HashingEmbedder, KbSearch, OpenAiEmbedder};
use serde_json::{Value, json};

fn article(name: &str, body: &str) -> Article {
    Article { document: name.into(), markdown: body.into() }
}

fn corpus() -> Vec<Article> {
    vec![
        article(
            "password.md",
            "# Reset your password\n\nIntro.\n\n## Request a link\n\nThe reset link is valid for 60 minutes.\n\n## Locked out\n\nSign-in pauses for 15 minutes.",
        ),
        article("export.md", "# Export reports\n\n## PDF\n\nChoose Export > PDF in the report menu."),
    ]
}

#[tokio::test]
async fn reingest_changes_only_what_changed() {
    let db = TestDb::new().await;
    let tenant = db.tenant("acme", MergePolicy::Manual).await.id;
    let e = HashingEmbedder::default();
    let first = kb::ingest(&db.pool, tenant, &e, &corpus()).await.unwrap();
    assert_eq!((first.documents, first.chunks, first.embedded, first.unchanged), (2, 4, 4, 0));
    let again = kb::ingest(&db.pool, tenant, &e, &corpus()).await.unwrap();
    assert_eq!((again.embedded, again.unchanged, again.deleted), (0, 4, 0));

    let mut changed = corpus();
    changed[0].markdown = changed[0].markdown.replace("60 minutes", "90 minutes");
    changed.pop();
    let third = kb::ingest(&db.pool, tenant, &e, &changed).await.unwrap();
    assert_eq!((third.embedded, third.unchanged, third.deleted), (1, 2, 1));

    let search = KbSearch::new();
    let hits = search.search(&db.pool, tenant, &e, "how long is the reset link valid", None, 5).await.unwrap().hits;
    assert_eq!(hits[0].document, "password.md");
    assert!(hits[0].content.contains("90 minutes"));
    assert!(hits.iter().all(|h| h.document != "export.md"), "the removed article is gone");
}

#[tokio::test]
async fn search_is_tenant_scoped_and_per_embedder() {
    let db = TestDb::new().await;
    let a = db.tenant("alpha", MergePolicy::Manual).await.id;
    let b = db.tenant("beta", MergePolicy::Manual).await.id;
    let e = HashingEmbedder::default();
    kb::ingest(&db.pool, a, &e, &corpus()).await.unwrap();
    let search = KbSearch::new();
    let hits = search.search(&db.pool, a, &e, "export a report as PDF", None, 5).await.unwrap().hits;
    assert_eq!(hits[0].document, "export.md");
    assert!(hits.len() <= kb::MAX_RESULTS);
    assert!(search.search(&db.pool, b, &e, "export a report as PDF", None, 5).await.unwrap().hits.is_empty());
    // Another embedder's vectors are never compared with these.
    let other = HashingEmbedder::new(256);
    assert!(search.search(&db.pool, a, &other, "export a report as PDF", None, 5).await.unwrap().hits.is_empty());
}

#[tokio::test]
async fn the_openai_embedder_speaks_the_embeddings_wire_format() {
    async fn embeddings(Json(body): Json<Value>) -> Json<Value> {
        let inputs = body["input"].as_array().cloned().unwrap_or_default();
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .rev() // out of order on purpose: the client sorts by index
            .map(|(i, text)| {
                let len = text.as_str().unwrap_or_default().len() as f32;
                json!({ "object": "embedding", "index": i, "embedding": [len, 1.0, 0.0] })
            })
            .collect();
        Json(json!({ "object": "list", "data": data, "model": body["model"],
                     "usage": { "prompt_tokens": 3, "total_tokens": 3 } }))
    }
    let app = axum::Router::new().route("/v1/embeddings", post(embeddings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let e = OpenAiEmbedder::new(&format!("http://{addr}/v1"), "sk-test", "text-embedding-3-small");
    assert_eq!(e.name(), "openai:text-embedding-3-small");
    let vectors = e.embed(&["a".to_string(), "abc".to_string()]).await.unwrap();
    assert_eq!(vectors, vec![vec![1.0, 1.0, 0.0], vec![3.0, 1.0, 0.0]]);
}

/// 384-dimension vectors are searched through the index of their own width
/// (`knowledge_base_embedding_384`), other widths through the padded one:
/// the search statement's vector expression must match the index's, or
/// every search would scan the table.
#[tokio::test]
async fn each_width_is_searched_through_its_own_index() {
    let db = TestDb::new().await;
    let tenant = db.tenant("acme", MergePolicy::Manual).await.id;
    let narrow = HashingEmbedder::new(384);
    let wide = HashingEmbedder::default();
    kb::ingest(&db.pool, tenant, &narrow, &corpus()).await.unwrap();
    kb::ingest(&db.pool, tenant, &wide, &corpus()).await.unwrap();
    // Four rows would never make the planner pick an index: make it (a
    // statement that no index can order still runs, by a sort).
    for setting in ["enable_seqscan", "enable_sort"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE \"{}\" SET {setting} = off", db.name)))
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let search = KbSearch::new();
    for (embedder, index) in [(&narrow, "knowledge_base_embedding_384"), (&wide, "knowledge_base_embedding")] {
        let before = index_scans(&db, index).await;
        // A pool of its own: closing it ends the backend, which reports
        // its statistics.
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let hits = search.search(&pool, tenant, embedder, "reset link", None, 5).await.unwrap().hits;
        pool.close().await;
        assert_eq!(hits[0].document, "password.md");
        assert!(hits[0].cosine > 0.0, "{:?}", hits[0]);
        let after = index_scans_after(&db, index, before).await;
        assert!(after > before, "{index} was not used ({before} → {after} scans)");
    }
}
