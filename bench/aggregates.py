"""Benchmark: continuous-aggregate refresh cost and candle-writer throughput (plain PostgreSQL).

1. Cost of a policy run (all four levels, bottom-up) after one new minute for N symbols, with a
   short and a long history: it must stay flat as history grows. Baseline in the same run: a full
   recompute (every level re-materialized over the whole history).
2. CandleWriter throughput (rows/s, submit -> flushed) next to a raw COPY of the same rows into a
   plain table (no upsert, no triggers).

Runs on a throwaway embedded PostgreSQL (fsync off). Defaults keep it under ~5 minutes on a
2-core machine: the long history has fewer minutes per day than a real session (see --help).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402

from backbone.models import Candle  # noqa: E402
from storage.candle_rows import upsert_candles  # noqa: E402
from storage.candle_writer import CandleWriter  # noqa: E402
from storage.policies import run_policies  # noqa: E402
from storage.testing import create_database_async, start_throwaway_server, stop_throwaway_server  # noqa: E402

BASE = datetime(2026, 9, 1, 0, 0, tzinfo=timezone.utc)  # 09:00 KST


async def load_history(conn, symbols: int, days: int, minutes_per_day: int) -> datetime:
    """Server-side generated 1m rows; returns the end of the history (next minute)."""
    await conn.execute("""
        INSERT INTO market_candles (symbol, "interval", time, open, high, low, close, volume, value,
                                    trades, source)
        SELECT lpad(s::text, 6, '0'), '1m', $1::timestamptz + d * interval '1 day' + m * interval '1 minute',
               50000 + (s * 7 + m) % 500, 50600 + (s + m) % 300, 49500 - (s + m) % 300,
               50000 + (s * 3 + m) % 500, 1 + (s + m) % 1000, (1 + (s + m) % 1000) * 50000, 1, 'import'
        FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) d, generate_series(0, $4 - 1) m""",
                       BASE, symbols, days, minutes_per_day)
    return BASE + timedelta(days=days - 1, minutes=minutes_per_day)


async def refresh_everything(conn) -> float:
    """Every level over the whole history (open window: the last, forming buckets included)."""
    t0 = time.perf_counter()
    for name in ("market_candles_5m", "market_candles_15m", "market_candles_1h", "market_candles_1d"):
        await conn.execute("CALL refresh_continuous_aggregate($1::regclass, NULL, NULL)", name)
    return time.perf_counter() - t0


def minute_rows(symbols: int, t: datetime) -> list[Candle]:
    return [Candle(f"{s:06d}", "1m", t, 50000 + s % 100, 50100, 49900, 50010, 10, value=500100, trades=1)
            for s in range(symbols)]


async def scenario(server, label: str, symbols: int, days: int, minutes_per_day: int, new_minutes: int) -> dict:
    _, dsn = await create_database_async(server, prefix="bench")
    conn = await asyncpg.connect(dsn, command_timeout=600)
    try:
        t0 = time.perf_counter()
        end = await load_history(conn, symbols, days, minutes_per_day)
        rows = await conn.fetchval("SELECT count(*) FROM market_candles")
        load_s = time.perf_counter() - t0
        await conn.execute("ANALYZE")
        initial_s = await refresh_everything(conn)
        # full recompute: invalidate everything, re-materialize every level over the whole history
        await conn.execute("INSERT INTO _cagg_invalidation_log (cagg, range) "
                           "SELECT name, tstzrange('-infinity', 'infinity') FROM _cagg_catalog")
        full_s = await refresh_everything(conn)
        await run_policies(conn, end + timedelta(minutes=1), force=True)  # settle thresholds
        costs = []
        for i in range(new_minutes):
            t = end + timedelta(minutes=i)
            await upsert_candles(conn, minute_rows(symbols, t))
            t0 = time.perf_counter()
            run = await run_policies(conn, t + timedelta(minutes=1, seconds=1), force=True)
            costs.append(time.perf_counter() - t0)
            assert not run.errors, run.errors
        return {"label": label, "rows": rows, "load_s": load_s, "initial_s": initial_s, "full_s": full_s,
                "policy_costs": costs}
    finally:
        await conn.close()


async def writer_vs_copy(server, symbols: int, minutes: int) -> tuple[float, float, int]:
    _, dsn = await create_database_async(server, prefix="benchw")
    rows = [c for m in range(minutes) for c in minute_rows(symbols, BASE + timedelta(minutes=m))]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE raw_copy (LIKE market_candles INCLUDING DEFAULTS)")
        recs = [(c.symbol, c.interval, c.time, c.open, c.high, c.low, c.close, c.volume, c.value, c.trades,
                 c.source) for c in rows]
        t0 = time.perf_counter()
        await conn.copy_records_to_table("raw_copy", records=recs, columns=[
            "symbol", "interval", "time", "open", "high", "low", "close", "volume", "value", "trades", "source"])
        copy_s = time.perf_counter() - t0
    finally:
        await conn.close()
    spill = Path("/tmp") / f"bench-spill-{time.time_ns()}.jsonl"
    w = await CandleWriter(dsn, spill_path=spill, batch_rows=symbols * 2,
                           max_memory_rows=len(rows) + 1).start()
    t0 = time.perf_counter()
    for m in range(minutes):  # one router flush per minute, as in production
        w.submit(rows[m * symbols:(m + 1) * symbols])
    assert await w.flush(600)
    writer_s = time.perf_counter() - t0
    await w.close()
    return len(rows) / writer_s, len(rows) / copy_s, len(rows)


async def main(args) -> None:
    server = start_throwaway_server()
    try:
        print(f"PostgreSQL (embedded, fsync off); {args.symbols} symbols; "
              f"policy run = refresh 5m,15m,1h,1d (bottom-up) after one new minute")
        results = [await scenario(server, f"1 day x {args.day_minutes} min", args.symbols, 1,
                                  args.day_minutes, args.new_minutes),
                   await scenario(server, f"{args.long_days} days x {args.long_day_minutes} min",
                                  args.symbols, args.long_days, args.long_day_minutes, args.new_minutes)]
        print(f"{'history':<22}{'1m rows':>11}{'load s':>9}{'initial s':>11}{'full recompute s':>18}"
              f"{'policy run ms (median / max)':>31}")
        for r in results:
            c = [x * 1000 for x in r["policy_costs"]]
            print(f"{r['label']:<22}{r['rows']:>11,}{r['load_s']:>9.1f}{r['initial_s']:>11.2f}"
                  f"{r['full_s']:>18.2f}{statistics.median(c):>20.1f} / {max(c):.1f}")
        ratio = statistics.median(results[1]["policy_costs"]) / statistics.median(results[0]["policy_costs"])
        print("(max = the run whose minute closes a 5m bucket and materializes it up the hierarchy)")
        print(f"policy run cost, long / short history: {ratio:.2f}x "
              f"(history ratio {results[1]['rows'] / results[0]['rows']:.1f}x)")
        w_rate, c_rate, n = await writer_vs_copy(server, args.symbols, args.writer_minutes)
        print(f"writer: {n:,} rows ({args.writer_minutes} minutes x {args.symbols} symbols): "
              f"CandleWriter {w_rate:,.0f} rows/s (upsert + invalidation triggers) vs raw COPY "
              f"{c_rate:,.0f} rows/s (baseline) = {w_rate / c_rate:.0%} of COPY")
    finally:
        stop_throwaway_server(server)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--symbols", type=int, default=2500)
    p.add_argument("--day-minutes", type=int, default=390, help="minutes in the 1-day history (a KRX session)")
    p.add_argument("--long-days", type=int, default=30)
    p.add_argument("--long-day-minutes", type=int, default=60,
                   help="minutes per day in the long history (scaled down from 390 to fit the time budget)")
    p.add_argument("--new-minutes", type=int, default=5)
    p.add_argument("--writer-minutes", type=int, default=20)
    asyncio.run(main(p.parse_args()))
