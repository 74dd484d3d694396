-- Console sessions (issue #7): a human signs in to `/admin` with an API key
-- and gets a session cookie instead of pasting the key into every request.
-- Only the SHA-256 of the cookie's random secret is stored. A session is
-- its key's: it sees what the key sees, and ends with it (revoked keys are
-- refused on every request; deleted keys take their sessions with them).
-- Like a key, a session is found before any tenant is known, so the table
-- is reachable only inside the `api_auth` system job.

CREATE TABLE admin_sessions (
    id           uuid PRIMARY KEY,
    token_hash   text NOT NULL UNIQUE,
    api_key_id   uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Sliding idle expiry: a session unused for the idle timeout is over.
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX admin_sessions_api_key ON admin_sessions (api_key_id);
CREATE INDEX admin_sessions_last_seen ON admin_sessions (last_seen_at);

ALTER TABLE admin_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY api_auth ON admin_sessions
    USING (app_system_job() = 'api_auth')
    WITH CHECK (app_system_job() = 'api_auth');
