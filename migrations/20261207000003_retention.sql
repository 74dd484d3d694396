-- Data retention: each tenant keeps customer content for `retention_days`
-- (365 unless changed); the worker's retention job calls
-- `app_retention_purge` every so often, which deletes, across tenants,
-- what is older than that and no longer needed by anything still running.
-- The append-only tables (`conversation_events`, `audit_log`) refuse every
-- change except from inside the two sanctioned functions: this one and
-- `app_erase_customer` (the right to erasure).

ALTER TABLE tenants
    ADD COLUMN retention_days integer NOT NULL DEFAULT 365 CHECK (retention_days BETWEEN 1 AND 3650);

-- Append-only tables: any UPDATE, DELETE or TRUNCATE is an error, except
-- an UPDATE or DELETE issued by `app_retention_purge(…)` or
-- `app_erase_customer(…)` called directly by the client. TRUNCATE is
-- always refused.
--
-- How the caller is recognised: PG_CONTEXT is the call stack as text, one
-- line per frame, innermost first; its first line is this trigger
-- function itself and its last line the outermost frame, the function the
-- client's statement called:
--     PL/pgSQL function forbid_mutation() line 7 at GET DIAGNOSTICS
--     SQL statement "DELETE FROM conversation_events …"
--     PL/pgSQL function app_retention_purge(integer) line 40 at SQL statement
-- Only the last line is trusted. The statement text of any frame is in the
-- context too (a DO block's `DELETE … /* PL/pgSQL function
-- app_retention_purge(integer) … */` puts that line in it), and a function
-- may be named `"x function app_retention_purge("`, so a plain substring
-- test could be fooled; neither can make the outermost line start with
-- `PL/pgSQL function app_retention_purge(` (a DO block's outermost line is
-- `PL/pgSQL function inline_code_block …`, a quoted name starts with `"`).
-- A wrapper around a sanctioned function is refused as well (its own line
-- is outermost).
--
-- What this protects against: an ad-hoc UPDATE, DELETE or TRUNCATE by the
-- service's role (a bug, a mistyped statement, a console session, an
-- injected statement), whichever tenant or system job the transaction is
-- in. What it does not protect against: a role that owns these tables or
-- may create functions. The service's role owns them (it runs the
-- migrations), so it can still DROP or DISABLE the trigger, CREATE OR
-- REPLACE this function or the sanctioned ones, or create a function of
-- the same name in a schema earlier in its search_path. Stopping that
-- takes a separate migration role that owns the schema, with the service
-- connecting as a role that owns nothing.
CREATE OR REPLACE FUNCTION forbid_mutation() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    ctx text;
    outermost text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        GET DIAGNOSTICS ctx = PG_CONTEXT;
        outermost := (string_to_array(ctx, E'\n'))[cardinality(string_to_array(ctx, E'\n'))];
        IF outermost ~ '^PL/pgSQL function (public\.)?(app_retention_purge|app_erase_customer)\(' THEN
            IF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- The retention job (`app.system_job` = 'retention') reads and deletes
-- rows of every tenant in the tables it purges, reads the tenants' retention
-- setting, and may lock (never change) conversation rows: a row lock needs
-- an UPDATE policy's USING, and its WITH CHECK (false) refuses any actual
-- update.
CREATE POLICY retention ON tenants FOR SELECT
    USING (app_system_job() = 'retention');
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'conversations', 'conversation_events', 'conversation_snapshots', 'messages', 'agent_turns',
        'approvals', 'escalations', 'tickets', 'outbox', 'inbound_intake', 'inbound_deliveries',
        'webform_submissions'
    ] LOOP
        EXECUTE format('CREATE POLICY retention_read ON %I FOR SELECT USING (app_system_job() = %L)', t, 'retention');
        EXECUTE format('CREATE POLICY retention_delete ON %I FOR DELETE USING (app_system_job() = %L)', t, 'retention');
    END LOOP;
END
$$;
CREATE POLICY retention_lock ON conversations FOR UPDATE
    USING (app_system_job() = 'retention')
    WITH CHECK (false);

-- What the purge looks rows up by: oldest first, and the foreign keys its
-- deletes are checked against (a DELETE of a referenced row looks for
-- referencing rows; without an index that is a scan per deleted row).
CREATE INDEX conversations_resolved_by_age ON conversations (updated_at) WHERE state = 'resolved';
CREATE INDEX conversation_snapshots_by_age ON conversation_snapshots (created_at);
CREATE INDEX agent_turns_by_age ON agent_turns (created_at);
CREATE INDEX agent_turns_by_ticket ON agent_turns (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX messages_by_reply_to ON messages (in_reply_to) WHERE in_reply_to IS NOT NULL;
CREATE INDEX approvals_by_conversation ON approvals (conversation_id);
CREATE INDEX escalations_by_conversation ON escalations (conversation_id);
CREATE INDEX escalations_by_ticket ON escalations (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX tickets_by_conversation ON tickets (tenant_id, conversation_id) WHERE conversation_id IS NOT NULL;
CREATE INDEX inbound_deliveries_by_age ON inbound_deliveries (received_at);

-- Deletes, for every tenant, what is older than its `retention_days`, at
-- most `batch` rows per table per call, oldest first, children before
-- parents; returns the rows deleted per tenant and table. The caller
-- repeats it, one transaction per call, until a call deletes nothing. It
-- must run as the retention system job.
--
-- The unit of deletion follows from how conversations are read back. An
-- actor rebuilds its customer's latest conversation (resolved or not: a
-- customer writing again reopens it) from its latest snapshot and every
-- event after it, and checks that they replay to the row's version; it
-- also reads the newest inbound message on a channel to address a human's
-- reply, and a pending approval's message. So:
--
-- 1. Rows a conversation still needs stay, however old; everything else
--    past retention goes, row by row, in conversations open or closed:
--    published outbox rows (never an unpublished one, nor the row of a
--    reply still pending delivery); agent turns, once their calendar month
--    (UTC) is over too (monthly budgets are summed from them); decided
--    approvals; resolved escalations; resolved or closed tickets nothing
--    refers to any more; messages, except the newest inbound message per
--    conversation and channel, messages still referred to (a pending
--    approval, a kept agent turn or reply, an unpublished outbox row) and
--    replies pending delivery; events covered by a snapshot that is itself
--    past retention (a rebuild reads from the latest snapshot on, which is
--    that one or a newer one, so it never reads them, even while a turn
--    writes a new snapshot); snapshots superseded by a newer snapshot past
--    retention, once no event before them is left.
--    A message's provider id is also what dedupes a provider's
--    redelivery: with a retention shorter than a provider's redelivery
--    window (Meta and Pub/Sub retry for days), a very late redelivery of a
--    purged message is taken as new (Slack and Gmail deliveries are also
--    recognised by `inbound_deliveries`, kept at least 31 days).
-- 2. When that finds nothing more to delete, whole conversations go:
--    resolved, with no activity for longer than retention, no unpublished
--    outbox row and no agent turn of the current month. Each goes in one
--    transaction with everything that refers to it, its row locked first
--    (FOR UPDATE SKIP LOCKED: a conversation a turn is committing is
--    skipped; a turn that comes after waits, then finds its version gone
--    and starts a new conversation). A conversation is never half deleted:
--    its events count (its `state_version`) is its size, and a call takes
--    conversations oldest first while their sizes add up to at most
--    `batch`, but always at least one, so a conversation bigger than
--    `batch` goes whole in one call.
--
-- Tables without conversations:
-- - `inbound_intake` holds whole messages (text, sender) waiting for
--   their turn; a row is removed when its turn settles, so one older than
--   retention is a message that never settled. Its UNIQUE key dedupes a
--   provider's retries only while the message waits (once it settles the
--   row goes and `messages` dedupes), so no dedupe window keeps it:
--   deleted when older than retention.
-- - `inbound_deliveries` holds provider delivery ids (no content), kept
--   so that a provider's late redelivery is recognised. Pub/Sub, the
--   longest, redelivers for up to 31 days (its maximum message
--   retention): deleted when older than retention and than 31 days.
-- - `webform_submissions` holds the submitter's email and routes the
--   status link to the conversation; deleted when older than retention
--   and its message is gone (while the message stays, the link still
--   shows it).
--
-- Kept: customers and their identifiers (the CRM's record of a person,
-- removed by erasure, not by age), the audit log (accountability, no
-- message content), channel accounts and the knowledge base.
CREATE FUNCTION app_retention_purge(batch integer)
    RETURNS TABLE (tenant_id uuid, table_name text, deleted bigint)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
DECLARE
    month_start timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    -- Nothing is due that is newer than this (the shortest retention of
    -- any tenant): bounds the scans of the time indexes.
    horizon timestamptz := now() - make_interval(days => (SELECT min(t.retention_days) FROM tenants t));
    found_any boolean := false;
    n bigint;
    convs uuid[];
BEGIN
    IF app_system_job() IS DISTINCT FROM 'retention' THEN
        RAISE EXCEPTION 'app_retention_purge must run as the retention system job (app.system_job = retention)';
    END IF;
    IF batch IS NULL OR batch < 1 THEN
        RAISE EXCEPTION 'app_retention_purge: batch must be at least 1, not %', batch;
    END IF;

    -- 1. Row by row.
    RETURN QUERY
    WITH gone AS (
        DELETE FROM outbox WHERE id IN (
            SELECT o.id FROM outbox o JOIN tenants t ON t.id = o.tenant_id
             WHERE o.published_at IS NOT NULL
               AND o.created_at < now() - make_interval(days => t.retention_days)
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = o.message_id AND m.delivery_status = 'pending')
             ORDER BY o.id LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'outbox'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    RETURN QUERY
    WITH gone AS (
        DELETE FROM agent_turns WHERE id IN (
            SELECT a.id FROM agent_turns a JOIN tenants t ON t.id = a.tenant_id
             WHERE a.created_at < horizon
               AND a.created_at < now() - make_interval(days => t.retention_days)
               AND a.created_at < month_start
             ORDER BY a.created_at LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'agent_turns'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    RETURN QUERY
    WITH gone AS (
        DELETE FROM approvals WHERE id IN (
            SELECT a.id FROM approvals a JOIN tenants t ON t.id = a.tenant_id
             WHERE a.status <> 'pending'
               AND coalesce(a.decided_at, a.created_at) < now() - make_interval(days => t.retention_days)
             ORDER BY a.created_at LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'approvals'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    RETURN QUERY
    WITH gone AS (
        DELETE FROM escalations WHERE id IN (
            SELECT e.id FROM escalations e JOIN tenants t ON t.id = e.tenant_id
             WHERE e.status = 'resolved'
               AND coalesce(e.resolved_at, e.created_at) < now() - make_interval(days => t.retention_days)
             ORDER BY e.created_at LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'escalations'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    RETURN QUERY
    WITH gone AS (
        DELETE FROM tickets WHERE id IN (
            SELECT k.id FROM tickets k JOIN tenants t ON t.id = k.tenant_id
             WHERE k.status IN ('resolved', 'closed')
               AND k.updated_at < now() - make_interval(days => t.retention_days)
               AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.ticket_id = k.id)
               AND NOT EXISTS (SELECT 1 FROM agent_turns a WHERE a.ticket_id = k.id)
             ORDER BY k.updated_at LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'tickets'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    -- Messages: a reply nothing refers to, or an inbound message no
    -- reply, turn, approval or outbox row refers to. A reply deleted here
    -- still counts as referring to its message until the statement ends,
    -- so that message goes in the next call.
    RETURN QUERY
    WITH gone AS (
        DELETE FROM messages WHERE id IN (
            SELECT m.id FROM messages m JOIN tenants t ON t.id = m.tenant_id
             WHERE m.created_at < horizon
               AND m.created_at < now() - make_interval(days => t.retention_days)
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id)
               AND CASE m.direction
                   WHEN 'outbound' THEN m.delivery_status <> 'pending'
                   ELSE EXISTS (SELECT 1 FROM messages newer
                                 WHERE newer.tenant_id = m.tenant_id AND newer.conversation_id = m.conversation_id
                                   AND newer.direction = 'inbound' AND newer.channel = m.channel
                                   AND newer.created_at > m.created_at)
                        AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.in_reply_to = m.id)
                        AND NOT EXISTS (SELECT 1 FROM agent_turns a WHERE a.inbound_message = m.id)
                        AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.inbound_message = m.id)
                   END
             ORDER BY m.created_at LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'messages'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    -- Events before a snapshot past retention (found from the snapshots:
    -- there are far fewer of them), then the snapshots such a snapshot
    -- supersedes once no event before them is left.
    RETURN QUERY
    WITH gone AS (
        DELETE FROM conversation_events WHERE id IN (
            SELECT e.id FROM conversation_snapshots s
              JOIN tenants t ON t.id = s.tenant_id
              JOIN conversation_events e ON e.conversation_id = s.conversation_id AND e.seq <= s.seq
             WHERE s.created_at < horizon
               AND s.created_at < now() - make_interval(days => t.retention_days)
               AND e.created_at < now() - make_interval(days => t.retention_days)
             ORDER BY e.id LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'conversation_events'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    RETURN QUERY
    WITH gone AS (
        DELETE FROM conversation_snapshots WHERE (conversation_id, seq) IN (
            SELECT s.conversation_id, s.seq FROM conversation_snapshots s JOIN tenants t ON t.id = s.tenant_id
             WHERE s.created_at < horizon
               AND s.created_at < now() - make_interval(days => t.retention_days)
               AND EXISTS (SELECT 1 FROM conversation_snapshots newer
                            WHERE newer.conversation_id = s.conversation_id AND newer.seq > s.seq
                              AND newer.created_at < now() - make_interval(days => t.retention_days))
               AND NOT EXISTS (SELECT 1 FROM conversation_events e
                                WHERE e.conversation_id = s.conversation_id AND e.seq <= s.seq)
             ORDER BY s.created_at LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'conversation_snapshots'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    RETURN QUERY
    WITH gone AS (
        DELETE FROM inbound_intake WHERE id IN (
            SELECT i.id FROM inbound_intake i JOIN tenants t ON t.id = i.tenant_id
             WHERE i.stored_at < now() - make_interval(days => t.retention_days)
             ORDER BY i.id LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'inbound_intake'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    RETURN QUERY
    WITH gone AS (
        DELETE FROM inbound_deliveries WHERE (provider, delivery_id) IN (
            SELECT d.provider, d.delivery_id FROM inbound_deliveries d JOIN tenants t ON t.id = d.tenant_id
             WHERE d.received_at < horizon
               AND d.received_at < now() - make_interval(days => greatest(t.retention_days, 31))
             ORDER BY d.received_at LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'inbound_deliveries'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    RETURN QUERY
    WITH gone AS (
        DELETE FROM webform_submissions WHERE id IN (
            SELECT w.id FROM webform_submissions w JOIN tenants t ON t.id = w.tenant_id
             WHERE w.created_at < now() - make_interval(days => t.retention_days)
               AND NOT EXISTS (SELECT 1 FROM messages m
                                WHERE m.tenant_id = w.tenant_id AND m.channel = 'webform'
                                  AND m.external_id = w.id::text)
             ORDER BY w.created_at LIMIT batch)
        RETURNING tenant_id)
    SELECT g.tenant_id, 'webform_submissions'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    GET DIAGNOSTICS n = ROW_COUNT; found_any := found_any OR n > 0;

    IF found_any THEN
        RETURN;
    END IF;

    -- 2. Whole conversations: chosen oldest first while their sizes add up
    -- to at most `batch` (at least one), then locked, checking again that
    -- they are still resolved and past retention.
    convs := ARRAY(
        SELECT c.id FROM conversations c
         WHERE c.id = ANY (ARRAY(
                   SELECT chosen.id FROM (
                       SELECT c2.id,
                              sum(greatest(c2.state_version, 1)) OVER w AS running,
                              row_number() OVER w AS rank
                         FROM conversations c2 JOIN tenants t ON t.id = c2.tenant_id
                        WHERE c2.state = 'resolved'
                          AND c2.updated_at < horizon
                          AND greatest(c2.updated_at, c2.last_message_at, c2.resolved_at)
                              < now() - make_interval(days => t.retention_days)
                          AND NOT EXISTS (SELECT 1 FROM outbox o JOIN messages m ON m.id = o.message_id
                                           WHERE m.conversation_id = c2.id AND o.published_at IS NULL)
                          AND NOT EXISTS (SELECT 1 FROM agent_turns a
                                           WHERE a.tenant_id = c2.tenant_id AND a.conversation_id = c2.id
                                             AND a.created_at >= month_start)
                       WINDOW w AS (ORDER BY c2.updated_at, c2.id)
                        ORDER BY c2.updated_at, c2.id
                        LIMIT batch) chosen
                    WHERE chosen.running <= batch OR chosen.rank = 1))
           AND c.state = 'resolved'
           AND greatest(c.updated_at, c.last_message_at, c.resolved_at)
               < now() - make_interval(days => (SELECT t.retention_days FROM tenants t WHERE t.id = c.tenant_id))
         FOR UPDATE OF c SKIP LOCKED);
    IF cardinality(convs) = 0 THEN
        RETURN;
    END IF;

    RETURN QUERY
    WITH gone AS (
        DELETE FROM outbox WHERE message_id IN (SELECT m.id FROM messages m WHERE m.conversation_id = ANY (convs))
        RETURNING tenant_id)
    SELECT g.tenant_id, 'outbox'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    RETURN QUERY
    WITH gone AS (DELETE FROM agent_turns WHERE conversation_id = ANY (convs) RETURNING tenant_id)
    SELECT g.tenant_id, 'agent_turns'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    RETURN QUERY
    WITH gone AS (DELETE FROM approvals WHERE conversation_id = ANY (convs) RETURNING tenant_id)
    SELECT g.tenant_id, 'approvals'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    RETURN QUERY
    WITH gone AS (DELETE FROM escalations WHERE conversation_id = ANY (convs) RETURNING tenant_id)
    SELECT g.tenant_id, 'escalations'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    RETURN QUERY
    WITH gone AS (DELETE FROM tickets WHERE conversation_id = ANY (convs) RETURNING tenant_id)
    SELECT g.tenant_id, 'tickets'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    RETURN QUERY
    WITH gone AS (DELETE FROM conversation_snapshots WHERE conversation_id = ANY (convs) RETURNING tenant_id)
    SELECT g.tenant_id, 'conversation_snapshots'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    RETURN QUERY
    WITH gone AS (DELETE FROM conversation_events WHERE conversation_id = ANY (convs) RETURNING tenant_id)
    SELECT g.tenant_id, 'conversation_events'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    RETURN QUERY
    WITH gone AS (DELETE FROM messages WHERE conversation_id = ANY (convs) RETURNING tenant_id)
    SELECT g.tenant_id, 'messages'::text, count(*) FROM gone g GROUP BY g.tenant_id;
    RETURN QUERY
    WITH gone AS (DELETE FROM conversations WHERE id = ANY (convs) RETURNING tenant_id)
    SELECT g.tenant_id, 'conversations'::text, count(*) FROM gone g GROUP BY g.tenant_id;
END
$$;
