"""Sector aggregation: the maths without routers, the Ray fan-out, the 10 s loop's overrun policy,
and one stored cycle read back through the API query."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import asyncpg
import pytest

from backbone import sectors as S
from jobs import queries
from jobs import sectors as job

from .conftest import run_sql

M = [S.Member("A", "에이", 100), S.Member("B", "비", 300), S.Member("C", "씨", 50),
     S.Member("D", "디", 10)]
Q = {"A": S.Quote(110, 100), "B": S.Quote(95, 100), "C": S.Quote(20, 20)}  # D has no price


def test_aggregate_sector_equal_and_value_weighted():
    s = S.aggregate_sector("X", M, Q, top_n=1)
    assert (s.symbols, s.priced, s.advancers, s.decliners, s.unchanged) == (4, 3, 1, 1, 1)
    assert s.equal_weighted_change == pytest.approx((10 - 5 + 0) / 3)
    # value weights at previous close: A 100*100, B 100*300, C 20*50
    assert s.value_weighted_change == pytest.approx((10_000 * 10 + 30_000 * -5) / 41_000)
    assert [m.symbol for m in s.top_gainers] == ["A"] and [m.symbol for m in s.top_losers] == ["B"]
    assert s.as_dict()["top_losers"][0]["change_pct"] == pytest.approx(-5.0)


def test_sector_without_prices_has_no_change():
    s = S.aggregate_sector("X", M, {"A": S.Quote(10, 0)})
    assert s.priced == 0 and s.equal_weighted_change is None and s.value_weighted_change is None
    assert s.top_gainers == () and s.top_losers == ()


def test_value_weighted_change_is_change_of_total_market_value():
    members = [S.Member(f"S{i}", "", 1000 + 37 * i) for i in range(20)]
    quotes = {m.symbol: S.Quote(100 + i * 3.5, 100 + i) for i, m in enumerate(members)}
    s = S.aggregate_sector("X", members, quotes)
    before = sum(q.prev_close * m.listed_shares for m, q in zip(members, quotes.values()))
    after = sum(q.price * m.listed_shares for m, q in zip(members, quotes.values()))
    assert s.value_weighted_change == pytest.approx((after / before - 1) * 100)


def test_quote_from_router_latest():
    q = S.quote_from_router_latest({"trade": {"price": 71500, "change": -500}})
    assert q == S.Quote(71500.0, 72000.0)
    assert S.quote_from_router_latest({"trade": None}) is None
    assert S.quote_from_router_latest({"trade": {"price": "x"}}) is None
    assert S.quote_from_router_latest(None) is None
    assert S.quote_from_router_latest({"trade": {"price": 100, "change": 100}}) is None
    assert S.quote_from_router_latest({"price": "101.5", "prev_close": 100}) == S.Quote(101.5, 100.0)


def test_next_tick_skips_missed_ticks():
    assert S.next_tick(10, 100, 103) == (110, 0)
    assert S.next_tick(10, 100, 125) == (130, 2)
    with pytest.raises(ValueError):
        S.next_tick(0, 0, 1)


def test_members_by_sector_uses_master():
    from backbone.symbols import DOMESTIC

    groups = S.members_by_sector(DOMESTIC)
    assert sum(len(v) for v in groups.values()) == len(DOMESTIC)
    assert "005930" in {m.symbol for m in groups["반도체"]}


class _SlowOnce(S.StaticPrices):
    """Advances a fake clock: the first cycle takes 25 s, later ones 1 s."""

    def __init__(self, quotes, clock):
        super().__init__(quotes)
        self.clock, self.calls = clock, 0

    def latest(self, symbols):
        self.calls += 1
        self.clock[0] += 25 if self.calls == 1 else 1
        return super().latest(symbols)


def test_overrunning_cycle_is_skipped_not_stacked():
    clock = [1000.0]
    starts = []

    async def fake_sleep(s):
        clock[0] += s

    prices = _SlowOnce(Q, clock)
    cycle = job.SectorCycle({"X": M}, prices, use_ray=False,
                            on_snapshot=lambda msg: starts.append(msg["time"]))
    asyncio.run(cycle.run_forever(10, max_cycles=3, clock=lambda: clock[0], sleep=fake_sleep))
    assert cycle.cycles == 3 and cycle.skipped == 2
    t = [datetime.fromisoformat(x).timestamp() for x in starts]
    assert t == [1000.0, 1030.0, 1040.0]  # 1010 and 1020 skipped, no back-to-back catch-up


def test_failing_cycle_does_not_end_the_loop():
    class Broken:
        def latest(self, symbols):
            raise RuntimeError("router gone")

    async def no_sleep(s):
        pass

    cycle = job.SectorCycle({"X": M}, Broken(), use_ray=False)
    asyncio.run(cycle.run_forever(10, max_cycles=2, sleep=no_sleep))
    assert cycle.cycles == 2


def test_ray_tasks_match_local_aggregation(ray_session):
    groups = {"X": M, "Y": (S.Member("E", "이", 5),)}
    quotes = dict(Q, E=S.Quote(9, 10))
    assert job.aggregate_parallel(groups, quotes, use_ray=True) == \
        job.aggregate_parallel(groups, quotes, use_ray=False)


def test_cycle_stores_snapshot_and_api_query_reads_it(pg_dsn):
    when = datetime(2026, 11, 20, 1, 0, 10, tzinfo=timezone.utc)
    groups = {"X": M, "Y": (S.Member("E", "이", 5),)}
    cycle = job.SectorCycle(groups, S.StaticPrices(dict(Q, E=S.Quote(12, 10))), dsn=pg_dsn,
                            use_ray=False)

    async def go():
        await cycle.run_once(when)
        await cycle.run_once(when)  # same tick again replaces, never duplicates
        await cycle.close()
        conn = await asyncpg.connect(pg_dsn)
        try:
            return await queries.latest_sectors(conn)
        finally:
            await conn.close()
    got = asyncio.run(go())
    assert got["time"] == when.isoformat()
    assert [s["sector"] for s in got["sectors"]] == ["Y", "X"]  # best change first
    assert got["sectors"][0]["equal_weighted_change"] == pytest.approx(20.0)
    assert got["sectors"][1]["top_gainers"][0]["symbol"] == "A"
    assert run_sql(pg_dsn, "SELECT count(*) FROM sector_snapshots")[0][0] == 2
