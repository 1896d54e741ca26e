-- Whale alerts and the webhook outbox (streams issue). Plain SQL: same on PostgreSQL and TimescaleDB.
-- alert_id is deterministic (symbol, side, first print): a router that re-submits after a restart
-- or a retry inserts nothing new, so an alert is stored and queued once.
CREATE TABLE IF NOT EXISTS whale_alerts (
    alert_id      text PRIMARY KEY,
    symbol        text        NOT NULL,
    side          text        NOT NULL,
    first_time    timestamptz NOT NULL,
    last_time     timestamptz NOT NULL,
    print_count   integer     NOT NULL,
    total_size    bigint      NOT NULL,
    notional      bigint      NOT NULL,
    reasons       text[]      NOT NULL,
    payload       jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS whale_alerts_symbol_time ON whale_alerts (symbol, first_time DESC);
CREATE INDEX IF NOT EXISTS whale_alerts_created ON whale_alerts (created_at DESC);

-- One row per (alert, webhook). `webhook` is backbone.alerts.webhook_id(url): never the URL (secret).
-- status: pending -> sending -> sent | pending (retry) | failed. A row found in `sending` at start-up
-- was interrupted mid-request: it becomes `uncertain` and is not sent again (never twice).
CREATE TABLE IF NOT EXISTS alert_outbox (
    id            bigserial PRIMARY KEY,
    alert_id      text        NOT NULL REFERENCES whale_alerts (alert_id) ON DELETE CASCADE,
    webhook       text        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
    attempts      integer     NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL DEFAULT now(),
    last_error    text,
    sent_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alert_id, webhook)
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (next_at) WHERE status = 'pending';
