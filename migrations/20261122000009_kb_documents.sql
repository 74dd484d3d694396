-- Knowledge-base administration (issue #7 item 5).
--
-- `knowledge_base` holds the searchable chunks of each article (one set per
-- embedder); `kb_documents` holds the article itself, once per tenant: the
-- markdown it was chunked from, so the admin API can show it and replace
-- it. `fte kb ingest` and `PUT /api/v1/kb/documents/{document}` keep both
-- in step, in one transaction.
CREATE TABLE kb_documents (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    document   text NOT NULL CHECK (length(document) BETWEEN 1 AND 255),
    title      text NOT NULL,
    markdown   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- When the markdown last changed (storing the same text again keeps it).
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, document)
);

ALTER TABLE kb_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE kb_documents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kb_documents
    USING (tenant_id = app_current_tenant())
    WITH CHECK (tenant_id = app_current_tenant());

-- A global admin key lists every tenant (`GET /api/v1/tenants`): the admin
-- API reads the tenants table across tenants as this job, read-only; every
-- other access to a tenant row stays scoped to that tenant.
CREATE POLICY tenant_directory ON tenants FOR SELECT
    USING (app_system_job() = 'tenant_directory');
