-- Raw 1m rows are dropped after 90 days (whole one-day chunks); aggregates are kept (no policy),
-- and refresh policies never reach back that far, so dropping raw rows never empties them.
-- Change with storage.retention.set_raw_retention().
SELECT add_retention_policy('market_candles', drop_after => INTERVAL '90 days', if_not_exists => TRUE);
