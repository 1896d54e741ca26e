-- Plain PostgreSQL: the time index TimescaleDB would create, and the invalidation triggers that
-- feed the continuous-aggregate emulation (001_timescale.postgres.sql).
CREATE INDEX IF NOT EXISTS market_candles_time_idx ON market_candles (time DESC);
INSERT INTO _cagg_threshold (source_table) VALUES ('market_candles') ON CONFLICT DO NOTHING;
SELECT _cagg_attach_triggers('market_candles');
