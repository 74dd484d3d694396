-- The agent's side of each turn (issue #5): which brain answered (after any
-- fallback), what it decided and how sure it was, every tool call in order
-- (name, arguments, latency, tokens), token use and estimated cost. Budgets
-- are summed from here. One row per answered inbound message.

CREATE TABLE agent_turns (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    conversation_id   uuid NOT NULL,
    inbound_message   uuid NOT NULL REFERENCES messages (id),
    ticket_id         uuid,
    brain             text NOT NULL,
    decision          text NOT NULL CHECK (decision IN ('reply', 'draft', 'escalate')),
    reason            text,
    confidence        real NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    tool_calls        jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- Brains that were tried and failed before `brain` answered, with why.
    fallbacks         jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- Knowledge-base articles the reply was composed from.
    sources           text[] NOT NULL DEFAULT '{}',
    prompt_tokens     integer NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens integer NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    cost_usd          double precision NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    latency_ms        integer CHECK (latency_ms >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
CREATE UNIQUE INDEX agent_turns_one_per_inbound ON agent_turns (inbound_message);
CREATE INDEX agent_turns_by_tenant_time ON agent_turns (tenant_id, created_at);
CREATE INDEX agent_turns_by_conversation ON agent_turns (tenant_id, conversation_id, created_at);

ALTER TABLE agent_turns ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_turns FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agent_turns
    USING (tenant_id = app_current_tenant())
    WITH CHECK (tenant_id = app_current_tenant());

-- A conversation has at most one open ticket: the agent's create_ticket
-- reuses it.
CREATE UNIQUE INDEX tickets_one_open_per_conversation ON tickets (conversation_id)
    WHERE status NOT IN ('resolved', 'closed') AND conversation_id IS NOT NULL;
