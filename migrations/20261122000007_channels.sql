-- Channels (issue #6, DESIGN.md §6): which tenant owns each provider
-- account, where each mailbox's sync stands, the web form's submissions,
-- and what the dispatcher needs to deliver replies exactly once.

-- Every channel account belongs to exactly one tenant: a Twilio business
-- number, a Meta phone_number_id, a Slack team_id, a Gmail mailbox, a web
-- form widget key. A webhook for an address not listed here is rejected,
-- never given a default tenant. Secrets are not stored: `config` names the
-- environment variables that hold them.
CREATE TABLE channel_accounts (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider   text NOT NULL CHECK (provider IN ('twilio', 'meta', 'slack', 'gmail', 'webform')),
    channel    text NOT NULL CHECK (channel IN ('email', 'whatsapp', 'slack', 'webform')),
    address    text NOT NULL CHECK (length(address) BETWEEN 1 AND 320),
    config     jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, address),
    UNIQUE (tenant_id, id),
    CHECK ((provider, channel) IN (('twilio', 'whatsapp'), ('meta', 'whatsapp'), ('slack', 'slack'),
                                   ('gmail', 'email'), ('webform', 'webform')))
);
CREATE INDEX channel_accounts_by_tenant ON channel_accounts (tenant_id, channel, created_at);

-- Where a pull-based account stands (Gmail: the last history id seen and
-- when the push watch expires).
CREATE TABLE channel_cursors (
    account_id       uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    cursor           text,
    watch_expires_at timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, account_id) REFERENCES channel_accounts (tenant_id, id) ON DELETE CASCADE
);

-- Provider deliveries already taken in (Slack event_id, Pub/Sub message
-- id): a provider's retry of one of these is acknowledged without being
-- published again.
CREATE TABLE inbound_deliveries (
    provider    text NOT NULL,
    delivery_id text NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, delivery_id)
);

-- A ticket submitted on the web form: its id is the inbound message's
-- external id, and the status link's token is signed over it.
CREATE TABLE webform_submissions (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id uuid NOT NULL,
    email      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, account_id) REFERENCES channel_accounts (tenant_id, id) ON DELETE CASCADE
);

-- A conversation whose reply could not be delivered after every retry:
-- shown to operators until someone deals with it.
ALTER TABLE conversations ADD COLUMN delivery_failed_at timestamptz;

-- The dispatcher's recovery scan: replies committed but not yet sent.
CREATE INDEX messages_outbound_pending ON messages (created_at)
    WHERE direction = 'outbound' AND delivery_status = 'pending';

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['channel_accounts', 'channel_cursors', 'inbound_deliveries', 'webform_submissions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant_id = app_current_tenant()) '
            'WITH CHECK (tenant_id = app_current_tenant())', t);
    END LOOP;
END
$$;

-- Webhook ingress learns the tenant from the account a request is for, so
-- it may look accounts (and web-form submissions) up before any tenant is
-- set; it can read nothing else.
CREATE POLICY channel_routing ON channel_accounts FOR SELECT
    USING (app_system_job() = 'channel_routing');
CREATE POLICY channel_routing ON webform_submissions FOR SELECT
    USING (app_system_job() = 'channel_routing');

-- After a restart the dispatcher finds replies committed but never sent
-- (embedded mode: the in-process bus does not survive the process).
CREATE POLICY dispatcher_recovery ON messages FOR SELECT
    USING (app_system_job() = 'dispatcher_recovery' AND direction = 'outbound' AND delivery_status = 'pending');
