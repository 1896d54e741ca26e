"""Policies on plain PostgreSQL: the scheduled refresh (bottom-up) and retention, tested directly;
and the Ray scheduler actor on a real Ray."""
import os
from datetime import datetime, timedelta, timezone

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


def test_scheduler_actor_refreshes_on_a_real_ray(pg_dsn):
    import asyncio

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    from actors.aggregate_scheduler import AggregateScheduler

    async def setup():
        c = await asyncpg.connect(pg_dsn)
        try:
            await c.execute("TRUNCATE market_candles")
            await upsert_candles(c, base_rows(start=START + timedelta(days=3), minutes=30))
        finally:
            await c.close()

    asyncio.run(setup())
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        actor = AggregateScheduler.remote(pg_dsn, autostart=False)
        now = (START + timedelta(days=3, minutes=31)).isoformat()
        result = ray.get(actor.run_once.remote(now, True), timeout=120)
        assert "market_candles_5m" in result["refreshed"] and not result["errors"]
        assert ray.get(actor.stats.remote(), timeout=30)["runs"] == 1

        async def count():
            c = await asyncpg.connect(pg_dsn)
            try:
                return await c.fetchval("SELECT count(*) FROM _mat_market_candles_5m WHERE time >= $1",
                                        START + timedelta(days=3))
            finally:
                await c.close()
        assert asyncio.run(count()) == 3 * 6  # 3 symbols x 6 complete 5m buckets
        ray.kill(actor)
    finally:
        if started:
            ray.shutdown()
