"""The candle writer on a real PostgreSQL: idempotent upserts, per-symbol order (later corrections
win), and a database outage that loses nothing (buffered, spilled past the memory bound, flushed)."""
import asyncio
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from backbone.models import Candle
from storage.candle_writer import CandleWriter
from storage.migrate import apply
from storage.testing import start_throwaway_server, stop_throwaway_server

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)


def c(symbol: str, minute: int, close: int, volume: int = 10) -> Candle:
    return Candle(symbol, "1m", T0 + timedelta(minutes=minute), close, close + 5, close - 5, close, volume,
                  value=close * volume, trades=1)


async def stored(dsn: str) -> dict:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT symbol, time, close, volume FROM market_candles")
        return {(r[0], r[1]): (int(r[2]), r[3]) for r in rows}
    finally:
        await conn.close()


async def test_replays_replace_rows_and_later_corrections_win(pg_dsn, tmp_path):
    w = await CandleWriter(pg_dsn, spill_path=tmp_path / "spill.jsonl", batch_rows=100,
                           max_memory_rows=1000).start()
    try:
        w.submit([c("A", 0, 100), c("A", 1, 101), c("B", 0, 200)])
        w.submit([c("A", 0, 100), c("A", 0, 110, volume=30)])  # replay, then correction: same batch
        assert await w.flush(30)
        w.submit([c("A", 1, 101)])  # replay in a later batch: replaced, never added
        w.submit([c("A", 1, 120, volume=7)])
        w.submit([c("A", 1, 121, volume=8)])  # the last one submitted wins
        assert await w.flush(30)
        got = await stored(pg_dsn)
        assert got == {("A", T0): (110, 30), ("A", T0 + timedelta(minutes=1)): (121, 8),
                       ("B", T0): (200, 10)}
        s = w.stats()
        assert s["pending"] == 0 and s["db_up"] is True and s["last_error"] is None
        assert s["written"] >= 4
    finally:
        await w.close()


def test_bad_input_is_ignored_not_fatal(tmp_path):
    w = CandleWriter("postgresql://nobody@127.0.0.1:1/none", spill_path=tmp_path / "s.jsonl")
    assert w.submit([None, "x", 3]) == 0  # type: ignore[list-item]


@pytest.fixture
def own_server():
    server = start_throwaway_server()  # a cluster of its own: this test stops it
    try:
        yield server
    finally:
        stop_throwaway_server(server)


async def test_database_outage_loses_nothing(own_server, tmp_path):
    dsn = own_server.dsn
    await apply(dsn)
    spill = tmp_path / "spill.jsonl"
    w = await CandleWriter(dsn, spill_path=spill, batch_rows=50, max_memory_rows=200, linger_s=0.01).start()
    expected: dict = {}
    symbols = [f"{i:06d}" for i in range(20)]

    def feed(minute: int, bump: int = 0) -> None:
        batch = [c(s, minute, 1000 + minute * 10 + i + bump) for i, s in enumerate(symbols)]
        for x in batch:
            expected[(x.symbol, x.time)] = (x.close, x.volume)
        w.submit(batch)

    try:
        for m in range(5):
            feed(m)
        assert await w.flush(30)
        await asyncio.to_thread(own_server.stop, "fast")
        # ~6 s of "market" while the database is down: 60 minutes x 20 symbols, with corrections
        for m in range(5, 65):
            feed(m)
            if m % 10 == 0:
                feed(m - 3, bump=7)  # a correction of an earlier minute, submitted later
            await asyncio.sleep(0.1)
        s = w.stats()
        assert s["db_up"] is False and s["last_error"]
        assert s["spilled_total"] > 0 and s["in_memory"] <= 200  # bounded memory, rest on disk
        assert s["pending"] > 200
        assert spill.exists()
        await asyncio.to_thread(own_server.start)
        assert await w.flush(60), w.stats()
        assert await stored(dsn) == expected
        s = w.stats()
        assert s["db_up"] is True and s["pending"] == 0 and not spill.exists()
    finally:
        await w.close()
