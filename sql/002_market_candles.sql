-- 1-minute candles (bucket start in `time`, exchange time as an absolute instant).
-- Prices are exact numerics; `source` says where a row came from (live, rest, sim, import).
CREATE TABLE IF NOT EXISTS market_candles (
    symbol     text        NOT NULL,
    "interval" text        NOT NULL DEFAULT '1m',
    time       timestamptz NOT NULL,
    open       numeric     NOT NULL,
    high       numeric     NOT NULL,
    low        numeric     NOT NULL,
    close      numeric     NOT NULL,
    volume     bigint      NOT NULL DEFAULT 0,
    value      numeric     NOT NULL DEFAULT 0,
    trades     integer     NOT NULL DEFAULT 0,
    source     text        NOT NULL DEFAULT 'live',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, "interval", time)
);

CREATE OR REPLACE VIEW candles_1m AS
SELECT symbol, time, open, high, low, close, volume, value, trades, source, updated_at
FROM market_candles
WHERE "interval" = '1m';
