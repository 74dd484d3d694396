-- Observability (issue #7 item 6): `/health` reports each channel's last
-- inbound and outbound message and its recent delivery error rate across
-- all tenants, so the probe reads `messages` as the `health_probe` system
-- job (read-only, aggregates only; no tenant data leaves the query), over
-- the last day, by time.

CREATE INDEX messages_by_time ON messages (created_at);

CREATE POLICY health_probe ON messages FOR SELECT
    USING (app_system_job() = 'health_probe');
