//! The knowledge base: markdown articles split into chunks by heading
//! ([`chunker`]), embedded ([`embedder`]: an offline hashing embedder or
//! OpenAI-compatible embeddings), stored with a full-text vector and
//! searched per tenant with hybrid ranking ([`store`]).

pub mod chunker;
pub mod embedder;
pub mod lexical;
pub mod minilm;
pub mod store;
pub mod text;

pub use embedder::{Embedder, HashingEmbedder, OpenAiEmbedder};
pub use minilm::MiniLmEmbedder;
pub use store::{
    Article, IngestReport, KbError, KbSearch, MAX_RESULTS, SearchHit, SearchResult, ingest, read_articles,
};
