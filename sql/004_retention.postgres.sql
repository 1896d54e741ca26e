-- Raw 1m rows are deleted after 90 days by run_retention_policies() (scheduled by the aggregate
-- scheduler actor); aggregates are kept. Change with storage.retention.set_raw_retention().
INSERT INTO _retention_policies (table_name, drop_after, schedule_interval)
VALUES ('market_candles', INTERVAL '90 days', INTERVAL '1 hour')
ON CONFLICT (table_name) DO NOTHING;
