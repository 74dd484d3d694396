-- Operations tables: agent metrics, the human queues (escalations and
-- approvals), the transactional outbox, the audit log and API keys.

CREATE TABLE agent_metrics (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    conversation_id uuid,
    channel         text CHECK (channel IN ('email', 'whatsapp', 'slack', 'webform')),
    metric_name     text NOT NULL,
    metric_value    double precision NOT NULL,
    dimensions      jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_metrics_by_name ON agent_metrics (tenant_id, metric_name, recorded_at DESC);

CREATE TABLE escalations (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    conversation_id uuid NOT NULL,
    customer_id     uuid NOT NULL,
    ticket_id       uuid,
    -- The seven reasons of the escalation rules, plus 'processing_failure'
    -- for a message the runtime could not handle after its retries.
    reason          text NOT NULL CHECK (reason IN (
                        'legal_inquiry', 'compliance_inquiry', 'refund_request', 'pricing_inquiry',
                        'human_requested', 'negative_sentiment', 'no_knowledge', 'processing_failure')),
    urgency         text NOT NULL DEFAULT 'normal' CHECK (urgency IN ('low', 'normal', 'high', 'urgent')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'claimed', 'resolved')),
    summary         text NOT NULL DEFAULT '',
    claimed_by      text,
    sla_due_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    resolved_at     timestamptz,
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
CREATE INDEX escalations_queue ON escalations (tenant_id, status, urgency, created_at);

-- Drafts below the confidence threshold, waiting for a human.
CREATE TABLE approvals (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    conversation_id uuid NOT NULL,
    inbound_message uuid NOT NULL REFERENCES messages (id),
    draft           text NOT NULL,
    confidence      real NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'edited', 'rejected')),
    final_text      text,
    decided_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id)
);
CREATE INDEX approvals_queue ON approvals (tenant_id, status, created_at);
CREATE UNIQUE INDEX approvals_one_per_inbound ON approvals (inbound_message);

-- Transactional outbox: rows are written in the same transaction as the
-- state transition that causes them; a relay publishes them afterwards and
-- sets published_at. A crash between commit and publish loses nothing.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    topic        text NOT NULL,
    key          text NOT NULL,
    payload      jsonb NOT NULL,
    message_id   uuid REFERENCES messages (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Who did what, append-only.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    actor       text NOT NULL,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text,
    before      jsonb,
    after       jsonb,
    request_id  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_by_time ON audit_log (tenant_id, created_at DESC);
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION forbid_mutation();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_mutation();

-- Admin API keys, stored as a hash. `prefix` is the non-secret start of
-- the key used to find the row.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL UNIQUE,
    key_hash     text NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'agent', 'supervisor', 'admin')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);
