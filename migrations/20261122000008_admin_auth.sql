-- Admin API authentication (issue #7): API keys carry a role and a tenant;
-- an admin key may be global (no tenant). A request's key is found by its
-- non-secret prefix before any tenant is known: a narrow system-job policy
-- allows exactly that lookup (and recording the key's use).

ALTER TABLE api_keys ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_only_admins_are_global
    CHECK (tenant_id IS NOT NULL OR role = 'admin');

CREATE POLICY api_auth ON api_keys
    USING (app_system_job() = 'api_auth')
    WITH CHECK (app_system_job() = 'api_auth');
