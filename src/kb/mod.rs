//! The knowledge base: markdown articles split into chunks by heading,
//! each knowing its heading path ([`chunker`]), embedded ([`embedder`]:
//! all-MiniLM-L6-v2 offline ([`minilm`], the default, whose concurrent
//! requests share forward passes: [`batching`]), a hashing embedder, or
//! OpenAI-compatible embeddings), stored with a full-text vector and
//! searched per tenant with hybrid candidates (pgvector cosine plus BM25F,
//! [`lexical`]) and a reranking step ([`rerank`]) ([`store`]). Messages in
//! German, French or Spanish are searched with the English terms of a
//! small glossary ([`glossary`]).

pub mod batching;
pub mod chunker;
pub mod embedder;
pub mod glossary;
pub mod lexical;
pub mod minilm;
pub mod rerank;
pub mod store;
pub mod text;
pub mod threads;

pub use embedder::{Embedder, HashingEmbedder, OpenAiEmbedder};
pub use minilm::MiniLmEmbedder;
pub use store::{
    Article, IngestReport, KbError, KbSearch, MAX_RESULTS, SearchHit, SearchResult, ingest, keyword_index_usable,
    read_articles,
};
