"""The candle schema for the API tests, used ONLY while sql/ has no candle migration yet.

Same names and columns as the storage issue's contract (market_candles + market_candles_5m/15m/
1h/1d views, 1d bucketed in Asia/Seoul). Whatever sql/ already created is left alone.
"""
import asyncpg

_DDL = """
CREATE TABLE market_candles (
    symbol text NOT NULL, interval text NOT NULL DEFAULT '1m', time timestamptz NOT NULL,
    open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL, close numeric NOT NULL,
    volume bigint NOT NULL DEFAULT 0, value numeric NOT NULL DEFAULT 0, trades int NOT NULL DEFAULT 0,
    source text NOT NULL DEFAULT 'live', PRIMARY KEY (symbol, interval, time));
"""
_VIEW = """
CREATE VIEW market_candles_{name} AS
SELECT symbol, '{name}'::text AS interval, {bucket} AS time,
       (array_agg(open ORDER BY time))[1] AS open, max(high) AS high, min(low) AS low,
       (array_agg(close ORDER BY time DESC))[1] AS close, sum(volume)::bigint AS volume,
       sum(value) AS value, sum(trades)::int AS trades, 'agg'::text AS source
FROM market_candles WHERE interval = '1m' GROUP BY symbol, {bucket};
"""
_BUCKETS = {
    "5m": "date_bin('5 minutes', time, timestamptz '2000-01-03 00:00+00')",
    "15m": "date_bin('15 minutes', time, timestamptz '2000-01-03 00:00+00')",
    "1h": "date_bin('1 hour', time, timestamptz '2000-01-03 00:00+00')",
    "1d": "(date_trunc('day', time AT TIME ZONE 'Asia/Seoul') AT TIME ZONE 'Asia/Seoul')",
}


async def ensure_candle_schema(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT to_regclass('market_candles') IS NOT NULL"):
            await conn.execute(_DDL)
        for name, bucket in _BUCKETS.items():
            if not await conn.fetchval(f"SELECT to_regclass('market_candles_{name}') IS NOT NULL"):
                await conn.execute(_VIEW.format(name=name, bucket=bucket))
    finally:
        await conn.close()
