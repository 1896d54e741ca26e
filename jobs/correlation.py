"""Related assets by Pearson correlation of returns: `python -m jobs.correlation`.

Loads closes for a window (e.g. 250 daily or 390 one-minute bars) from Postgres into polars,
aligns them on the exchange calendar, computes returns and the correlation matrix in parallel Ray
tasks over blocks of the matrix (backbone.correlation does the maths), and replaces the previous
run in `related_assets` atomically. Progress ("blocks: 12/55 done") goes to the job log.

    python -m jobs.correlation --interval 1d --window 250 --top-k 10
    ray job submit --address http://127.0.0.1:8265 -- python -m jobs.correlation --interval 1m --window 390
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl

from backbone import correlation as C
from backbone.calendars import INTERVAL_SECONDS, get_calendar

from .common import Progress, add_db_args, database, ensure_ray, setup_logging

log = logging.getLogger("jobs.correlation")

TABLE_FOR_INTERVAL = {"1m": "candles_1m", "5m": "market_candles_5m", "15m": "market_candles_15m",
                      "1h": "market_candles_1h", "1d": "market_candles_1d"}


@dataclass
class CorrelationResult:
    symbols: list[str]  # symbols correlated (column order of the top-k table)
    top: C.TopK
    insufficient: list[C.Sparse]
    skipped_pairs: int  # pairs with overlap below min_overlap
    blocks: int
    nodes: set[str] = field(default_factory=set)  # Ray node ids that ran block tasks

    def rows(self) -> list[C.Related]:
        return C.related_rows(self.symbols, self.top)


def window_grid(calendar: str, interval: str, end: datetime, bars: int) -> np.ndarray:
    """The last `bars + 1` bucket starts before `end` (one extra bar yields `bars` returns)."""
    cal = get_calendar(calendar)
    step = INTERVAL_SECONDS.get(interval, 86400)
    span = timedelta(seconds=step * (bars + 1) * (1.6 if interval == "1d" else 4.0) + 86400 * 7)
    while True:
        start = end - span
        grid = cal.bucket_epochs(interval, start, end)
        if grid.size >= bars + 1 or start.date() <= cal.first_date:
            return grid[-(bars + 1):]
        span *= 2


async def load_closes(dsn: str, interval: str, start: datetime, end: datetime,
                      symbols: list[str] | None) -> pl.DataFrame:
    """Long frame (symbol, epoch, close) of the window from the candle table or view."""
    import asyncpg

    table = TABLE_FOR_INTERVAL[interval]
    conn = await asyncpg.connect(dsn, timeout=30)
    try:
        rows = await conn.fetch(
            f"""SELECT symbol, extract(epoch FROM time)::bigint AS epoch, close::float8 AS close
                FROM {table} WHERE time >= $1 AND time < $2
                  AND ($3::text[] IS NULL OR symbol = ANY($3))""", start, end, symbols)
    except asyncpg.UndefinedTableError as e:
        raise C.CorrelationInputError(f"no {table} for interval {interval} (migrations applied?)") from e
    finally:
        await conn.close()
    return pl.DataFrame([tuple(r) for r in rows], orient="row",
                        schema={"symbol": pl.Utf8, "epoch": pl.Int64, "close": pl.Float64})


def _block_task_impl(returns: np.ndarray, a, b, k: int, min_overlap: int):
    import ray

    cands, skipped = C.block_candidates(returns, a, b, k, min_overlap)
    return cands, skipped, ray.get_runtime_context().get_node_id()


def correlate_on_ray(symbols: list[str], returns: np.ndarray, *, k: int, min_overlap: int,
                     block: int, max_in_flight: int | None = None,
                     spread: bool = True) -> CorrelationResult:
    """Top-k correlations of the (already sparse-filtered) returns matrix with Ray tasks.

    The returns go to the object store once; each task reads its two column blocks and sends
    back only top-k candidates (O(block * k)), so memory stays bounded by block size and the
    number of tasks in flight, not by N^2. SPREAD scheduling puts tasks on every node.
    """
    import ray

    task = ray.remote(num_cpus=1, max_retries=2)(_block_task_impl)
    if spread:
        task = task.options(scheduling_strategy="SPREAD")
    ref = ray.put(np.ascontiguousarray(returns))
    pairs = C.block_pairs(returns.shape[1], block)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    max_in_flight = max_in_flight or max(2, 2 * cpus)
    top = C.TopK(returns.shape[1], k)
    progress = Progress("correlation blocks", len(pairs), logger=log)
    pending, nodes, skipped, it = [], set(), 0, iter(pairs)
    for a, b in it:
        pending.append(task.remote(ref, a, b, k, min_overlap))
        if len(pending) < max_in_flight:
            continue
        skipped += _collect(pending, top, nodes, progress, wait_for=1)
    while pending:
        skipped += _collect(pending, top, nodes, progress, wait_for=1)
    del ref
    return CorrelationResult(symbols, top, [], skipped, len(pairs), nodes)


def _collect(pending: list, top: C.TopK, nodes: set, progress: Progress, wait_for: int) -> int:
    import ray

    done, rest = ray.wait(pending, num_returns=wait_for)
    pending[:] = rest
    skipped = 0
    for cands, s, node in ray.get(done):
        for c in cands:
            top.merge(c)
        skipped += s
        nodes.add(node)
        progress.step()
    return skipped


def compute(frame: pl.DataFrame, grid: np.ndarray, *, universe: list[str] | None, k: int,
            min_overlap: int, block: int, use_ray: bool = True) -> tuple[CorrelationResult, C.Aligned]:
    aligned = C.align_closes(frame["symbol"].to_numpy(), frame["epoch"].to_numpy(),
                             frame["close"].to_numpy(), grid, universe=universe)
    returns = C.simple_returns(aligned.closes)
    kept, sub, sparse = C.drop_sparse(aligned.symbols, returns, min_overlap)
    for s in sparse:
        log.warning("insufficient data: %s has %d returns (< %d), not correlated", s.symbol,
                    s.observations, min_overlap)
    log.info("correlating %d symbols over %d returns (%d reported as insufficient, %d rows off grid)",
             len(kept), sub.shape[0], len(sparse), aligned.off_grid)
    if use_ray and kept:
        result = correlate_on_ray(kept, sub, k=k, min_overlap=min_overlap, block=block)
    else:
        top, skipped = C.correlate_topk(sub, k, min_overlap, block)
        result = CorrelationResult(kept, top, [], skipped, len(C.block_pairs(len(kept), block)))
    result.insufficient = sparse
    if result.skipped_pairs:
        log.info("%d symbol pairs skipped for overlap < %d", result.skipped_pairs, min_overlap)
    return result, aligned


async def save(dsn: str, result: CorrelationResult, *, interval: str, grid: np.ndarray,
               params: dict) -> int:
    import asyncpg

    from .writes import RunInfo, replace_related

    run = RunInfo(
        reason="correlation", interval=interval, window_bars=max(len(grid) - 1, 0),
        window_start=datetime.fromtimestamp(int(grid[0]), timezone.utc) if len(grid) else None,
        window_end=datetime.fromtimestamp(int(grid[-1]), timezone.utc) if len(grid) else None,
        symbols=len(result.symbols), params=params,
        insufficient=[{"symbol": s.symbol, "observations": s.observations} for s in result.insufficient])
    rows = [(r.symbol, r.related, r.direction, r.rank, r.correlation, r.p_value, r.overlap, None)
            for r in result.rows()]
    conn = await asyncpg.connect(dsn, timeout=30)
    try:
        return await replace_related(conn, run, rows)
    finally:
        await conn.close()


def run(dsn: str, *, interval: str = "1d", window: int = 250, end: datetime | None = None,
        symbols: list[str] | None = None, calendar: str = "XKRX", k: int = 10,
        min_overlap: int | None = None, block: int = 1024, use_ray: bool = True) -> CorrelationResult:
    """The whole job: load, align, correlate, replace the stored run. Returns the result."""
    if interval not in TABLE_FOR_INTERVAL:
        raise C.CorrelationInputError(f"unsupported interval {interval!r}")
    end = end or datetime.now(timezone.utc)
    min_overlap = min_overlap if min_overlap is not None else max(3, window // 2)
    t0 = time.monotonic()
    grid = window_grid(calendar, interval, end, window)
    if grid.size < 2:
        raise C.CorrelationInputError("the window holds fewer than two bars")
    start_dt = datetime.fromtimestamp(int(grid[0]), timezone.utc)
    end_dt = datetime.fromtimestamp(int(grid[-1]) + 1, timezone.utc)
    frame = asyncio.run(load_closes(dsn, interval, start_dt, end_dt, symbols))
    log.info("loaded %d rows for %s symbols (%s, %d bars from %s)", frame.height,
             frame["symbol"].n_unique(), interval, grid.size, start_dt.isoformat())
    if use_ray:
        ensure_ray()
    result, _ = compute(frame, grid, universe=sorted(set(symbols)) if symbols else None, k=k,
                        min_overlap=min_overlap, block=block, use_ray=use_ray)
    params = {"k": k, "min_overlap": min_overlap, "block": block, "calendar": calendar,
              "skipped_pairs": result.skipped_pairs, "nodes": sorted(result.nodes)}
    n = asyncio.run(save(dsn, result, interval=interval, grid=grid, params=params))
    log.info("stored %d related rows for %d symbols in %.1f s (%d blocks, %d nodes)", n,
             len(result.symbols), time.monotonic() - t0, result.blocks, len(result.nodes))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.correlation", description=__doc__.split("\n")[0])
    p.add_argument("--interval", default="1d", choices=sorted(TABLE_FOR_INTERVAL))
    p.add_argument("--window", type=int, default=250, help="bars of returns (default 250)")
    p.add_argument("--end", default=None, help="window end, ISO-8601 (default now)")
    p.add_argument("--symbols", default=None, help="comma-separated universe (default: all with data)")
    p.add_argument("--calendar", default="XKRX", choices=["XKRX", "XNYS"])
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--min-overlap", type=int, default=None, help="default: half the window")
    p.add_argument("--block", type=int, default=1024, help="symbols per matrix block")
    p.add_argument("--no-ray", action="store_true", help="compute in this process (debugging)")
    add_db_args(p)
    a = p.parse_args(argv)
    setup_logging()
    end = datetime.fromisoformat(a.end) if a.end else None
    if end is not None and end.tzinfo is None:
        end = end.replace(tzinfo=timezone.utc)
    symbols = [s.strip() for s in a.symbols.split(",") if s.strip()] if a.symbols else None
    try:
        with database(a.dsn) as dsn:
            run(dsn, interval=a.interval, window=a.window, end=end, symbols=symbols,
                calendar=a.calendar, k=a.top_k, min_overlap=a.min_overlap, block=a.block,
                use_ray=not a.no_ray)
    except C.CorrelationInputError as e:
        log.error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
