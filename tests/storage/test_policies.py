"""Policies on plain PostgreSQL: the scheduled refresh (bottom-up) and retention, tested directly
(the Ray actor that runs them: test_actors.py)."""
from datetime import timedelta

import asyncpg
import pytest

from storage.candle_rows import upsert_candles
from storage.policies import run_policies, set_raw_retention
from tests.storage.dataset import START, aggregate, base_rows, candle, view_rows

NOW = START + timedelta(minutes=121)  # one minute after the dataset's last minute closed


@pytest.fixture
async def conn(pg_dsn):
    c = await asyncpg.connect(pg_dsn)
    yield c
    await c.close()


async def test_policies_refresh_bottom_up_and_leave_the_forming_bucket_live(conn):
    rows = base_rows()
    await upsert_candles(conn, rows)
    run = await run_policies(conn, NOW)
    assert run.refreshed == ["market_candles_5m", "market_candles_15m", "market_candles_1h",
                             "market_candles_1d"] and not run.errors
    assert await conn.fetchval("SELECT count(*) FROM _mat_market_candles_15m") > 0
    for level in ("5m", "15m", "1h", "1d"):
        assert await view_rows(conn, level) == aggregate(rows, level)
    # not due again one minute later except the 5m level (schedule 1 minute)
    run = await run_policies(conn, NOW + timedelta(minutes=1))
    assert run.refreshed == ["market_candles_5m"]


async def test_retention_removes_old_raw_rows_only(conn):
    await set_raw_retention(conn, 30)
    old = [candle("OLD001", START - timedelta(days=40) + timedelta(minutes=i), 0) for i in range(10)]
    await upsert_candles(conn, old)
    await conn.execute("CALL refresh_continuous_aggregate('market_candles_5m', NULL, NULL)")
    before_5m = await conn.fetchval("SELECT count(*) FROM market_candles_5m WHERE symbol = 'OLD001'")
    assert before_5m == 2
    run = await run_policies(conn, NOW, force=True)
    assert run.retention_deleted["market_candles"] == 10
    assert await conn.fetchval("SELECT count(*) FROM market_candles WHERE symbol = 'OLD001'") == 0
    assert await conn.fetchval("SELECT count(*) FROM market_candles WHERE time >= $1", START) > 0
    assert await conn.fetchval("SELECT count(*) FROM market_candles_5m WHERE symbol = 'OLD001'") == before_5m
    await conn.execute("CALL refresh_continuous_aggregate('market_candles_5m', NULL, NULL)")
    assert await conn.fetchval("SELECT count(*) FROM market_candles_5m WHERE symbol = 'OLD001'") == before_5m
    await set_raw_retention(conn, 90)
