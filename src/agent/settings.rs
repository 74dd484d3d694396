//! Process-wide agent settings (flags and environment): which brain the
//! conversation actors call and which embedder the knowledge base uses.
//! Per-tenant settings (persona, thresholds, models, budget) live in
//! [`super::config`].

use crate::kb::{Embedder, HashingEmbedder, MiniLmEmbedder, OpenAiEmbedder};
use crate::secret::Secret;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BrainKind {
    /// The agent: rules, tools, knowledge base, models per tenant.
    Agent,
    /// A deterministic acknowledger for exercising the runtime.
    Echo,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EmbedderKind {
    /// all-MiniLM-L6-v2 on the CPU, from local files (the default).
    Minilm,
    /// Feature hashing: no model, less accurate.
    Hashing,
    /// An OpenAI-compatible `/embeddings` endpoint.
    Openai,
}

#[derive(Clone, Debug, Args)]
pub struct EmbedderSettings {
    /// Embedder of the knowledge base (vectors of different embedders are
    /// never compared; re-ingest after changing it).
    #[arg(long, env = "KB_EMBEDDER", value_enum, default_value_t = EmbedderKind::Minilm)]
    pub embedder: EmbedderKind,
    /// Directory with the MiniLM model files (default: the setup cache).
    #[arg(long, env = "FTE_MINILM_DIR")]
    pub minilm_dir: Option<PathBuf>,
    /// Base URL of the OpenAI-compatible embeddings API.
    #[arg(long, env = "OPENAI_BASE_URL", default_value = "https://api.openai.com/v1")]
    pub openai_base_url: String,
    #[arg(long, env = "OPENAI_EMBEDDING_MODEL", default_value = "text-embedding-3-small")]
    pub openai_embedding_model: String,
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<Secret<String>>,
}

#[derive(Clone, Debug, Args)]
pub struct AgentSettings {
    /// The brain the conversation actors call.
    #[arg(long, env = "FTE_BRAIN", value_enum, default_value_t = BrainKind::Agent)]
    pub brain: BrainKind,
    #[command(flatten)]
    pub embedder: EmbedderSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    MiniLm(#[from] crate::kb::minilm::LoadError),
    #[error("KB_EMBEDDER=openai needs OPENAI_API_KEY")]
    MissingOpenAiKey,
}

impl EmbedderSettings {
    /// Builds the configured embedder; a model that cannot be loaded is an
    /// error, never a silent switch to another embedder.
    pub fn build(&self) -> Result<Arc<dyn Embedder>, SettingsError> {
        Ok(match self.embedder {
            EmbedderKind::Hashing => Arc::new(HashingEmbedder::default()),
            EmbedderKind::Minilm => {
                let dir = self.minilm_dir.clone().unwrap_or_else(MiniLmEmbedder::default_dir);
                Arc::new(MiniLmEmbedder::load(&dir)?)
            }
            EmbedderKind::Openai => {
                let key = self.openai_api_key.as_ref().ok_or(SettingsError::MissingOpenAiKey)?;
                Arc::new(OpenAiEmbedder::new(&self.openai_base_url, key.expose(), &self.openai_embedding_model))
            }
        })
    }
}
