"""Writers and refreshes running at the same time agree on the invalidation threshold: whatever
the interleaving, once writes stop and a last refresh runs, every level equals a direct
aggregation of the 1m rows (a write is either logged below the threshold or covered by its move)."""
import asyncio
import random
from datetime import timedelta

import asyncpg

from storage.candle_rows import upsert_candles
from tests.storage.dataset import START, aggregate, base_rows, candle, refresh_all, view_rows

WINDOW = (START - timedelta(days=1), START + timedelta(days=2))


async def test_concurrent_writes_and_refreshes_converge(pg_dsn):
    writer = await asyncpg.connect(pg_dsn)
    refresher = await asyncpg.connect(pg_dsn)
    try:
        rows = base_rows()
        rng = random.Random(5)
        written = []

        async def write():
            for i in range(0, len(rows), 30):  # forward in time, with corrections of earlier minutes
                batch = rows[i:i + 30]
                if i and rng.random() < 0.5:
                    old = rows[rng.randrange(0, i)]
                    batch = batch + [candle(old.symbol, old.time, seed=rng.randrange(1000), source="rest")]
                await upsert_candles(writer, batch)
                written.extend(batch)
                await asyncio.sleep(0)

        async def refresh():
            for _ in range(12):
                await refresh_all(refresher, *WINDOW)
                await asyncio.sleep(0.01)

        await asyncio.gather(write(), refresh())
        await refresh_all(refresher, *WINDOW)
        for level in ("5m", "15m", "1h", "1d"):
            assert await view_rows(refresher, level) == aggregate(written, level), level
    finally:
        await writer.close()
        await refresher.close()
