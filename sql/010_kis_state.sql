-- KIS socket owner state, one row set per app key. The app key itself is never stored:
-- `app_key_id` is Settings.app_key_id (a truncated SHA-256 of the key).

-- The REST access token, so a restarted owner reuses it (KIS issues at most one per minute and
-- sends a notice per issuance). The token is a credential: this table must not be exposed.
CREATE TABLE IF NOT EXISTS kis_tokens (
    app_key_id       text PRIMARY KEY,
    access_token     text,
    expires_at       timestamptz,
    issued_at        timestamptz,
    last_attempt_at  timestamptz,          -- last tokenP call, successful or not (1/min rule)
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The wanted registrations (demand per requester), restored by a restarted owner.
CREATE TABLE IF NOT EXISTS kis_wanted_subscriptions (
    app_key_id  text NOT NULL,
    tr_id       text NOT NULL,
    tr_key      text NOT NULL,
    requester   text NOT NULL,
    priority    integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_key_id, tr_id, tr_key, requester)
);
