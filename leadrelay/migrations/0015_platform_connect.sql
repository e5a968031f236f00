-- OAuth connect: the single-use states of connects under way, the grants (a user's platform
-- authorisation, whose tokens renew) and which grant each connected source's token comes from.

-- One row per BeginConnect. Only the SHA-256 of the state is kept; the callback consumes it once.
CREATE TABLE connect_states (
    state_hash        bytea PRIMARY KEY,
    account_id        uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    -- Who started it (the console user's id, or '' for an API key): CompleteConnect must be the same.
    user_ref          text NOT NULL DEFAULT '',
    platform          text NOT NULL CHECK (platform IN ('FACEBOOK', 'LINKEDIN')),
    -- Reconnect: the source the new token is for.
    source_id         uuid REFERENCES sources ON DELETE CASCADE,
    redirect_uri      text NOT NULL,
    -- Where the callback sends the browser once the code is exchanged.
    return_url        text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    used_at           timestamptz
);
CREATE INDEX connect_states_expiry ON connect_states (expires_at);

-- A user's platform authorisation: Facebook's long-lived user token, LinkedIn's member access and
-- refresh tokens (Fernet ciphertext), with the places (Pages / ad accounts) it can reach.
CREATE TABLE platform_grants (
    grant_id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id            uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    user_ref              text NOT NULL DEFAULT '',
    platform              text NOT NULL CHECK (platform IN ('FACEBOOK', 'LINKEDIN')),
    reconnect_source_id   uuid REFERENCES sources ON DELETE SET NULL,
    access_token          bytea NOT NULL,
    refresh_token         bytea,
    -- When the access token stops working (renewed before then).
    access_expires_at     timestamptz,
    -- When only the user can renew it (LinkedIn's refresh token, Facebook's data access).
    reconnect_by          timestamptz,
    -- [{id, name, token?: ciphertext (Facebook Page token, base64)}] the user may pick from.
    choices               jsonb NOT NULL DEFAULT '[]',
    created_at            timestamptz NOT NULL DEFAULT now(),
    renewed_at            timestamptz,
    reminded_at           timestamptz,
    -- Set when renewal became impossible (the sources went NEEDS_RECONNECT, the admins were told).
    failed_at             timestamptz,
    failure               text NOT NULL DEFAULT ''
);
CREATE INDEX platform_grants_due ON platform_grants (access_expires_at) WHERE failed_at IS NULL;

ALTER TABLE source_connections
    ADD COLUMN grant_id uuid REFERENCES platform_grants ON DELETE SET NULL,
    -- The platform subscription made on connect (LinkedIn's lead notification id; 'leadgen' for a
    -- subscribed Facebook Page), removed on disconnect.
    ADD COLUMN subscription text NOT NULL DEFAULT '';
CREATE INDEX source_connections_grant ON source_connections (grant_id);
REVOKE SELECT ON connect_states, platform_grants FROM leadrelay_reader;
