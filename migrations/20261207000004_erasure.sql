-- The right to erasure: `app_erase_customer` removes everything held about
-- one person, the append-only event log included, and records only that
-- an erasure happened (which customer id, when). It runs inside the
-- tenant's own transaction (`app.tenant_id` set), so row-level security
-- keeps it to that tenant.

-- Customer ids erased, so the runtime's processes stop any actor still
-- resident for them (and nothing else: no personal data here).
CREATE TABLE customer_erasures (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    customer_id uuid NOT NULL,
    erased_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_id)
);
CREATE INDEX customer_erasures_by_time ON customer_erasures (erased_at);
ALTER TABLE customer_erasures ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_erasures FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON customer_erasures
    USING (tenant_id = app_current_tenant())
    WITH CHECK (tenant_id = app_current_tenant());
-- The runtime's erasure watch reads recent erasures of every tenant.
CREATE POLICY erasure_watch ON customer_erasures FOR SELECT
    USING (app_system_job() = 'erasure_watch');

-- Erases customer `p_customer` of tenant `p_tenant` and every customer
-- merged into it: their conversations with events and snapshots, messages,
-- tickets, escalations, approvals, agent turns, outbox rows, intake and
-- web-form rows, identifiers and merge candidates are deleted; audit
-- entries about them keep who did what and when but lose their
-- before/after detail. Aggregate metrics stay. Returns the rows touched
-- per table; NULL when there is no such customer.
CREATE FUNCTION app_erase_customer(p_tenant uuid, p_customer uuid) RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
DECLARE
    people uuid[];
    convs uuid[];
    msgs uuid[];
    inbound_ids text[];
    identifiers text[];
    names text[];
    ids_text text[];
    counts jsonb := '{}'::jsonb;
    n bigint;
BEGIN
    IF p_tenant IS DISTINCT FROM app_current_tenant() THEN
        RAISE EXCEPTION 'app_erase_customer: tenant % is not the transaction''s tenant', p_tenant;
    END IF;
    -- The customer and everyone merged into it, transitively.
    WITH RECURSIVE merged(id) AS (
        SELECT id FROM customers WHERE tenant_id = p_tenant AND id = p_customer
        UNION
        SELECT c.id FROM customers c JOIN merged m ON c.merged_into = m.id WHERE c.tenant_id = p_tenant
    )
    SELECT array_agg(id) INTO people FROM merged;
    IF people IS NULL THEN
        RETURN NULL;
    END IF;
    -- Lock them: a concurrent turn for one of them waits, then finds the rows gone.
    PERFORM 1 FROM customers WHERE tenant_id = p_tenant AND id = ANY (people) FOR UPDATE;

    SELECT coalesce(array_agg(id), '{}') INTO convs
      FROM conversations WHERE tenant_id = p_tenant AND customer_id = ANY (people);
    SELECT coalesce(array_agg(id), '{}'),
           coalesce(array_agg(external_id) FILTER (WHERE direction = 'inbound' AND external_id IS NOT NULL), '{}')
      INTO msgs, inbound_ids
      FROM messages WHERE tenant_id = p_tenant AND (customer_id = ANY (people) OR conversation_id = ANY (convs));
    SELECT coalesce(array_agg(value), '{}') INTO identifiers
      FROM customer_identifiers WHERE tenant_id = p_tenant AND customer_id = ANY (people);
    SELECT coalesce(array_agg(display_name) FILTER (WHERE display_name IS NOT NULL AND length(display_name) >= 3), '{}')
      INTO names
      FROM customers WHERE tenant_id = p_tenant AND id = ANY (people);
    ids_text := ARRAY(SELECT unnest(people)::text UNION ALL SELECT unnest(convs)::text UNION ALL SELECT unnest(msgs)::text);

    DELETE FROM outbox
     WHERE tenant_id = p_tenant AND (message_id = ANY (msgs) OR key = ANY (ids_text));
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('outbox', n);
    DELETE FROM agent_turns
     WHERE tenant_id = p_tenant AND (conversation_id = ANY (convs) OR inbound_message = ANY (msgs));
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('agent_turns', n);
    DELETE FROM approvals
     WHERE tenant_id = p_tenant AND (conversation_id = ANY (convs) OR inbound_message = ANY (msgs));
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('approvals', n);
    WITH gone AS (
        DELETE FROM escalations
         WHERE tenant_id = p_tenant AND (conversation_id = ANY (convs) OR customer_id = ANY (people))
        RETURNING id::text
    )
    SELECT ids_text || coalesce(array_agg(id), '{}'), count(*) INTO ids_text, n FROM gone;
    counts := counts || jsonb_build_object('escalations', n);
    WITH gone AS (
        DELETE FROM tickets
         WHERE tenant_id = p_tenant AND (customer_id = ANY (people) OR conversation_id = ANY (convs))
        RETURNING id::text
    )
    SELECT ids_text || coalesce(array_agg(id), '{}'), count(*) INTO ids_text, n FROM gone;
    counts := counts || jsonb_build_object('tickets', n);
    -- Messages taken in but not yet handled carry the sender's address and text.
    DELETE FROM inbound_intake i
     WHERE i.tenant_id = p_tenant
       AND (i.external_id = ANY (inbound_ids)
            OR EXISTS (SELECT 1 FROM unnest(identifiers) v WHERE strpos(lower(i.message::text), lower(v)) > 0));
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('inbound_intake', n);
    DELETE FROM webform_submissions
     WHERE tenant_id = p_tenant AND lower(email) = ANY (ARRAY(SELECT lower(unnest(identifiers))));
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('webform_submissions', n);
    DELETE FROM conversation_snapshots WHERE tenant_id = p_tenant AND conversation_id = ANY (convs);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('conversation_snapshots', n);
    DELETE FROM conversation_events WHERE tenant_id = p_tenant AND conversation_id = ANY (convs);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('conversation_events', n);
    DELETE FROM messages WHERE tenant_id = p_tenant AND id = ANY (msgs);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('messages', n);
    DELETE FROM conversations WHERE tenant_id = p_tenant AND id = ANY (convs);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('conversations', n);
    -- Audit entries about them keep actor, action, target and time; the
    -- detail (which may quote them) goes.
    UPDATE audit_log a
       SET before = CASE WHEN a.before IS NULL THEN NULL ELSE '{"erased": true}'::jsonb END,
           after = CASE WHEN a.after IS NULL THEN NULL ELSE '{"erased": true}'::jsonb END
     WHERE a.tenant_id = p_tenant
       AND (a.target_id = ANY (ids_text)
            OR EXISTS (SELECT 1 FROM unnest(identifiers || names || ids_text) v
                        WHERE strpos(lower(coalesce(a.before::text, '') || coalesce(a.after::text, '')), lower(v)) > 0));
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('audit_log_redacted', n);
    SELECT count(*) INTO n FROM customer_identifiers WHERE tenant_id = p_tenant AND customer_id = ANY (people);
    counts := counts || jsonb_build_object('customer_identifiers', n);
    -- Identifiers and merge candidates go with them (ON DELETE CASCADE).
    DELETE FROM customers WHERE tenant_id = p_tenant AND id = ANY (people);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('customers', n);
    INSERT INTO customer_erasures (tenant_id, customer_id)
        SELECT p_tenant, unnest(people)
        ON CONFLICT (tenant_id, customer_id) DO UPDATE SET erased_at = now();
    RETURN counts;
END
$$;
