-- Knowledge-base search at scale (issue #8: p95 < 20 ms at 100,000 chunks).
-- Vectors are stored padded to 1536 dimensions so one column holds every
-- embedder's, but an HNSW index over the padded width does four times the
-- distance work a 384-dimension embedder (MiniLM, the default) needs, in
-- every search and every insert. `dims` is the embedder's own width;
-- 384-dimension vectors get an index over their leading 384 dimensions
-- (cosine is unchanged: the padding is zeros), every other width keeps the
-- full-width index.

ALTER TABLE knowledge_base
    ADD COLUMN dims integer NOT NULL DEFAULT 1536 CHECK (dims BETWEEN 1 AND 1536);

-- Rows stored before this column: the width follows from the embedder.
UPDATE knowledge_base SET dims = 384 WHERE embedder = 'minilm-l6-v2';
UPDATE knowledge_base SET dims = substring(embedder FROM '^hashing-v1-([0-9]+)$')::integer
 WHERE embedder ~ '^hashing-v1-[0-9]+$';

DROP INDEX knowledge_base_embedding;
CREATE INDEX knowledge_base_embedding ON knowledge_base
    USING hnsw (embedding vector_cosine_ops) WHERE dims <> 384;
CREATE INDEX knowledge_base_embedding_384 ON knowledge_base
    USING hnsw ((subvector(embedding, 1, 384)::vector(384)) vector_cosine_ops) WHERE dims = 384;
