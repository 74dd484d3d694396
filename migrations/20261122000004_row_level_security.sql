-- Tenant isolation, enforced by the database. Every tenant-scoped table
-- gets row-level security FORCEd (so it binds the table owner too) and one
-- policy: a row is visible and writable only when its tenant is the
-- transaction's `app.tenant_id`. With the setting absent nothing is visible.
-- Superusers and BYPASSRLS roles are exempt, which is why the service
-- refuses to start as one.

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = app_current_tenant())
    WITH CHECK (id = app_current_tenant());

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'customers', 'customer_identifiers', 'customer_merge_candidates',
        'conversations', 'conversation_events', 'messages', 'tickets',
        'knowledge_base', 'agent_metrics', 'escalations', 'approvals',
        'outbox', 'audit_log', 'api_keys'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant_id = app_current_tenant()) '
            'WITH CHECK (tenant_id = app_current_tenant())', t);
    END LOOP;
END
$$;
