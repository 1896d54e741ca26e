"""Repair and backfill against a real PostgreSQL, with a fetcher that behaves like the KIS minute
chart (30 rows ending at `until`, newest first): rewritten rows are source 'rest', and the
aggregates above them re-materialize to the repaired values."""
from datetime import date, datetime, timedelta, timezone

import asyncpg
import pytest

from backbone.models import Candle
from storage.candle_rows import upsert_candles
from storage.repair import KST, backfill_session, missing_minutes, repair_minutes
from tests.storage.dataset import aggregate, candle, refresh_all, view_rows

DAY = date(2026, 11, 20)  # a Friday, KRX session 09:00-15:30 KST
OPEN = datetime(2026, 11, 20, 9, 0, tzinfo=KST).astimezone(timezone.utc)
SYMBOL = "005930"


def truth(minute: int) -> Candle:
    return candle(SYMBOL, OPEN + timedelta(minutes=minute), seed=42, source="sim")


class FakeMinuteChart:
    """The simulator's record served like the KIS minute-chart endpoint."""

    def __init__(self, minutes: int) -> None:
        self.record = {truth(i).time: truth(i) for i in range(minutes)}
        self.calls: list[str] = []

    async def __call__(self, symbol: str, until_hhmmss: str) -> list[Candle]:
        self.calls.append(until_hhmmss)
        if until_hhmmss == "999999":
            raise ValueError("bad hour")
        hh, mm = int(until_hhmmss[:2]), int(until_hhmmss[2:4])
        until = datetime(2026, 11, 20, hh, mm, tzinfo=KST).astimezone(timezone.utc)
        rows = [c for t, c in self.record.items() if until - timedelta(minutes=29) <= t <= until]
        return sorted(rows, key=lambda c: c.time, reverse=True)


@pytest.fixture
async def conn(pg_dsn):
    c = await asyncpg.connect(pg_dsn)
    await c.execute("TRUNCATE market_candles")
    yield c
    await c.close()


async def test_repair_rewrites_marked_minutes_and_aggregates_follow(conn):
    chart = FakeMinuteChart(60)
    live = [truth(i) for i in range(60)]
    damaged = {5, 6, 40}  # ticks lost: the live candles of these minutes are wrong
    stored = [candle(SYMBOL, c.time, seed=1) if i in damaged else c for i, c in enumerate(live)]
    await upsert_candles(conn, stored)
    await refresh_all(conn, OPEN - timedelta(days=1), OPEN + timedelta(days=1))
    result = await repair_minutes(conn, SYMBOL, [OPEN + timedelta(minutes=i) for i in damaged], chart)
    assert result.rewritten == 3 and result.not_found == [] and result.calls == 2
    sources = await conn.fetch("SELECT time FROM market_candles WHERE source = 'rest' ORDER BY time")
    assert [r[0] for r in sources] == [OPEN + timedelta(minutes=i) for i in sorted(damaged)]
    await refresh_all(conn, OPEN - timedelta(days=1), OPEN + timedelta(days=1))
    for level in ("5m", "15m", "1h", "1d"):
        assert await view_rows(conn, level) == aggregate(live, level), level


async def test_fetch_errors_are_reported_not_raised(conn):
    async def broken(symbol, until):
        raise ConnectionError("rate limited")
    result = await repair_minutes(conn, SYMBOL, [OPEN], broken)
    assert result.rewritten == 0 and result.not_found == [OPEN] and "ConnectionError" in result.errors[0]


async def test_startup_backfill_fills_missing_minutes_of_today(conn):
    chart = FakeMinuteChart(90)
    await upsert_candles(conn, [truth(i) for i in range(90) if i not in (0, 1, 2, 50)])
    now = OPEN + timedelta(minutes=90, seconds=20)
    assert await missing_minutes(conn, SYMBOL, DAY, now) == [OPEN + timedelta(minutes=i) for i in (0, 1, 2, 50)]
    results = await backfill_session(conn, [SYMBOL], DAY, chart, now)
    assert results[0].rewritten == 4
    assert await missing_minutes(conn, SYMBOL, DAY, now) == []
    assert await missing_minutes(conn, SYMBOL, date(2026, 11, 21), now) == []  # Saturday: no session
