-- What the conversation actors need beyond the CRM tables: snapshots of
-- their folded state, and a narrow way for the runtime's background jobs
-- (the outbox relay, the inactivity sweeper) to work across tenants.

-- A conversation's state after event `seq`, so rehydration replays only
-- the events after the latest snapshot.
CREATE TABLE conversation_snapshots (
    tenant_id       uuid NOT NULL,
    conversation_id uuid NOT NULL,
    seq             bigint NOT NULL CHECK (seq > 0),
    state           jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, seq),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id)
);
ALTER TABLE conversation_snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversation_snapshots FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON conversation_snapshots
    USING (tenant_id = app_current_tenant())
    WITH CHECK (tenant_id = app_current_tenant());

-- The job a transaction runs as, set with
-- `set_config('app.system_job', '<name>', true)` by the runtime's own
-- background jobs only. NULL otherwise.
CREATE FUNCTION app_system_job() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.system_job', true), '') $$;

-- The outbox relay publishes every tenant's committed outbox rows and marks
-- them published: it reads and updates outbox rows, and nothing else.
CREATE POLICY outbox_relay ON outbox
    USING (app_system_job() = 'outbox_relay')
    WITH CHECK (app_system_job() = 'outbox_relay');

-- The inactivity sweeper finds conversations whose customer has gone quiet
-- (it only reads; the timeout itself is applied by the conversation's actor
-- under the tenant's own setting).
CREATE POLICY inactivity_sweeper ON conversations FOR SELECT
    USING (app_system_job() = 'inactivity_sweeper');

CREATE INDEX conversations_awaiting_customer ON conversations (last_message_at)
    WHERE state = 'awaiting_customer';
CREATE INDEX conversations_by_customer ON conversations (tenant_id, customer_id, opened_at DESC);
