-- Continuous aggregates 1m -> 5m -> 15m -> 1h -> 1d (Asia/Seoul days), real-time
-- (materialized_only = false: the forming bucket is visible), with refresh policies that refresh
-- bottom-up (each end_offset at least the one below). Created WITH NO DATA so this runs in a
-- transaction; policies fill them.
CREATE MATERIALIZED VIEW IF NOT EXISTS market_candles_5m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT symbol, time_bucket(INTERVAL '5 minutes', time) AS time,
       first(open, time) AS open, max(high) AS high, min(low) AS low, last(close, time) AS close,
       sum(volume)::bigint AS volume, sum(value) AS value, sum(trades)::bigint AS trades
FROM market_candles
WHERE "interval" = '1m'
GROUP BY symbol, time_bucket(INTERVAL '5 minutes', time)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS market_candles_15m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT symbol, time_bucket(INTERVAL '15 minutes', time) AS time,
       first(open, time) AS open, max(high) AS high, min(low) AS low, last(close, time) AS close,
       sum(volume)::bigint AS volume, sum(value) AS value, sum(trades)::bigint AS trades
FROM market_candles_5m
GROUP BY symbol, time_bucket(INTERVAL '15 minutes', time)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS market_candles_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT symbol, time_bucket(INTERVAL '1 hour', time) AS time,
       first(open, time) AS open, max(high) AS high, min(low) AS low, last(close, time) AS close,
       sum(volume)::bigint AS volume, sum(value) AS value, sum(trades)::bigint AS trades
FROM market_candles_15m
GROUP BY symbol, time_bucket(INTERVAL '1 hour', time)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS market_candles_1d
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT symbol, time_bucket(INTERVAL '1 day', time, 'Asia/Seoul') AS time,
       first(open, time) AS open, max(high) AS high, min(low) AS low, last(close, time) AS close,
       sum(volume)::bigint AS volume, sum(value) AS value, sum(trades)::bigint AS trades
FROM market_candles_1h
GROUP BY symbol, time_bucket(INTERVAL '1 day', time, 'Asia/Seoul')
WITH NO DATA;

SELECT add_continuous_aggregate_policy('market_candles_5m', start_offset => INTERVAL '7 days',
       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('market_candles_15m', start_offset => INTERVAL '7 days',
       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '5 minutes', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('market_candles_1h', start_offset => INTERVAL '7 days',
       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '15 minutes', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('market_candles_1d', start_offset => INTERVAL '30 days',
       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE);
