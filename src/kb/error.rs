//! What can go wrong at the knowledge base's boundary: reading articles
//! from disk, embedding, and the database.

use super::embedder::EmbedError;

/// Reading an article directory fails on the caller's input; embedding
/// and the database fail on the service's side.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0} holds no markdown (.md) articles")]
    Empty(String),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}
