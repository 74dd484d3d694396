//! Embedders turn text into vectors for the knowledge base. Every stored
//! row records its embedder's name, and searches only compare vectors made
//! by the same embedder. Two implementations:
//! - [`HashingEmbedder`] (offline default): signed feature hashing of word
//!   unigrams, bigrams and character trigrams; deterministic, no model.
//! - [`OpenAiEmbedder`]: OpenAI-compatible `/embeddings` through
//!   async-openai (`text-embedding-3-small` by default), any base URL.

use super::text;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use std::future::Future;
use std::pin::Pin;

/// Width of the `knowledge_base.embedding` column; smaller vectors are
/// zero-padded (cosine distances do not change).
pub const STORED_DIMS: usize = 1536;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding request failed: {0}")]
    Request(String),
    #[error("embedder returned {got} vectors for {expected} texts")]
    Count { expected: usize, got: usize },
    #[error("embedder returned a vector of {got} dimensions, more than the {max} stored")]
    TooWide { got: usize, max: usize },
}

pub type EmbedFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Vec<f32>>, EmbedError>> + Send + 'a>>;

pub trait Embedder: Send + Sync + 'static {
    /// Stored with every row; include anything that changes the vectors
    /// (model, dimensions).
    fn name(&self) -> &str;
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a>;
}

/// Pads to [`STORED_DIMS`].
pub fn to_stored(mut v: Vec<f32>) -> Result<pgvector::Vector, EmbedError> {
    if v.len() > STORED_DIMS {
        return Err(EmbedError::TooWide { got: v.len(), max: STORED_DIMS });
    }
    v.resize(STORED_DIMS, 0.0);
    Ok(pgvector::Vector::from(v))
}

/// Offline embedder: no model, microseconds per text.
#[derive(Clone, Debug)]
pub struct HashingEmbedder {
    dims: usize,
    name: String,
}

impl Default for HashingEmbedder {
    fn default() -> Self {
        Self::new(512)
    }
}

impl HashingEmbedder {
    pub fn new(dims: usize) -> Self {
        Self { dims, name: format!("hashing-v1-{dims}") }
    }

    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dims];
        let terms = text::terms(text);
        let mut add = |feature: &str, weight: f32| {
            let h = fnv1a(feature.as_bytes());
            let idx = (h % self.dims as u64) as usize;
            let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
            v[idx] += sign * weight;
        };
        for t in &terms {
            add(&format!("w:{t}"), 1.0);
            let padded: Vec<char> = format!("<{t}>").chars().collect();
            if padded.len() > 5 {
                for tri in padded.windows(3) {
                    add(&format!("c:{}", tri.iter().collect::<String>()), 0.25);
                }
            }
        }
        for pair in terms.windows(2) {
            add(&format!("b:{} {}", pair[0], pair[1]), 0.7);
        }
        // Sublinear term frequency, then unit length.
        for x in v.iter_mut() {
            *x = x.signum() * (1.0 + x.abs()).ln();
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            for x in v.iter_mut() {
                *x /= norm;
            }
        }
        v
    }
}

impl Embedder for HashingEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        Box::pin(async move { Ok(texts.iter().map(|t| self.embed_one(t)).collect()) })
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// OpenAI-compatible embeddings.
pub struct OpenAiEmbedder {
    client: Client<OpenAIConfig>,
    model: String,
    name: String,
}

impl OpenAiEmbedder {
    pub fn new(base_url: &str, api_key: &str, model: &str) -> Self {
        // The process's client for this endpoint and key; when it cannot be
        // built (a key that is not a header value, no TLS backend),
        // async-openai's own, which meets the same fault when used.
        let client = crate::http_clients::openai(base_url, Some(api_key)).unwrap_or_else(|error| {
            tracing::warn!(%error, "embedding client not shared");
            Client::with_config(OpenAIConfig::new().with_api_base(base_url).with_api_key(api_key))
        });
        Self { client, model: model.to_string(), name: format!("openai:{model}") }
    }
}

impl Embedder for OpenAiEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        Box::pin(async move {
            let request = CreateEmbeddingRequestArgs::default()
                .model(&self.model)
                .input(texts.to_vec())
                .build()
                .map_err(|e| EmbedError::Request(e.to_string()))?;
            let response =
                self.client.embeddings().create(request).await.map_err(|e| EmbedError::Request(e.to_string()))?;
            if response.data.len() != texts.len() {
                return Err(EmbedError::Count { expected: texts.len(), got: response.data.len() });
            }
            let mut data = response.data;
            data.sort_by_key(|d| d.index);
            Ok(data.into_iter().map(|d| d.embedding).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn similar_texts_are_closer_than_unrelated_ones() {
        let e = HashingEmbedder::default();
        let q = e.embed_one("how do I export a report as PDF");
        let near = e.embed_one("Exporting reports to CSV or PDF");
        let far = e.embed_one("two-factor authentication backup codes");
        assert!(cos(&q, &near) > cos(&q, &far) + 0.1, "{} vs {}", cos(&q, &near), cos(&q, &far));
    }

    #[test]
    fn deterministic_and_unit_length() {
        let e = HashingEmbedder::default();
        let a = e.embed_one("Reset your password");
        assert_eq!(a, e.embed_one("Reset your password"));
        assert!((cos(&a, &a) - 1.0).abs() < 1e-4);
        assert!(e.embed_one("").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn padding_keeps_width_and_refuses_wider_vectors() {
        assert_eq!(to_stored(vec![1.0; 3]).unwrap().as_slice().len(), STORED_DIMS);
        assert!(to_stored(vec![0.0; STORED_DIMS + 1]).is_err());
    }
}
