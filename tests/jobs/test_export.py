"""Integrity checks (pure) and jobs.export end to end against real Postgres and real Parquet."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import asyncpg
import numpy as np
import polars as pl

from backbone.export_checks import check_symbol
from jobs import export as job

DAY = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)  # 09:00 KST


def _frame(times, o, h, lo, c, vol=None, source=None):
    n = len(times)
    return pl.DataFrame({"time": times, "open": o, "high": h, "low": lo, "close": c,
                         "volume": vol or [1] * n, "source": source or ["live"] * n},
                        schema_overrides={"time": pl.Datetime("us", "UTC")})


def test_check_symbol_finds_each_kind_of_problem():
    t = [DAY + timedelta(minutes=m) for m in (0, 1, 1, 3, 2)]
    f = _frame(t, [10, 10, 10, 10, 10], [11, 9, 11, 11, 11], [9, 9, 9, 9, 9], [10, 10, 10, 10, 10],
               source=["live", "live", "live", "fill", "live"])
    exp = np.array([int((DAY + timedelta(minutes=m)).timestamp()) for m in range(6)])
    r = check_symbol("005930", f, exp)
    assert (r.rows, r.duplicates, r.ohlc, r.non_monotonic, r.missing, r.filled) == (5, 1, 1, 2, 2, 1)
    assert r.off_calendar == 0 and r.filled_share == 0.2
    assert r.first_missing == ["2026-11-20T00:04:00Z", "2026-11-20T00:05:00Z"]
    off = check_symbol("005930", _frame([DAY - timedelta(hours=2)], [1], [1], [1], [1]), exp[:1])
    assert off.off_calendar == 1 and off.missing == 1


def test_clean_symbol_has_no_problems():
    t = [DAY + timedelta(minutes=m) for m in range(3)]
    f = _frame(t, [10, 11, 12], [11, 12, 13], [9, 10, 11], [11, 12, 12])
    exp = np.array([int(x.timestamp()) for x in t])
    assert check_symbol("A", f, exp).problems() == []


async def _seed(dsn):
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM market_candles")
        rows = []
        for d in (0, 1):  # Fri 2026-11-20 and (a week-end gap) Mon 2026-11-23
            start = DAY + timedelta(days=3 * d)
            for m in range(390):
                if (d, m) == (1, 100):
                    continue  # one gap
                src = "fill" if m == 5 else "live"
                rows.append(("005930", "1m", start + timedelta(minutes=m), 100, 101, 99, 100, 10, src))
            rows.append(("000660", "1m", start, 50, 49, 48, 50, 5, "live"))  # high < close
        await conn.copy_records_to_table("market_candles", records=rows, columns=(
            "symbol", "interval", "time", "open", "high", "low", "close", "volume", "source"))
    finally:
        await conn.close()


def test_export_writes_partitions_schema_and_report(pg_dsn, tmp_path):
    asyncio.run(_seed(pg_dsn))
    args = ["--dsn", pg_dsn, "--interval", "1m", "--from", "2026-11-20", "--to", "2026-11-24",
            "--out", str(tmp_path)]
    assert job.main(args) == 0
    assert job.main(args + ["--strict"]) == 1
    root = tmp_path / "1m"
    assert sorted(p.name for p in (root / "symbol=005930").iterdir()) == \
        ["date=2026-11-20", "date=2026-11-23"]
    df = pl.read_parquet(root / "symbol=005930" / "date=2026-11-23" / "data.parquet")
    assert df.height == 389 and df["time"].dtype == pl.Datetime("us", "UTC")
    assert df["is_filled"].sum() == 1 and df["close"].dtype == pl.Float64
    assert df["time"].is_sorted()
    whole = pl.read_parquet(root / "**" / "*.parquet", hive_partitioning=True)
    assert whole.height == 390 + 389 + 2
    rep = json.loads((root / "_integrity.json").read_text())
    by = {s["symbol"]: s for s in rep["symbols"]}
    assert rep["ok"] is False
    assert by["005930"]["missing"] == 1 and by["005930"]["ohlc"] == 0 and by["005930"]["filled"] == 2
    assert by["000660"]["ohlc"] == 2 and by["000660"]["missing"] == 2 * 390 - 2
    assert "close" in json.loads((root / "_schema.json").read_text())


def test_export_bad_range_exits_2(pg_dsn, tmp_path):
    assert job.main(["--dsn", pg_dsn, "--from", "2026-11-21", "--to", "2026-11-20",
                     "--out", str(tmp_path)]) == 2


def test_export_of_a_missing_aggregate_view_is_a_usage_error(pg_dsn, tmp_path, monkeypatch):
    monkeypatch.setitem(job.SOURCE_FOR_INTERVAL, "15m", "no_such_view")
    assert job.main(["--dsn", pg_dsn, "--interval", "15m", "--from", "2026-11-20", "--to", "2026-11-21",
                     "--out", str(tmp_path)]) == 2
