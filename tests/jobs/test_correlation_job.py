"""jobs.correlation end to end: real Postgres, real Ray tasks, atomic replacement, read query."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import asyncpg
import numpy as np
import pytest

from backbone import correlation as C
from jobs import correlation as job
from jobs import queries

from .conftest import run_sql

START = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)  # 09:00 KST, a KRX session
BARS = 61
SYMS = ["000001", "000002", "000003", "000004", "000005", "000006"]


def _closes(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(BARS, 1))
    rets = 0.01 * (f * np.array([1, 1, -1, 0.5, 0, -0.3]) + rng.normal(size=(BARS, len(SYMS))) * 0.7)
    return 1000 * np.cumprod(1 + rets, axis=0)


async def _load(dsn: str, closes: np.ndarray, holes=()):
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM market_candles")
        rows = []
        for t in range(BARS):
            for j, s in enumerate(SYMS):
                if (t, j) in holes:
                    continue
                c = round(float(closes[t, j]), 4)
                rows.append((s, "1m", START + timedelta(minutes=t), c, c, c, c, 100))
        rows.append(("000007", "1m", START, 10, 10, 10, 10, 1))  # one bar only: insufficient
        await conn.copy_records_to_table(
            "market_candles", records=rows,
            columns=("symbol", "interval", "time", "open", "high", "low", "close", "volume"))
    finally:
        await conn.close()


def _expected(closes: np.ndarray, holes) -> np.ndarray:
    c = closes.round(4)
    for t, j in holes:
        c[t, j] = np.nan
    return C.simple_returns(c)


def test_job_stores_topk_matching_direct_computation(pg_dsn, ray_session):
    holes = {(5, 0), (6, 0), (30, 2), (40, 4)}
    closes = _closes(1)
    asyncio.run(_load(pg_dsn, closes, holes))
    end = START + timedelta(minutes=BARS)
    res = job.run(pg_dsn, interval="1m", window=BARS - 1, end=end, k=2, min_overlap=30, block=2)
    assert res.symbols == SYMS
    assert [(s.symbol, s.observations) for s in res.insufficient] == [("000007", 0)]
    assert res.blocks == 6 and res.nodes

    rets = _expected(closes, holes)
    full, n = C.pairwise_pearson(rets, rets)
    np.fill_diagonal(full, np.nan)
    stored = run_sql(pg_dsn, "SELECT * FROM related_assets WHERE direction = 'positive' AND rank = 1")
    assert len(stored) == sum(np.nanmax(full[i]) > 0 for i in range(len(SYMS)))
    for row in stored:
        i, j = SYMS.index(row["symbol"]), SYMS.index(row["related_symbol"])
        assert j == int(np.nanargmax(full[i]))
        assert row["score"] == pytest.approx(full[i, j], abs=1e-9)
        assert row["overlap"] == n[i, j]
        assert 0 <= row["p_value"] <= 1
    run = run_sql(pg_dsn, "SELECT * FROM related_runs")
    assert len(run) == 1 and run[0]["window_bars"] == BARS - 1 and run[0]["interval"] == "1m"
    assert "000007" in run[0]["insufficient"]


def test_second_run_replaces_the_first_atomically(pg_dsn, ray_session):
    asyncio.run(_load(pg_dsn, _closes(2)))
    end = START + timedelta(minutes=BARS)
    job.run(pg_dsn, interval="1m", window=BARS - 1, end=end, k=2, min_overlap=30, block=4)
    first = run_sql(pg_dsn, "SELECT run_id FROM related_runs")[0]["run_id"]
    job.run(pg_dsn, interval="1m", window=BARS - 1, end=end, k=3, min_overlap=30, block=4,
            use_ray=False)
    runs = run_sql(pg_dsn, "SELECT run_id FROM related_runs")
    assert len(runs) == 1 and runs[0]["run_id"] != first
    assert run_sql(pg_dsn, "SELECT count(*) FROM related_assets WHERE run_id = $1", first)[0][0] == 0
    assert run_sql(pg_dsn, "SELECT max(rank) FROM related_assets")[0][0] == 3

    async def read():
        conn = await asyncpg.connect(pg_dsn)
        try:
            return await queries.related_for(conn, "000001"), await queries.related_for(conn, "999999"), \
                await queries.correlation_run(conn)
        finally:
            await conn.close()
    got, missing, meta = asyncio.run(read())
    assert missing is None
    assert got["runs"]["correlation"]["window_bars"] == BARS - 1
    assert {r["reason"] for r in got["related"]} == {"correlation"}
    pos = [r for r in got["related"] if r["direction"] == "positive"]
    assert [r["rank"] for r in pos] == list(range(1, len(pos) + 1))
    assert meta["insufficient"] == [{"symbol": "000007", "observations": 0}]


def test_cli_rejects_bad_interval_with_usage_error():
    with pytest.raises(SystemExit) as e:
        job.main(["--interval", "2m"])
    assert e.value.code == 2


def test_daily_window_reads_the_1d_aggregate_on_krx_sessions(pg_dsn, ray_session):
    from backbone.calendars import get_calendar

    cal = get_calendar("XKRX")
    days = [s.open for s in cal.sessions(datetime(2026, 9, 1).date(), datetime(2026, 10, 30).date())][-21:]
    rng = np.random.default_rng(9)
    closes = 1000 * np.cumprod(1 + 0.01 * (rng.normal(size=(21, 1)) + rng.normal(size=(21, 4))), axis=0)
    closes = closes.round(2)

    async def load():
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute("DELETE FROM market_candles")
            rows = [(s, "1m", d + timedelta(minutes=m), float(closes[i, j] - 1 + m),
                     float(closes[i, j] + 1), float(closes[i, j] - 2), float(closes[i, j] - 1 + m), 10)
                    for i, d in enumerate(days) for j, s in enumerate(SYMS[:4]) for m in (0, 1)]
            await conn.copy_records_to_table("market_candles", records=rows, columns=(
                "symbol", "interval", "time", "open", "high", "low", "close", "volume"))
        finally:
            await conn.close()
    asyncio.run(load())
    res = job.run(pg_dsn, interval="1d", window=20, end=datetime(2026, 10, 31, tzinfo=timezone.utc),
                  k=1, min_overlap=15, block=2)
    assert res.symbols == SYMS[:4] and not res.insufficient
    daily = closes  # the day's close is the last 1m close (= closes[i, j])
    full, n = C.pairwise_pearson(C.simple_returns(daily), C.simple_returns(daily))
    np.fill_diagonal(full, np.nan)
    for i in range(4):
        j = int(np.nanargmax(full[i]))
        if full[i, j] > 0:
            assert res.top.pos_idx[i, 0] == j and res.top.pos_r[i, 0] == pytest.approx(full[i, j])
            assert res.top.pos_n[i, 0] == 20


def test_progress_is_logged_per_block(ray_session, caplog):
    rng = np.random.default_rng(4)
    r = rng.normal(size=(50, 12))
    with caplog.at_level("INFO", logger="jobs.correlation"):
        res = job.correlate_on_ray([f"S{i}" for i in range(12)], r, k=2, min_overlap=10, block=4)
    assert res.blocks == 6
    assert any("correlation blocks: 6/6 done" in m for m in caplog.messages)
