-- The CRM (DESIGN.md §4, seed 000 part IV): tenants, customers and their
-- identifiers on every channel, conversations with their append-only event
-- log, messages, tickets and the knowledge base.
--
-- Child tables reference parents by (tenant_id, id) so a row can never point
-- at another tenant's customer or conversation.

CREATE TABLE tenants (
    id                    uuid PRIMARY KEY,
    slug                  text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- What to do when one message's identifiers point at two existing
    -- customers: 'manual' records a merge candidate for a human; 'auto'
    -- merges them (and still records the candidate, as merged).
    identity_merge_policy text NOT NULL DEFAULT 'manual'
                          CHECK (identity_merge_policy IN ('manual', 'auto')),
    settings              jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customers (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    display_name text,
    -- Set when this customer was merged into another; the row stays so that
    -- old references still resolve.
    merged_into  uuid,
    metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, merged_into) REFERENCES customers (tenant_id, id),
    CHECK (merged_into IS NULL OR merged_into <> id)
);

-- Every way a customer is recognised. Values are normalised by the service
-- (emails lowercased, phones in E.164), so equality is identity.
CREATE TABLE customer_identifiers (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    customer_id uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('email', 'phone', 'slack', 'whatsapp')),
    value       text NOT NULL CHECK (length(value) BETWEEN 1 AND 320),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, kind, value),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_identifiers_customer ON customer_identifiers (tenant_id, customer_id);

-- Two customers that one message's identifiers tied together. Never merged
-- silently: a human (or the tenant's 'auto' policy) decides.
CREATE TABLE customer_merge_candidates (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    -- The pair is stored ordered (customer_a < customer_b) so it is unique.
    customer_a  uuid NOT NULL,
    customer_b  uuid NOT NULL,
    evidence    jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'merged', 'dismissed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    UNIQUE (tenant_id, customer_a, customer_b),
    CHECK (customer_a < customer_b),
    FOREIGN KEY (tenant_id, customer_a) REFERENCES customers (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, customer_b) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE conversations (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    customer_id     uuid NOT NULL,
    state           text NOT NULL DEFAULT 'idle' CHECK (state IN (
                        'idle', 'active', 'awaiting_customer', 'awaiting_approval',
                        'escalated', 'human_active', 'resolved')),
    -- Optimistic concurrency: every accepted transition is
    -- `UPDATE … SET state_version = state_version + 1 WHERE state_version = $old`.
    state_version   bigint NOT NULL DEFAULT 0 CHECK (state_version >= 0),
    initial_channel text NOT NULL CHECK (initial_channel IN ('email', 'whatsapp', 'slack', 'webform')),
    current_channel text NOT NULL CHECK (current_channel IN ('email', 'whatsapp', 'slack', 'webform')),
    subject         text,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_message_at timestamptz,
    resolved_at     timestamptz,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
-- A customer has at most one open conversation: the one their actor owns.
CREATE UNIQUE INDEX conversations_one_open_per_customer
    ON conversations (tenant_id, customer_id) WHERE state <> 'resolved';
CREATE INDEX conversations_by_state ON conversations (tenant_id, state, updated_at DESC);

-- Every transition, append-only. `seq` numbers a conversation's events
-- from 1 and is never reused.
CREATE TABLE conversation_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    conversation_id uuid NOT NULL,
    seq             bigint NOT NULL CHECK (seq > 0),
    event_type      text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    state_before    text NOT NULL,
    state_after     text NOT NULL,
    state_version   bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, seq),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id)
);
CREATE TRIGGER conversation_events_append_only
    BEFORE UPDATE OR DELETE ON conversation_events
    FOR EACH ROW EXECUTE FUNCTION forbid_mutation();
CREATE TRIGGER conversation_events_no_truncate
    BEFORE TRUNCATE ON conversation_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_mutation();

CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    conversation_id uuid NOT NULL,
    customer_id     uuid NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'whatsapp', 'slack', 'webform')),
    direction       text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    -- Who wrote it: the customer, the AI agent, a human agent, or the system
    -- (e.g. an apology after repeated failures).
    author          text NOT NULL CHECK (author IN ('customer', 'ai', 'human', 'system')),
    body            text NOT NULL,
    -- The provider's id: the dedupe key of inbound messages, the provider's
    -- acceptance id of outbound ones.
    external_id     text,
    -- For a reply: the inbound message it answers.
    in_reply_to     uuid REFERENCES messages (id),
    delivery_status text NOT NULL CHECK (delivery_status IN (
                        'received', 'pending', 'queued', 'sent', 'delivered', 'read',
                        'failed', 'undelivered')),
    latency_ms      integer CHECK (latency_ms >= 0),
    tokens_used     integer CHECK (tokens_used >= 0),
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((direction = 'inbound') = (author = 'customer')),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
-- Idempotency: a redelivered inbound message is the same row.
CREATE UNIQUE INDEX messages_external_id ON messages (tenant_id, channel, external_id)
    WHERE external_id IS NOT NULL;
-- One reply per author per inbound message: a redelivery cannot produce a
-- second AI reply.
CREATE UNIQUE INDEX messages_one_reply ON messages (in_reply_to, author)
    WHERE direction = 'outbound' AND in_reply_to IS NOT NULL;
CREATE INDEX messages_by_conversation ON messages (tenant_id, conversation_id, created_at);

CREATE TABLE tickets (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    -- Human-facing reference ("TKT-1042"), unique across the installation.
    number          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    customer_id     uuid NOT NULL,
    conversation_id uuid,
    source_channel  text NOT NULL CHECK (source_channel IN ('email', 'whatsapp', 'slack', 'webform')),
    subject         text,
    category        text,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'escalated', 'resolved', 'closed')),
    priority        text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id)
);
CREATE INDEX tickets_by_status ON tickets (tenant_id, status, updated_at DESC);

-- Knowledge base chunks. Every row records the embedder that made its
-- vector; searches only compare vectors of one embedder. Embedders with
-- fewer dimensions are zero-padded to 1536, which leaves cosine distances
-- unchanged.
CREATE TABLE knowledge_base (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    document     text NOT NULL,
    title        text NOT NULL,
    heading      text NOT NULL DEFAULT '',
    chunk_index  integer NOT NULL CHECK (chunk_index >= 0),
    content      text NOT NULL,
    content_hash text NOT NULL,
    embedder     text NOT NULL,
    embedding    vector(1536) NOT NULL,
    search_text  tsvector GENERATED ALWAYS AS (
                     setweight(to_tsvector('english', title), 'A')
                     || setweight(to_tsvector('english', heading), 'B')
                     || setweight(to_tsvector('english', content), 'C')) STORED,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, embedder, document, chunk_index)
);
CREATE INDEX knowledge_base_embedding ON knowledge_base USING hnsw (embedding vector_cosine_ops);
CREATE INDEX knowledge_base_search_text ON knowledge_base USING gin (search_text);
