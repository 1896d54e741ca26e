"""The storage actors on a real Ray: the aggregate scheduler refreshes, the candle writer writes."""
import asyncio
import os
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from backbone.models import Candle
from storage.candle_rows import upsert_candles
from tests.storage.dataset import START, base_rows

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="module")
def ray_local():
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def sql(dsn: str, query: str, *args):
    async def go():
        c = await asyncpg.connect(dsn)
        try:
            return await c.fetchval(query, *args)
        finally:
            await c.close()
    return asyncio.run(go())


def test_scheduler_actor_refreshes(ray_local, pg_dsn):
    from actors.aggregate_scheduler import AggregateScheduler

    async def setup():
        c = await asyncpg.connect(pg_dsn)
        try:
            await upsert_candles(c, base_rows(start=START + timedelta(days=3), minutes=30))
        finally:
            await c.close()
    asyncio.run(setup())
    actor = AggregateScheduler.remote(pg_dsn, autostart=False)
    now = (START + timedelta(days=3, minutes=31)).isoformat()
    result = ray_local.get(actor.run_once.remote(now, True), timeout=120)
    assert "market_candles_5m" in result["refreshed"] and not result["errors"]
    assert ray_local.get(actor.stats.remote(), timeout=30)["runs"] == 1
    assert sql(pg_dsn, "SELECT count(*) FROM _mat_market_candles_5m WHERE time >= $1",
               START + timedelta(days=3)) == 3 * 6  # 3 symbols x 6 complete 5m buckets
    ray_local.kill(actor)


def test_candle_writer_actor_writes(ray_local, pg_dsn, tmp_path):
    from actors.candle_writer import CandleWriterActor

    t = datetime(2026, 11, 25, 0, 0, tzinfo=timezone.utc)
    rows = [Candle("ACT001", "1m", t + timedelta(minutes=i), 10, 11, 9, 10, 5) for i in range(50)]
    actor = CandleWriterActor.remote(pg_dsn, data_dir=str(tmp_path))
    assert ray_local.get(actor.submit.remote(rows), timeout=60) == 50
    assert ray_local.get(actor.flush.remote(30.0), timeout=60) is True
    assert ray_local.get(actor.stats.remote(), timeout=30)["written"] == 50
    assert sql(pg_dsn, "SELECT count(*) FROM market_candles WHERE symbol = 'ACT001'") == 50
    ray_local.kill(actor)
