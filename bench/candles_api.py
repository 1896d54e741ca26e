"""Candle API latency and throughput: raw SQL vs the FastAPI app under plain uvicorn vs the same
app as a Ray Serve deployment, in one run, on one throwaway embedded PostgreSQL.

Scenarios (one KRX symbol, a year of 1m rows with ~5 % of minutes missing):
  day1m   one session of gap-filled 1m candles (390 rows)
  year1d  one year of 1d candles (~250 rows, aggregated from 1m rows)
Each API target is measured with the candle cache off (every request reads the DB, comparable
to raw SQL) and on (the deployed default: closed ranges are served from memory).

Per target: p50 / p99 of sequential requests, and requests/s with `--concurrency` clients.
Raw SQL runs the exact queries the API runs (last close before the range + the rows) on an
asyncpg pool, first and again last (load drifts on a shared machine; ratios use the better run).
Printed ratios: API p50 / raw SQL p50, and Serve p50 / uvicorn p50.

    .venv/bin/python bench/candles_api.py [--seconds 8] [--concurrency 8] [--no-serve]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from backbone.calendars import calendar_for  # noqa: E402
from storage import candle_reader, migrate  # noqa: E402
from storage.embedded import EmbeddedPostgres, free_port  # noqa: E402

SYM = "005930"
DAY = date(2026, 11, 20)
CAL = calendar_for(SYM)


def year_of_rows(miss: float, seed: int = 7) -> list[tuple]:
    rnd = random.Random(seed)
    rows, px = [], 70_000
    for s in CAL.sessions(DAY - timedelta(days=366), DAY):
        t = s.open
        while t < s.close:
            px = max(1000, px + rnd.randint(-3, 3) * 10)
            if rnd.random() >= miss:
                rows.append((SYM, "1m", t.astimezone(timezone.utc), px, px + 20, px - 20, px + 10,
                             rnd.randint(1, 500), px * 100, 5, "sim"))
            t += timedelta(minutes=1)
    return rows


async def prepare(dsn: str) -> int:
    await migrate.apply(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        rows = year_of_rows(0.05)
        await conn.copy_records_to_table("market_candles", records=rows, columns=[
            "symbol", "interval", "time", "open", "high", "low", "close", "volume", "value", "trades",
            "source"])
        # Materialize the aggregates bottom-up, as the refresh policy would have by now.
        lo = min(r[2] for r in rows) - timedelta(days=2)
        hi = max(r[2] for r in rows) + timedelta(days=2)
        for view in ("market_candles_5m", "market_candles_15m", "market_candles_1h", "market_candles_1d"):
            await conn.execute(f"CALL refresh_continuous_aggregate('{view}', $1, $2)", lo, hi)
        await conn.execute("ANALYZE")
        return len(rows)
    finally:
        await conn.close()


SCENARIOS = {
    "day1m": ("1m", DAY.isoformat(), DAY.isoformat()),
    "year1d": ("1d", (DAY - timedelta(days=365)).isoformat(), DAY.isoformat()),
}


def scenario_range(name: str) -> tuple[str, datetime, datetime]:
    interval, f, t = SCENARIOS[name]
    tz = CAL.tz
    start = datetime.combine(date.fromisoformat(f), datetime.min.time(), tz).astimezone(timezone.utc)
    end = datetime.combine(date.fromisoformat(t) + timedelta(days=1), datetime.min.time(),
                           tz).astimezone(timezone.utc)
    return interval, start, end


async def measure(call, seconds: float, concurrency: int) -> dict:
    """Sequential latencies for `seconds`, then throughput with `concurrency` workers."""
    for _ in range(5):
        await call()  # warm-up (connections, calendar, caches)
    lat = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        await call()
        lat.append(time.perf_counter() - t0)
    done = 0
    stop = time.perf_counter() + seconds

    async def worker():
        nonlocal done
        while time.perf_counter() < stop:
            await call()
            done += 1
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rps = done / (time.perf_counter() - t0)
    lat.sort()
    return {"p50": statistics.median(lat) * 1000, "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
            "rps": rps, "n": len(lat)}


async def bench_sql(dsn: str, name: str, seconds: float, concurrency: int) -> tuple[dict, int]:
    interval, start, end = scenario_range(name)
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency,
                                     server_settings={"timezone": "UTC"})
    rows = 0

    async def call():
        nonlocal rows
        async with pool.acquire() as conn:
            await candle_reader.fetch_prev_close(conn, SYM, start)
            rows = len(await candle_reader.fetch_candles(conn, SYM, interval, start, end))
    try:
        return await measure(call, seconds, concurrency), rows
    finally:
        await pool.close()


async def bench_http(base: str, name: str, seconds: float, concurrency: int) -> tuple[dict, int]:
    interval, f, t = SCENARIOS[name]
    url = f"/api/candles/{SYM}?interval={interval}&from={f}&to={t}"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        r = await client.get(url)
        r.raise_for_status()
        count = len(r.json()["candles"])

        async def call():
            (await client.get(url)).raise_for_status()
        return await measure(call, seconds, concurrency), count


def wait_healthy(base: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base} did not become healthy")


class Uvicorn:
    def __init__(self, dsn: str, cache: bool) -> None:
        self.port = free_port()
        env = dict(os.environ, DATABASE_URL=dsn, BACKBONE_DATA_DIR=tempfile.mkdtemp(prefix="bench-api-"))
        env.pop("API_KEY", None)
        env.pop("VITE_API_KEY", None)
        args = [sys.executable, "-m", "serve_app", "--port", str(self.port)] + ([] if cache else ["--no-cache"])
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        wait_healthy(self.base)
        return self.base

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)


def fmt(label: str, m: dict, rows: int) -> str:
    return f"  {label:<28} rows={rows:<4} p50={m['p50']:8.2f} ms  p99={m['p99']:8.2f} ms  {m['rps']:8.1f} req/s  (n={m['n']})"


async def main_async(args) -> None:
    pg = EmbeddedPostgres(tempfile.mkdtemp(prefix="bench-api-pg-"), fast=True).start()
    ray_up = False
    try:
        n = await prepare(pg.dsn)
        print(f"data: {n} 1m rows for {SYM} over a year ({DAY}), ~5% of minutes missing, aggregates "
              f"materialized (storage's refresh); "
              f"{os.cpu_count()} CPUs; {args.seconds}s per phase, concurrency {args.concurrency}")
        results: dict[tuple[str, str], tuple[dict, int]] = {}
        load_before = os.getloadavg()[0]
        for name in SCENARIOS:
            results[("sql-first", name)] = await bench_sql(pg.dsn, name, args.seconds, args.concurrency)
        for cache in (False, True):
            with Uvicorn(pg.dsn, cache) as base:
                if cache:
                    await asyncio.sleep(1.5)  # let the change feed connect (cache is off until then)
                for name in SCENARIOS:
                    results[(f"uvicorn{'+cache' if cache else ''}", name)] = \
                        await bench_http(base, name, args.seconds, args.concurrency)
        if not args.no_serve:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
            import ray
            from ray import serve

            from serve_app.deployment import build_app
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     object_store_memory=100 * 1024 * 1024)
            ray_up = True
            port = free_port()
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            base = f"http://127.0.0.1:{port}"
            for cache in (False, True):
                serve.run(build_app({"dsn": pg.dsn, "change_feed": cache}), name="api", route_prefix="/")
                wait_healthy(base)
                if cache:
                    await asyncio.sleep(1.5)
                for name in SCENARIOS:
                    results[(f"serve{'+cache' if cache else ''}", name)] = \
                        await bench_http(base, name, args.seconds, args.concurrency)
                serve.delete("api")

        # The raw SQL baseline again at the end: on a shared machine load drifts during the run;
        # ratios use the better of the two baseline runs (printed both).
        for name in SCENARIOS:
            results[("sql-last", name)] = await bench_sql(pg.dsn, name, args.seconds, args.concurrency)
            first, last = results[("sql-first", name)], results[("sql-last", name)]
            results[("sql", name)] = first if first[0]["p50"] <= last[0]["p50"] else last
        print(f"load average (1 min) at start {load_before:.1f}, at end {os.getloadavg()[0]:.1f}")
        for name in SCENARIOS:
            print(f"\n{name}: {SCENARIOS[name][0]} candles {SCENARIOS[name][1]} .. {SCENARIOS[name][2]}")
            for target in ("sql-first", "sql-last", "uvicorn", "uvicorn+cache", "serve", "serve+cache"):
                if (target, name) in results:
                    m, rows = results[(target, name)]
                    label = {"sql-first": "raw SQL (asyncpg), first", "sql-last": "raw SQL (asyncpg), last"}
                    print(fmt(label.get(target, target), m, rows))
            sql = results[("sql", name)][0]
            for target in ("uvicorn", "uvicorn+cache", "serve", "serve+cache"):
                if (target, name) in results:
                    m = results[(target, name)][0]
                    print(f"  ratio {target:<14} / best raw SQL: p50 x{m['p50'] / sql['p50']:.2f}, "
                          f"req/s x{m['rps'] / sql['rps']:.2f}")
            for suffix in ("", "+cache"):
                if (f"serve{suffix}", name) in results:
                    s, u = results[(f"serve{suffix}", name)][0], results[(f"uvicorn{suffix}", name)][0]
                    print(f"  ratio serve{suffix} / uvicorn{suffix}: p50 x{s['p50'] / u['p50']:.2f}, "
                          f"req/s x{s['rps'] / u['rps']:.2f}")
        if args.no_serve:
            print("\n(Serve not measured: --no-serve)")
    finally:
        if ray_up:
            from ray import serve
            import ray
            serve.shutdown()
            ray.shutdown()
        pg.destroy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-serve", action="store_true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
