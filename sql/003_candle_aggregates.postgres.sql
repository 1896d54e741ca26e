-- The same aggregates and policies as 003_candle_aggregates.timescale.sql, on the emulation:
-- level 1 reads the raw 1m rows; each upper level is invalidated by the materialization table of
-- the level below and its live part reads the level below's real-time view.
SELECT _cagg_create('market_candles_5m', 1, 'market_candles', 'market_candles', '"interval" = ''1m''',
                    '5 minutes', NULL, '7 days', '1 minute', '1 minute');
SELECT _cagg_create('market_candles_15m', 2, '_mat_market_candles_5m', 'market_candles_5m', 'true',
                    '15 minutes', NULL, '7 days', '1 minute', '5 minutes');
SELECT _cagg_create('market_candles_1h', 3, '_mat_market_candles_15m', 'market_candles_15m', 'true',
                    '1 hour', NULL, '7 days', '1 minute', '15 minutes');
SELECT _cagg_create('market_candles_1d', 4, '_mat_market_candles_1h', 'market_candles_1h', 'true',
                    '1 day', 'Asia/Seoul', '30 days', '1 minute', '1 hour');
