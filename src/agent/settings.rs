//! Process-wide agent settings (flags and environment): which brain the
//! conversation actors call and which embedder the knowledge base uses.
//! The settings themselves are plain data in [`crate::config`]; this module
//! builds the embedder they name ([`build_embedder`]). Per-tenant settings
//! (persona, thresholds, models, budget) live in [`super::config`].

pub use crate::config::{AgentSettings, BrainKind, EmbedderKind, EmbedderSettings};

use crate::kb::batching::Batching;
use crate::kb::{Embedder, HashingEmbedder, MiniLmEmbedder, OpenAiEmbedder};
use std::sync::Arc;

/// Texts in one MiniLM forward pass at most when concurrent requests are batched.
const MINILM_BATCH: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    MiniLm(#[from] crate::kb::minilm::LoadError),
    #[error("KB_EMBEDDER=openai needs OPENAI_API_KEY")]
    MissingOpenAiKey,
}

/// Builds the embedder `settings` name; a model that cannot be loaded is an
/// error, never a silent switch to another embedder.
pub fn build_embedder(settings: &EmbedderSettings) -> Result<Arc<dyn Embedder>, SettingsError> {
    Ok(match settings.embedder {
        EmbedderKind::Hashing => Arc::new(HashingEmbedder::default()),
        EmbedderKind::Minilm => {
            let dir = settings.minilm_dir.clone().unwrap_or_else(MiniLmEmbedder::default_dir);
            // Concurrent turns' queries share forward passes, one pass
            // per core at a time.
            let lanes = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
            Arc::new(Batching::new(Arc::new(MiniLmEmbedder::load(&dir)?), MINILM_BATCH, lanes))
        }
        EmbedderKind::Openai => {
            let key = settings.openai_api_key.as_ref().ok_or(SettingsError::MissingOpenAiKey)?;
            Arc::new(OpenAiEmbedder::new(&settings.openai_base_url, key.expose(), &settings.openai_embedding_model))
        }
    })
}
