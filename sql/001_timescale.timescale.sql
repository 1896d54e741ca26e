-- TimescaleDB is available: use it (native hypertables, continuous aggregates, policies).
CREATE EXTENSION IF NOT EXISTS timescaledb;
