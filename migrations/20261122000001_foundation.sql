-- Foundation: extensions and the helper functions the rest of the schema uses.
--
-- `vector` (pgvector) must be creatable by the migrating role, or already
-- exist: it is not a trusted extension, so on a managed database a DBA
-- creates it once (the local stack creates it in template1 as superuser).
CREATE EXTENSION IF NOT EXISTS vector;

-- The tenant of the current transaction, set by the service with
-- `set_config('app.tenant_id', <uuid>, true)`. NULL when unset, so every
-- row-level-security policy that compares with it matches nothing: an
-- unscoped query sees no tenant data at all (fail closed).
CREATE FUNCTION app_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- Trigger function for append-only tables: any UPDATE, DELETE or TRUNCATE
-- is an error, whoever runs it (table owners included).
CREATE FUNCTION forbid_mutation() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
