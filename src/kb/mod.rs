//! The knowledge base: markdown articles split into chunks by heading,
//! each knowing its heading path ([`chunker`]), embedded ([`embedder`]:
//! all-MiniLM-L6-v2 offline ([`minilm`], the default, whose concurrent
//! requests share forward passes: [`batching`]), a hashing embedder, or
//! OpenAI-compatible embeddings), stored with a full-text vector and
//! searched per tenant with hybrid candidates (pgvector cosine plus BM25F,
//! [`lexical`]) and a reranking step ([`rerank`]) ([`search`]), after an
//! idempotent ingestion that keeps each article's markdown beside its
//! chunks ([`mod@ingest`]). Messages in German, French or Spanish are
//! searched with the English terms of a small glossary ([`glossary`]).

pub mod batching;
pub mod chunker;
pub mod embedder;
pub mod error;
pub mod glossary;
pub mod ingest;
pub mod lexical;
pub mod minilm;
pub mod rerank;
pub mod search;
pub mod text;
pub mod threads;

pub use embedder::{Embedder, HashingEmbedder, OpenAiEmbedder};
pub use error::KbError;
pub use ingest::{Article, IngestReport, ingest, read_articles};
pub use minilm::MiniLmEmbedder;
pub use search::{KbSearch, MAX_RESULTS, SearchHit, SearchResult, keyword_index_usable};
