//! `fte eval --retrieval`: retrieval alone, for comparing embedders and
//! rankers. Every ticket that the labels answer from an article (or hand
//! over as `no_knowledge`) is searched the way the local brain searches it
//! ([`local::search_plan`]); each ranker's first article is compared with
//! the label (retrieval@1), and the time per query is measured: the
//! embedding of the query alone, and the whole search (embedding, both
//! candidate queries in PostgreSQL, scoring). With `--json`, one JSON line
//! per ticket holds every candidate with its scores, for fitting the
//! reranker and the confidence offline, and the last line the summary.

use super::tickets::{self, Ticket};
use super::{EvalArgs, EvalError, db_err};
use crate::agent::settings::build_embedder;
use crate::agent::{local, question};
use crate::crm::{self, MergePolicy, NewTenant};
use crate::db;
use crate::domain::TenantId;
use crate::kb::{self, Embedder, KbSearch, SearchResult, rerank};
use serde::Serialize;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use std::time::Instant;

/// One ranker's figures.
#[derive(Clone, Debug, Serialize)]
pub struct RankerFigures {
    pub ranker: &'static str,
    /// Tickets whose labelled article is the ranker's first.
    pub at_1: usize,
    /// …among its first three.
    pub at_3: usize,
}

/// The run's figures.
#[derive(Clone, Debug, Serialize)]
pub struct RetrievalSummary {
    pub embedder: String,
    /// Tickets with a labelled article.
    pub tickets: usize,
    pub rankers: Vec<RankerFigures>,
    /// Mean time to embed one query (ms).
    pub embed_ms: f64,
    /// Mean time of one whole search (ms).
    pub search_ms: f64,
}

/// One ticket's candidates (with `--json`).
#[derive(Serialize)]
struct TicketLine<'a> {
    id: &'a str,
    expected_action: &'a str,
    expected_reason: Option<&'a str>,
    expected_article: Option<&'a str>,
    language: &'static str,
    uncovered: Vec<String>,
    /// The local brain's article and its evidence and confidence.
    article: Option<String>,
    evidence: local::Evidence,
    confidence: f32,
    queries: Vec<QueryLine>,
}

#[derive(Serialize)]
struct QueryLine {
    weight: f32,
    focus: Vec<(String, f32)>,
    hits: Vec<HitLine>,
}

#[derive(Serialize)]
struct HitLine {
    document: String,
    chunk_index: i32,
    heading: String,
    cosine: f32,
    bm25: f32,
    matched: f32,
    focus_matched: Vec<String>,
    rrf: f32,
}

/// Runs the retrieval eval against a scratch database.
pub async fn run(args: &EvalArgs) -> Result<RetrievalSummary, EvalError> {
    let tickets = tickets::load(&args.tickets)?;
    let articles = kb::read_articles(&args.kb)?;
    let admin = db::connect(&args.database).await.map_err(db_err)?;
    let name = format!("fte_eval_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.map_err(db_err)?;
    let result = async {
        let options = PgConnectOptions::from_str(args.database.database_url.expose()).map_err(db_err)?.database(&name);
        let pool =
            sqlx::postgres::PgPoolOptions::new().max_connections(2).connect_with(options).await.map_err(db_err)?;
        db::migrate(&pool).await.map_err(db_err)?;
        let tenant = crm::create_tenant(
            &pool,
            &NewTenant { slug: "eval".into(), name: "Eval".into(), merge_policy: MergePolicy::Auto },
        )
        .await
        .map_err(db_err)?;
        let embedder = build_embedder(&args.embedder).map_err(|e| EvalError::Runtime(e.to_string()))?;
        kb::ingest(&pool, tenant.id, embedder.as_ref(), &articles).await?;
        let summary = measure(&pool, tenant.id, embedder.as_ref(), &tickets, args.json).await;
        pool.close().await;
        summary
    }
    .await;
    if let Err(e) =
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&admin).await
    {
        tracing::warn!(database = %name, error = %e, "could not drop the eval database");
    }
    result
}

/// The rankers compared: the first article by cosine alone, by BM25F
/// alone, by reciprocal-rank fusion, after reranking, and the local
/// brain's article ranking over the reranked hits.
const RANKERS: [&str; 5] = ["vector", "bm25", "rrf", "rerank", "agent"];

async fn measure(
    pool: &PgPool,
    tenant: TenantId,
    embedder: &dyn Embedder,
    tickets: &[Ticket],
    json: bool,
) -> Result<RetrievalSummary, EvalError> {
    let kb = KbSearch::new();
    let mut found = [[0usize; 2]; RANKERS.len()];
    let (mut labelled, mut queries, mut embed_ms, mut search_ms) = (0usize, 0usize, 0.0f64, 0.0f64);
    for ticket in tickets {
        let e = &ticket.expected;
        let retrieves = e.kb_article.is_some() || e.reason.as_deref() == Some("no_knowledge");
        if !retrieves {
            continue;
        }
        let plan = local::search_plan(ticket.subject.as_deref(), &ticket.message);
        let mut results: Vec<(f32, SearchResult)> = Vec::new();
        let mut lines = Vec::new();
        for q in &plan {
            let started = Instant::now();
            embedder.embed(std::slice::from_ref(&q.text)).await.map_err(|e| EvalError::Kb(e.into()))?;
            embed_ms += started.elapsed().as_secs_f64() * 1000.0;
            let started = Instant::now();
            let candidates = kb.candidates(pool, tenant, embedder, &q.text, Some(&q.focus)).await?;
            search_ms += started.elapsed().as_secs_f64() * 1000.0;
            queries += 1;
            lines.push(QueryLine {
                weight: q.weight,
                focus: candidates.focus.clone(),
                hits: candidates
                    .hits
                    .iter()
                    .map(|h| HitLine {
                        document: h.document.clone(),
                        chunk_index: h.chunk_index,
                        heading: h.heading.clone(),
                        cosine: h.cosine,
                        bm25: h.bm25,
                        matched: h.matched,
                        focus_matched: h.focus_matched.clone(),
                        rrf: h.score,
                    })
                    .collect(),
            });
            results.push((q.weight, candidates));
        }
        let mut uncovered = Vec::new();
        for entity in question::named_entities(&question::question_text(&ticket.message)) {
            if !kb.mentions(pool, tenant, embedder, &entity).await? {
                uncovered.push(entity);
            }
        }
        let reranked = reranked(&results);
        let articles = local::rank_articles(&reranked);
        let evidence = local::Evidence::of(&reranked, &articles);
        if let Some(expected) = e.kb_article.as_deref() {
            labelled += 1;
            for (i, ranking) in rankings(&results).iter().enumerate() {
                let at = ranking.iter().position(|d| d == expected);
                found[i][0] += usize::from(at == Some(0));
                found[i][1] += usize::from(at.is_some_and(|p| p < 3));
            }
        }
        if json {
            let line = TicketLine {
                id: &ticket.id,
                expected_action: &e.action,
                expected_reason: e.reason.as_deref(),
                expected_article: e.kb_article.as_deref(),
                language: kb::glossary::detect(&ticket.message).main.code(),
                uncovered,
                article: articles.first().map(|(d, _)| d.clone()),
                evidence,
                confidence: evidence.confidence(),
                queries: lines,
            };
            println!("{}", serde_json::to_string(&line).unwrap_or_default());
        }
    }
    let per_query = |total: f64| if queries == 0 { 0.0 } else { total / queries as f64 };
    Ok(RetrievalSummary {
        embedder: embedder.name().to_string(),
        tickets: labelled,
        rankers: RANKERS.iter().zip(found).map(|(ranker, [at_1, at_3])| RankerFigures { ranker, at_1, at_3 }).collect(),
        embed_ms: per_query(embed_ms),
        search_ms: per_query(search_ms),
    })
}

/// Each ranker's articles, best first (see [`RANKERS`]).
fn rankings(results: &[(f32, SearchResult)]) -> Vec<Vec<String>> {
    let by = |key: &dyn Fn(&kb::SearchHit) -> f32| {
        let mut scored: Vec<(String, f32)> = Vec::new();
        for (_, r) in results {
            for h in &r.hits {
                let s = key(h);
                match scored.iter_mut().find(|(d, _)| *d == h.document) {
                    Some((_, best)) => *best = best.max(s),
                    None => scored.push((h.document.clone(), s)),
                }
            }
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        scored.into_iter().map(|(d, _)| d).collect::<Vec<_>>()
    };
    let first = |r: &SearchResult| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for h in &r.hits {
            if !out.contains(&h.document) {
                out.push(h.document.clone());
            }
        }
        out
    };
    let rrf = results.first().map(|(_, r)| first(r)).unwrap_or_default();
    let reranked = reranked(results);
    let rerank = reranked.first().map(|(_, r)| first(r)).unwrap_or_default();
    let agent = local::rank_articles(&reranked).into_iter().map(|(d, _)| d).collect();
    vec![by(&|h| h.cosine), by(&|h| h.bm25), rrf, rerank, agent]
}

/// The searches' hits as the local brain gets them: reranked, at most
/// [`kb::MAX_RESULTS`].
fn reranked(results: &[(f32, SearchResult)]) -> Vec<(f32, SearchResult)> {
    results
        .iter()
        .map(|(w, r)| {
            let mut r = r.clone();
            rerank::rerank(&mut r.hits, &r.focus);
            r.hits.truncate(kb::MAX_RESULTS);
            (*w, r)
        })
        .collect()
}

impl RetrievalSummary {
    /// The figures as a table.
    pub fn print(&self) {
        println!("embedder {}  tickets with an article {}", self.embedder, self.tickets);
        for r in &self.rankers {
            println!("  {:<7} @1 {:>3}/{}  @3 {:>3}/{}", r.ranker, r.at_1, self.tickets, r.at_3, self.tickets);
        }
        println!("  embed {:.2} ms/query  search {:.2} ms/query", self.embed_ms, self.search_ms);
    }
}
