-- Hypertable with one-day chunks: the retention policy drops whole days.
SELECT create_hypertable('market_candles', by_range('time', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);
