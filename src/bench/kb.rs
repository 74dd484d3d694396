//! The `kb_search` scenario: knowledge-base search latency at a large
//! corpus (target: p95 < 20 ms at 100,000 chunks), measured on the path
//! the brain takes — [`KbSearch::search`] with the run's embedder, query
//! embedding included — against a tenant of its own in the scratch
//! database.
//!
//! The corpus grows from the sample knowledge base: every real chunk is
//! embedded by the real embedder, then copied with some of its words
//! swapped for other words of the corpus and its vector moved a little
//! (Gaussian noise, renormalised), until there are `chunks` rows. So the
//! lexemes and the vectors keep the real corpus's shape (clusters around
//! topics, a real vocabulary) at the size asked for. Rows go in by bulk
//! insert with the HNSW indexes dropped and built once afterwards from
//! their own definitions (the build time is a figure of its own); the
//! scratch database is the harness's. Whether the keyword match could use
//! its index (see [`crate::kb::keyword_index_usable`]) is a figure too: it
//! decides the database's part at this size.

use super::report::{Figure, ScenarioResult};
use crate::crm::{MergePolicy, NewTenant, create_tenant};
use crate::db::begin_tenant;
use crate::domain::TenantId;
use crate::kb::{Embedder, KbSearch, MAX_RESULTS, ingest, read_articles};
use hdrhistogram::Histogram;
use sqlx::PgPool;
use std::path::Path;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum KbBenchError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("knowledge base: {0}")]
    Kb(#[from] crate::kb::KbError),
    #[error("tenant: {0}")]
    Tenant(#[from] crate::crm::CrmError),
    #[error("{0}")]
    Failed(String),
}

/// What the scenario needs.
pub struct KbPlan<'a> {
    pub pool: &'a PgPool,
    pub embedder: &'a dyn Embedder,
    pub kb_dir: &'a Path,
    pub chunks: usize,
    pub queries: &'a [String],
    /// Searches measured (after one warm-up round over the queries).
    pub searches: usize,
}

/// A real chunk the synthetic ones are made from.
struct Seed {
    title: String,
    heading: String,
    content: String,
    vector: Vec<f32>,
}

/// Small deterministic generator (xorshift64*): the corpus is the same
/// every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Roughly standard normal (sum of four uniforms, rescaled).
    fn normal(&mut self) -> f32 {
        let sum: f64 = (0..4).map(|_| (self.next() >> 11) as f64 / (1u64 << 53) as f64).sum();
        ((sum - 2.0) * 3f64.sqrt()) as f32
    }
}

/// Further customer questions (the load scenarios' come first).
pub const MORE_QUESTIONS: [&str; 10] = [
    "Why was my card declined when upgrading my plan?",
    "How do I give my accountant read-only access?",
    "Can I send invoices in Spanish?",
    "What happens to my data if I cancel my subscription?",
    "How do I set payment reminders for late clients?",
    "Is there an API to create invoices automatically?",
    "How do I merge two duplicate client records?",
    "Where can I download last year's tax report?",
    "Can I accept payments by bank transfer?",
    "How do I turn on two-factor authentication?",
];

const BATCH: usize = 1000;
/// How far a synthetic vector moves from its seed (relative to its norm).
const NOISE: f32 = 0.35;
/// Share of a synthetic chunk's words swapped for other corpus words.
const SWAP_PER_MILLE: usize = 150;

pub async fn kb_search(plan: KbPlan<'_>) -> Result<ScenarioResult, KbBenchError> {
    let tenant = create_tenant(
        plan.pool,
        &NewTenant { slug: "bench-kb".into(), name: "Bench KB".into(), merge_policy: MergePolicy::Manual },
    )
    .await?
    .id;
    let articles = read_articles(plan.kb_dir)?;
    ingest(plan.pool, tenant, plan.embedder, &articles).await?;
    let seeds = seeds(plan.pool, tenant).await?;
    if seeds.is_empty() {
        return Err(KbBenchError::Failed(format!("no chunks ingested from {}", plan.kb_dir.display())));
    }
    let started = Instant::now();
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes
          WHERE tablename = 'knowledge_base' AND indexdef LIKE '%USING hnsw%'",
    )
    .fetch_all(plan.pool)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}"))).execute(plan.pool).await?;
    }
    let synthetic = plan.chunks.saturating_sub(seeds.len());
    grow(plan.pool, tenant, plan.embedder.name(), &seeds, synthetic).await?;
    let inserted = started.elapsed().as_secs_f64();
    eprintln!("kb_search: {} chunks in {inserted:.1} s; building the HNSW indexes", seeds.len() + synthetic);
    let started = Instant::now();
    let mut conn = plan.pool.acquire().await?;
    sqlx::query("SET maintenance_work_mem = '1GB'").execute(&mut *conn).await?;
    for (_, definition) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(definition.clone())).execute(&mut *conn).await?;
    }
    sqlx::query("ANALYZE knowledge_base").execute(&mut *conn).await?;
    drop(conn);
    let indexed = started.elapsed().as_secs_f64();

    let search = KbSearch::new();
    // The first search loads the corpus statistics (cached per process for
    // 30 s); it is timed apart.
    let started = Instant::now();
    let first = plan.queries.first().cloned().unwrap_or_default();
    search.search(plan.pool, tenant, plan.embedder, &first, None, MAX_RESULTS).await?;
    let cold = started.elapsed().as_secs_f64() * 1000.0;
    for q in plan.queries {
        search.search(plan.pool, tenant, plan.embedder, q, None, MAX_RESULTS).await?;
    }
    let mut h = histogram()?;
    let mut empty = 0u64;
    let started = Instant::now();
    for i in 0..plan.searches {
        let q = &plan.queries[i % plan.queries.len().max(1)];
        let t = Instant::now();
        let found = search.search(plan.pool, tenant, plan.embedder, q, None, MAX_RESULTS).await?;
        record(&mut h, t);
        if found.hits.is_empty() {
            empty += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // The split: the query's embedding alone (independent of the corpus),
    // and the same searches with the vectors embedded beforehand (the
    // database's part: the index, the keyword match, the ranking).
    let mut embedding = histogram()?;
    let mut vectors = std::collections::HashMap::new();
    for q in plan.queries.iter().cycle().take(plan.searches.min(100).max(plan.queries.len())) {
        let t = Instant::now();
        let v = plan.embedder.embed(std::slice::from_ref(q)).await.map_err(|e| KbBenchError::Failed(e.to_string()))?;
        record(&mut embedding, t);
        vectors.insert(q.clone(), v);
    }
    let known = Precomputed { name: plan.embedder.name().to_string(), vectors };
    let mut retrieval = histogram()?;
    for i in 0..plan.searches {
        let q = &plan.queries[i % plan.queries.len().max(1)];
        let t = Instant::now();
        search.search(plan.pool, tenant, &known, q, None, MAX_RESULTS).await?;
        record(&mut retrieval, t);
    }
    let total: i64 = {
        let mut tx = begin_tenant(plan.pool, tenant).await?;
        let n = sqlx::query_scalar("SELECT count(*) FROM knowledge_base").fetch_one(&mut *tx).await?;
        tx.commit().await?;
        n
    };
    let keyword_index = crate::kb::keyword_index_usable(plan.pool).await?;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let figure = |name: &str, value: f64, unit: &str| Figure { name: name.into(), value, unit: unit.into() };
    Ok(ScenarioResult {
        name: "kb_search".into(),
        description: format!(
            "{} searches over {total} chunks ({} embedder), one at a time, after a warm-up",
            plan.searches,
            plan.embedder.name()
        ),
        customers: 0,
        messages_sent: plan.searches as u64,
        replies_received: h.len(),
        errors: empty,
        seconds,
        throughput_per_sec: if seconds > 0.0 { h.len() as f64 / seconds } else { 0.0 },
        latency_ms: super::load::percentiles_us(&h),
        histogram: super::load::buckets(&h),
        figures: vec![
            figure("chunks", total as f64, "rows"),
            figure("search p95", ms(0.95), "ms"),
            figure("query embedding p50", embedding.value_at_quantile(0.5) as f64 / 1000.0, "ms"),
            figure("query embedding p95", embedding.value_at_quantile(0.95) as f64 / 1000.0, "ms"),
            figure("database part p50 (vector given)", retrieval.value_at_quantile(0.5) as f64 / 1000.0, "ms"),
            figure("database part p95 (vector given)", retrieval.value_at_quantile(0.95) as f64 / 1000.0, "ms"),
            figure("bulk insert", inserted, "s"),
            figure("HNSW index build", indexed, "s"),
            figure("first search (loads corpus statistics)", cold, "ms"),
            figure(
                "keyword matches from the full-text index (ts_match_vq leakproof)",
                f64::from(u8::from(keyword_index)),
                "yes=1",
            ),
        ],
        ..ScenarioResult::default()
    })
}

fn histogram() -> Result<Histogram<u64>, KbBenchError> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| KbBenchError::Failed(format!("histogram: {e}")))
}

fn record(h: &mut Histogram<u64>, since: Instant) {
    let _ = h.record(u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX).clamp(1, 60_000_000));
}

/// Answers with vectors embedded beforehand, under the real embedder's
/// name (so the search reads that embedder's chunks).
struct Precomputed {
    name: String,
    vectors: std::collections::HashMap<String, Vec<Vec<f32>>>,
}

impl Embedder for Precomputed {
    fn name(&self) -> &str {
        &self.name
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> crate::kb::embedder::EmbedFuture<'a> {
        let found =
            texts.iter().map(|t| self.vectors.get(t).and_then(|v| v.first().cloned())).collect::<Option<Vec<_>>>();
        Box::pin(async move { found.ok_or(crate::kb::embedder::EmbedError::Count { expected: texts.len(), got: 0 }) })
    }
}

/// The real chunks with their stored vectors (the embedder's own width).
async fn seeds(pool: &PgPool, tenant: TenantId) -> Result<Vec<Seed>, KbBenchError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let rows: Vec<(String, String, String, Vec<f32>, i32)> = sqlx::query_as(
        "SELECT title, heading, content, embedding::real[], dims FROM knowledge_base ORDER BY document, chunk_index",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(title, heading, content, mut vector, dims)| {
            vector.truncate(usize::try_from(dims).unwrap_or(vector.len()));
            Seed { title, heading, content, vector }
        })
        .collect())
}

/// Inserts `n` synthetic chunks made from `seeds`, in batches.
async fn grow(pool: &PgPool, tenant: TenantId, embedder: &str, seeds: &[Seed], n: usize) -> Result<(), KbBenchError> {
    let vocabulary: Vec<&str> = seeds.iter().flat_map(|s| s.content.split_whitespace()).collect();
    let dims = seeds.first().map_or(0, |s| s.vector.len());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let progress = indicatif::ProgressBar::new(n as u64).with_message("kb corpus");
    let mut start = 0;
    while start < n {
        let end = (start + BATCH).min(n);
        let mut ids = Vec::with_capacity(end - start);
        let (mut documents, mut titles, mut headings, mut indexes, mut contents, mut hashes, mut vectors) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in start..end {
            let seed = &seeds[i % seeds.len()];
            let content = mutate(&seed.content, &vocabulary, &mut rng);
            ids.push(uuid::Uuid::new_v4());
            documents.push(format!("synthetic-{:06}", i / 8));
            titles.push(format!("{} ({})", seed.title, i / 8));
            headings.push(seed.heading.clone());
            indexes.push((i % 8) as i32);
            hashes.push(format!("synthetic-{i}"));
            contents.push(content);
            vectors.push(vector_literal(&nudge(&seed.vector, &mut rng)));
        }
        let mut tx = begin_tenant(pool, tenant).await?;
        sqlx::query(
            "INSERT INTO knowledge_base (id, tenant_id, document, title, heading, chunk_index, content,
                                         content_hash, embedder, embedding, dims)
             SELECT id, $2, document, title, heading, chunk_index, content, hash, $3, v::vector, $11
               FROM unnest($1::uuid[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[],
                           $10::text[]) AS t(id, document, title, heading, chunk_index, content, hash, v)",
        )
        .bind(&ids)
        .bind(tenant)
        .bind(embedder)
        .bind(&documents)
        .bind(&titles)
        .bind(&headings)
        .bind(&indexes)
        .bind(&contents)
        .bind(&hashes)
        .bind(&vectors)
        .bind(i32::try_from(dims).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        progress.inc((end - start) as u64);
        start = end;
    }
    progress.finish_and_clear();
    Ok(())
}

/// The seed's text with some words swapped for other corpus words.
fn mutate(content: &str, vocabulary: &[&str], rng: &mut Rng) -> String {
    content
        .split_whitespace()
        .map(|w| if rng.below(1000) < SWAP_PER_MILLE { vocabulary[rng.below(vocabulary.len())] } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The seed's vector moved by Gaussian noise, back on the unit sphere.
fn nudge(v: &[f32], rng: &mut Rng) -> Vec<f32> {
    let scale = NOISE / (v.len().max(1) as f32).sqrt();
    let moved: Vec<f32> = v.iter().map(|x| x + scale * rng.normal()).collect();
    let norm = moved.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    moved.into_iter().map(|x| x / norm).collect()
}

/// pgvector's text form, padded with zeros to the stored width.
fn vector_literal(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 12 + crate::kb::embedder::STORED_DIMS * 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x.to_string());
    }
    for _ in v.len()..crate::kb::embedder::STORED_DIMS {
        s.push_str(",0");
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nudged_vectors_stay_near_their_seed_and_on_the_unit_sphere() {
        let mut rng = Rng(7);
        let mut seed = vec![0.0f32; 384];
        seed[3] = 1.0;
        let v = nudge(&seed, &mut rng);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        let cosine: f32 = v.iter().zip(&seed).map(|(a, b)| a * b).sum();
        assert!(cosine > 0.8 && cosine < 0.999, "{cosine}");
    }

    #[test]
    fn the_vector_literal_has_the_stored_width() {
        let s = vector_literal(&[0.5, -1.0]);
        assert!(s.starts_with("[0.5,-1,0,"), "{s}");
        assert_eq!(s.matches(',').count() + 1, crate::kb::embedder::STORED_DIMS);
    }

    #[test]
    fn mutation_keeps_the_length_and_uses_the_vocabulary() {
        let mut rng = Rng(1);
        let text = "one two three four five six seven eight nine ten ".repeat(20);
        let out = mutate(&text, &["zebra"], &mut rng);
        assert_eq!(out.split_whitespace().count(), 200);
        let swapped = out.split_whitespace().filter(|w| *w == "zebra").count();
        assert!((10..=60).contains(&swapped), "{swapped} of 200 swapped");
    }
}
