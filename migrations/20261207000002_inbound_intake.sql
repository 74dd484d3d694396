-- Embedded mode's durable intake: a webhook is acknowledged once the
-- message's row here is committed; the row is removed when its turn has
-- settled, and rows left by a crash are taken up again at start-up (the
-- in-process bus is memory; this table is what survives). Kafka mode uses
-- the inbound topics instead.
CREATE TABLE inbound_intake (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel     text NOT NULL,
    external_id text NOT NULL,
    message     jsonb NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, channel, external_id)
);

ALTER TABLE inbound_intake ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbound_intake FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inbound_intake
    USING (tenant_id = app_current_tenant())
    WITH CHECK (tenant_id = app_current_tenant());
-- Start-up recovery reads every tenant's leftover rows (and only reads).
CREATE POLICY intake_recovery ON inbound_intake FOR SELECT
    USING (app_system_job() = 'intake_recovery');
