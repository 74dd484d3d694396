//! Knowledge-base administration through the admin API (issue #7 item 5):
//! the sample articles ingested by `fte kb ingest` show with their markdown;
//! a `PUT` creates or replaces one article and re-embeds only the sections
//! that changed; the search preview finds new text and stops finding removed
//! text; `DELETE` removes an article; edits are audited with the request id;
//! names and bodies are validated (422); viewers cannot edit (403); another
//! tenant's articles are never visible; a process without an embedder
//! answers 503 on edits and search.

use crate::common::TestDb;
use fte::auth::{Role, create_key};
use fte::crm::MergePolicy;
use fte::domain::TenantId;
use serde_json::{Value, json};
use std::net::SocketAddr;

async fn start(db: &TestDb, extra: &[&str]) -> crate::common::RunningApp {
    let mut flags = vec!["--database-url", &db.url, "--http-addr", "127.0.0.1:0", "--kafka-brokers", ""];
    flags.extend_from_slice(extra);
    crate::common::start_app(&crate::common::serve_settings(&flags)).await
}

/// One request; returns the status and the JSON body (null when none).
async fn call(
    addr: SocketAddr,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
    request_id: &str,
) -> (u16, Value) {
    crate::common::api_call(addr, method, path, key, body, Some(request_id)).await
}

async fn get(addr: SocketAddr, path: &str, key: &str) -> (u16, Value) {
    call(addr, reqwest::Method::GET, path, Some(key), None, "kb-get").await
}

async fn put(addr: SocketAddr, document: &str, key: &str, markdown: &str, request_id: &str) -> (u16, Value) {
    let path = format!("/api/v1/kb/documents/{document}");
    call(addr, reqwest::Method::PUT, &path, Some(key), Some(json!({ "markdown": markdown })), request_id).await
}

async fn search(addr: SocketAddr, key: &str, query: &str, limit: i64) -> (u16, Value) {
    let body = json!({ "query": query, "limit": limit });
    call(addr, reqwest::Method::POST, "/api/v1/kb/search", Some(key), Some(body), "kb-search").await
}

fn hits(preview: &Value) -> &Vec<Value> {
    preview["hits"].as_array().expect("hits")
}

/// (action, target, request id, before, after) of the tenant's audit rows, oldest first.
async fn audit_rows(db: &TestDb, tenant: TenantId) -> Vec<(String, String, Option<String>, Value, Value)> {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let rows = sqlx::query_as("SELECT action, target_id, request_id, before, after FROM audit_log ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows
}

/// (chunk_index, id, updated_at) of one document's stored chunks.
async fn chunk_rows(
    db: &TestDb,
    tenant: TenantId,
    document: &str,
) -> Vec<(i32, uuid::Uuid, chrono::DateTime<chrono::Utc>)> {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT chunk_index, id, updated_at FROM knowledge_base WHERE document = $1 ORDER BY chunk_index",
    )
    .bind(document)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rows
}

const FIRST: &str = "# Refund windows\n\nRefunds follow the quokka ledger rules.\n\n## Annual plans\n\nAnnual plans are refundable within the zephyrine period of 30 days.\n\n## Monthly plans\n\nMonthly plans are refunded through a marmalade credit note.";
const SECOND: &str = "# Refund windows\n\nRefunds follow the quokka ledger rules.\n\n## Annual plans\n\nAnnual plans are refundable within the xylophonic period of 45 days.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_are_listed_replaced_searched_and_deleted() {
    let db = TestDb::new().await;
    let a = db.tenant("kb-a", MergePolicy::Manual).await.id;
    // `fte kb ingest` of the sample articles keeps their markdown too.
    let docs = crate::common::context_dir().join("product-docs");
    let articles = fte::kb::read_articles(&docs).unwrap();
    let embedder = fte::kb::HashingEmbedder::default();
    fte::kb::ingest(&db.pool, a, &embedder, &articles).await.unwrap();
    let app = start(&db, &["--embedder", "hashing"]).await;
    let addr = app.addr;
    let (_, viewer) = create_key(&db.pool, Some(a), Role::Viewer, "viewer of A").await.unwrap();
    let (_, supervisor) = create_key(&db.pool, Some(a), Role::Supervisor, "supervisor of A").await.unwrap();

    let (status, list) = get(addr, "/api/v1/kb/documents", &viewer).await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), articles.len());
    assert_eq!(list["embedder"], fte::kb::Embedder::name(&embedder));
    let reset = items.iter().find(|d| d["document"] == "password-reset.md").expect("password-reset.md listed");
    assert_eq!(reset["has_markdown"], true);
    assert!(reset["chunks"].as_i64().unwrap() >= 2, "{reset}");
    let (status, detail) = get(addr, "/api/v1/kb/documents/password-reset.md", &viewer).await;
    assert_eq!(status, 200, "{detail}");
    let source = std::fs::read_to_string(docs.join("password-reset.md")).unwrap();
    assert_eq!(detail["markdown"], source.as_str());
    assert_eq!(detail["chunks"].as_array().unwrap().len() as i64, reset["chunks"].as_i64().unwrap());
    // Pagination by name.
    let (_, page) = get(addr, "/api/v1/kb/documents?limit=2", &viewer).await;
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (_, next) = get(addr, &format!("/api/v1/kb/documents?limit=2&cursor={cursor}"), &viewer).await;
    assert_eq!(next["items"][0]["document"], items[2]["document"]);

    // Nothing knows the new words yet.
    let (status, before) = search(addr, &viewer, "zephyrine period", 5).await;
    assert_eq!(status, 200, "{before}");
    assert!(hits(&before).iter().all(|h| h["document"] != "refund-windows.md"));

    // Create: every section is embedded.
    let (status, created) = put(addr, "refund-windows.md", &supervisor, FIRST, "kb-put-1").await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["created"], true);
    assert_eq!(created["report"]["chunks"], 3);
    assert_eq!(created["report"]["embedded"], 3);
    assert_eq!(created["report"]["unchanged"], 0);
    let (status, detail) = get(addr, "/api/v1/kb/documents/refund-windows.md", &viewer).await;
    assert_eq!(status, 200);
    assert_eq!(detail["markdown"], FIRST);
    assert_eq!(detail["title"], "Refund windows");
    let headings: Vec<&str> =
        detail["chunks"].as_array().unwrap().iter().map(|c| c["heading"].as_str().unwrap()).collect();
    assert_eq!(headings, ["", "Annual plans", "Monthly plans"]);
    let (_, found) = search(addr, &viewer, "zephyrine period", 5).await;
    let top = &hits(&found)[0];
    assert_eq!((top["document"].as_str(), top["heading"].as_str()), (Some("refund-windows.md"), Some("Annual plans")));
    assert!(top["score"].as_f64().unwrap() > 0.0 && top["bm25"].as_f64().unwrap() > 0.0, "{top}");
    // The preview ranks with fresh statistics (the edit dropped the cached
    // ones): exactly what a search with no cache finds.
    let fresh = fte::kb::KbSearch::new().search(&db.pool, a, &embedder, "zephyrine period", None, 5).await.unwrap();
    let ranked = |hits: &Vec<Value>| -> Vec<(String, i64, f32)> {
        hits.iter()
            .map(|h| {
                (
                    h["document"].as_str().unwrap().to_string(),
                    h["chunk_index"].as_i64().unwrap(),
                    h["bm25"].as_f64().unwrap() as f32,
                )
            })
            .collect()
    };
    let expected: Vec<(String, i64, f32)> =
        fresh.hits.iter().map(|h| (h.document.clone(), i64::from(h.chunk_index), h.bm25)).collect();
    let got = ranked(hits(&found));
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert!(g.0 == e.0 && g.1 == e.1 && (g.2 - e.2).abs() < 1e-3, "stale statistics: {got:?} vs {expected:?}");
    }
    let (_, one) = search(addr, &viewer, "zephyrine period", 1).await;
    assert_eq!(hits(&one).len(), 1);
    let stored = chunk_rows(&db, a, "refund-windows.md").await;
    assert_eq!(stored.len(), 3);

    // Replace: the intro is unchanged, one section changed, one is gone.
    let (status, replaced) = put(addr, "refund-windows.md", &supervisor, SECOND, "kb-put-2").await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["created"], false);
    let report = &replaced["report"];
    assert_eq!((report["chunks"].as_i64(), report["embedded"].as_i64()), (Some(2), Some(1)), "{report}");
    assert_eq!((report["unchanged"].as_i64(), report["deleted"].as_i64()), (Some(1), Some(1)), "{report}");
    let now = chunk_rows(&db, a, "refund-windows.md").await;
    assert_eq!(now.len(), 2);
    assert_eq!(now[0], stored[0], "the unchanged intro was not rewritten");
    assert!(now[1].2 > stored[1].2, "the changed section was rewritten");
    // Other articles were left alone.
    assert_eq!(chunk_rows(&db, a, "password-reset.md").await.len() as i64, reset["chunks"].as_i64().unwrap());
    // The search sees the new text and no longer the removed text.
    let (_, found) = search(addr, &viewer, "xylophonic period", 5).await;
    assert_eq!(hits(&found)[0]["document"], "refund-windows.md");
    assert!(hits(&found)[0]["content"].as_str().unwrap().contains("xylophonic"));
    for gone in ["zephyrine", "marmalade credit note"] {
        let (_, preview) = search(addr, &viewer, gone, 5).await;
        assert!(
            hits(&preview).iter().all(|h| !h["content"].as_str().unwrap().contains(gone.split(' ').next().unwrap())),
            "{gone} still found: {preview}"
        );
    }
    // The same text again changes nothing.
    let (status, again) = put(addr, "refund-windows.md", &supervisor, SECOND, "kb-put-3").await;
    assert_eq!(status, 200);
    assert_eq!((again["report"]["embedded"].as_i64(), again["report"]["unchanged"].as_i64()), (Some(0), Some(2)));

    // Delete: 204, then it is gone everywhere; a second delete is 404.
    let path = "/api/v1/kb/documents/refund-windows.md";
    let (status, _) = call(addr, reqwest::Method::DELETE, path, Some(&supervisor), None, "kb-del-1").await;
    assert_eq!(status, 204);
    assert_eq!(get(addr, path, &viewer).await.0, 404);
    assert!(chunk_rows(&db, a, "refund-windows.md").await.is_empty());
    let (_, preview) = search(addr, &viewer, "xylophonic period", 5).await;
    assert!(hits(&preview).iter().all(|h| h["document"] != "refund-windows.md"), "{preview}");
    let (status, _) = call(addr, reqwest::Method::DELETE, path, Some(&supervisor), None, "kb-del-2").await;
    assert_eq!(status, 404);
    let (_, list) = get(addr, "/api/v1/kb/documents", &viewer).await;
    assert_eq!(list["items"].as_array().unwrap().len(), articles.len());

    // Every change is audited with its request id and the text before and after.
    let rows = audit_rows(&db, a).await;
    let summary: Vec<(&str, &str, Option<&str>)> =
        rows.iter().map(|(action, target, rid, _, _)| (action.as_str(), target.as_str(), rid.as_deref())).collect();
    assert_eq!(
        summary,
        [
            ("kb.document.create", "refund-windows.md", Some("kb-put-1")),
            ("kb.document.update", "refund-windows.md", Some("kb-put-2")),
            ("kb.document.update", "refund-windows.md", Some("kb-put-3")),
            ("kb.document.delete", "refund-windows.md", Some("kb-del-1")),
        ]
    );
    assert!(rows[0].3.is_null());
    assert_eq!(rows[0].4["markdown"], FIRST);
    assert_eq!((rows[1].3["markdown"].as_str(), rows[1].4["markdown"].as_str()), (Some(FIRST), Some(SECOND)));
    assert_eq!(rows[3].3["markdown"], SECOND);
    assert!(rows[3].4.is_null());
    app.stop.send(()).ok();
    app.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_are_validated_role_checked_and_tenant_scoped() {
    let db = TestDb::new().await;
    let a = db.tenant("kb-a", MergePolicy::Manual).await.id;
    let b = db.tenant("kb-b", MergePolicy::Manual).await.id;
    let app = start(&db, &["--embedder", "hashing"]).await;
    let addr = app.addr;
    let mut keys = std::collections::HashMap::new();
    for role in Role::ALL {
        keys.insert(role, create_key(&db.pool, Some(a), role, &format!("{role} of A")).await.unwrap().1);
    }
    let (_, admin_b) = create_key(&db.pool, Some(b), Role::Admin, "admin of B").await.unwrap();
    let (_, global) = create_key(&db.pool, None, Role::Admin, "installation admin").await.unwrap();
    let article = "# Secret plans\n\n## Launch\n\nThe gryphonic launch is on Tuesday.";

    // No key: 401. Viewers and agents cannot edit: 403, and nothing is stored.
    let (status, _) = call(addr, reqwest::Method::GET, "/api/v1/kb/documents", None, None, "r").await;
    assert_eq!(status, 401);
    for role in [Role::Viewer, Role::Agent] {
        let (status, body) = put(addr, "launch.md", &keys[&role], article, "r").await;
        assert_eq!(status, 403, "{role}: {body}");
        let path = "/api/v1/kb/documents/launch.md";
        assert_eq!(call(addr, reqwest::Method::DELETE, path, Some(&keys[&role]), None, "r").await.0, 403);
    }
    assert_eq!(get(addr, "/api/v1/kb/documents/launch.md", &keys[&Role::Viewer]).await.0, 404);
    let (status, _) = put(addr, "launch.md", &keys[&Role::Supervisor], article, "r").await;
    assert_eq!(status, 201);
    let (status, _) = put(addr, "launch.md", &keys[&Role::Admin], article, "r").await;
    assert_eq!(status, 200);

    // Validation: the name, the markdown, the body's shape.
    let supervisor = &keys[&Role::Supervisor];
    let long = "a".repeat(122);
    for bad in ["Launch.md", "_launch", ".launch", "launch%20plans", long.as_str()] {
        let (status, body) = put(addr, bad, supervisor, article, "r").await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["errors"][0]["field"], "document", "{bad}: {body}");
    }
    let huge = format!("# Big\n\n{}", "word ".repeat(30_000));
    for bad in ["", "   \n", "# Only a title\n\n## And a heading\n", huge.as_str()] {
        let (status, body) = put(addr, "launch.md", supervisor, bad, "r").await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["field"], "markdown", "{body}");
    }
    let path = "/api/v1/kb/documents/launch.md";
    for body in [json!({ "markdown": article, "extra": 1 }), json!({ "text": article }), json!({ "markdown": 5 })] {
        let (status, problem) = call(addr, reqwest::Method::PUT, path, Some(supervisor), Some(body), "r").await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["status"], 422);
    }
    let viewer = &keys[&Role::Viewer];
    for (query, limit, field) in [("launch", 0, "limit"), ("launch", 6, "limit"), ("  ", 3, "query")] {
        let (status, body) = search(addr, viewer, query, limit).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["field"], field);
    }
    let (_, detail) = get(addr, path, viewer).await;
    assert_eq!(detail["markdown"], article, "a refused edit changed nothing");
    // NUL (which PostgreSQL text cannot hold): refused in a body (400, by
    // the API's guard), not found in a name.
    assert_eq!(put(addr, "launch.md", supervisor, "# T\n\nA NUL \u{0} here.", "r").await.0, 400);
    assert_eq!(search(addr, viewer, "a\u{0}b", 3).await.0, 400);
    assert_eq!(get(addr, "/api/v1/kb/documents?cursor=a%00", viewer).await.0, 400);
    assert_eq!(get(addr, "/api/v1/kb/documents/a%00b", viewer).await.0, 404);
    assert_eq!(
        call(addr, reqwest::Method::DELETE, "/api/v1/kb/documents/a%00b", Some(supervisor), None, "r").await.0,
        404
    );

    // Tenant B sees none of A's articles, by list, by name or by search.
    assert_eq!(get(addr, path, &admin_b).await.0, 404);
    assert_eq!(get(addr, &format!("{path}?tenant={a}"), &admin_b).await.0, 404);
    assert_eq!(call(addr, reqwest::Method::DELETE, path, Some(&admin_b), None, "r").await.0, 404);
    let (_, list_b) = get(addr, "/api/v1/kb/documents", &admin_b).await;
    assert_eq!(list_b["items"], json!([]));
    let (status, found_b) = search(addr, &admin_b, "gryphonic launch", 5).await;
    assert_eq!(status, 200);
    assert_eq!(found_b["hits"], json!([]));
    let (_, found_a) = search(addr, viewer, "gryphonic launch", 5).await;
    assert_eq!(found_a["hits"][0]["document"], "launch.md");
    // B writing its own article of the same name leaves A's alone.
    let (status, _) = put(addr, "launch.md", &admin_b, "# Other\n\nTenant B's own text.", "r").await;
    assert_eq!(status, 201);
    let (_, detail) = get(addr, path, viewer).await;
    assert_eq!(detail["markdown"], article);
    // A global admin names the tenant.
    assert_eq!(get(addr, "/api/v1/kb/documents", &global).await.0, 400);
    let (status, detail) = get(addr, &format!("{path}?tenant={a}"), &global).await;
    assert_eq!((status, detail["markdown"].as_str()), (200, Some(article)));
    app.stop.send(()).ok();
    app.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_without_an_embedder_answers_503_on_edits_and_search() {
    let db = TestDb::new().await;
    let a = db.tenant("kb-a", MergePolicy::Manual).await.id;
    let missing = std::env::temp_dir().join(format!("no-model-{}", uuid::Uuid::new_v4().simple()));
    let app = start(&db, &["--embedder", "minilm", "--minilm-dir", missing.to_str().unwrap()]).await;
    let (_, supervisor) = create_key(&db.pool, Some(a), Role::Supervisor, "supervisor of A").await.unwrap();
    let (status, body) = put(app.addr, "launch.md", &supervisor, "# T\n\nText.", "r").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(search(app.addr, &supervisor, "text", 3).await.0, 503);
    // Reading still works.
    let (status, list) = get(app.addr, "/api/v1/kb/documents", &supervisor).await;
    assert_eq!((status, list["items"].clone()), (200, json!([])));
    app.stop.send(()).ok();
    app.task.await.unwrap().unwrap();
}
