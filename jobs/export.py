"""Backtest export: candles to Parquet, partitioned by symbol and date, with an integrity report.

    python -m jobs.export --interval 1m --from 2026-11-02 --to 2026-11-21 --out export/ [--strict]
    ray job submit --address http://127.0.0.1:8265 -- python -m jobs.export --interval 1d ...

Layout (hive-style, readable by polars/pyarrow/duckdb as one dataset):
    <out>/<interval>/symbol=<symbol>/date=<YYYY-MM-DD>/data.parquet
    <out>/<interval>/_schema.json        the schema below
    <out>/<interval>/_integrity.json     backbone.export_checks report

Schema of data.parquet (one row per candle, sorted by time; `date` is the exchange-local date
of the bucket, `symbol`/`date` also come from the path):
    symbol  utf8 | interval utf8 | time timestamp[us, UTC] (bucket start) | open, high, low,
    close float64 | volume int64 | value float64 (traded value) | trades int32 |
    source utf8 (live, rest, sim, import, fill) | is_filled bool (source == "fill")

Exit status: 0 done, 1 --strict and the report lists problems, 2 bad arguments.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import polars as pl

from backbone.calendars import INTERVALS, calendar_for
from backbone.export_checks import IntegrityReport, check_symbol

from .common import Progress, add_db_args, database, setup_logging

log = logging.getLogger("jobs.export")
_DAY_PAD = timedelta(days=1)

SCHEMA = {"symbol": pl.Utf8, "interval": pl.Utf8, "time": pl.Datetime("us", "UTC"),
          "open": pl.Float64, "high": pl.Float64, "low": pl.Float64, "close": pl.Float64,
          "volume": pl.Int64, "value": pl.Float64, "trades": pl.Int32, "source": pl.Utf8}
SOURCE_FOR_INTERVAL = {"1m": "candles_1m", "5m": "market_candles_5m", "15m": "market_candles_15m",
                       "1h": "market_candles_1h", "1d": "market_candles_1d"}


class ExportError(ValueError):
    """Bad export arguments (interval, range, output)."""


async def _symbols(conn, table: str, start: datetime, end: datetime) -> list[str]:
    rows = await conn.fetch(f"SELECT DISTINCT symbol FROM {table} WHERE time >= $1 AND time < $2 "
                            "ORDER BY symbol", start, end)
    return [r[0] for r in rows]


async def _load(conn, table: str, interval: str, symbol: str, start: datetime, end: datetime) -> pl.DataFrame:
    rows = await conn.fetch(
        f"""SELECT symbol, $4::text AS interval, time, open::float8, high::float8, low::float8,
                   close::float8, volume::int8, value::float8, trades::int4, source
            FROM {table} WHERE symbol = $1 AND time >= $2 AND time < $3 ORDER BY time""",
        symbol, start, end, interval)
    return pl.DataFrame([tuple(r) for r in rows], schema=SCHEMA, orient="row")


def write_partitions(frame: pl.DataFrame, root: Path, symbol: str, tz) -> int:
    """Write one symbol's rows as date partitions; returns files written."""
    if frame.height == 0:
        return 0
    frame = frame.with_columns(
        (pl.col("source") == "fill").alias("is_filled"),
        pl.col("time").dt.convert_time_zone(str(tz)).dt.date().alias("date"))
    n = 0
    for (day,), part in frame.partition_by("date", as_dict=True, maintain_order=True).items():
        d = root / f"symbol={symbol}" / f"date={day.isoformat()}"
        d.mkdir(parents=True, exist_ok=True)
        part.drop("date").write_parquet(d / "data.parquet", statistics=True)
        n += 1
    return n


async def export(dsn: str, *, interval: str, start: date, end: date, out: Path,
                 symbols: list[str] | None = None) -> IntegrityReport:
    """Export [start, end) (exchange-local dates; end exclusive) and write the report."""
    import asyncpg

    if interval not in INTERVALS:
        raise ExportError(f"unsupported interval {interval!r}")
    if end <= start:
        raise ExportError("--to must be after --from")
    table = SOURCE_FOR_INTERVAL[interval]
    root = Path(out) / interval
    root.mkdir(parents=True, exist_ok=True)
    # the UTC range covers every exchange's local dates; each symbol is trimmed to its own below
    lo = datetime.combine(start, time(), timezone.utc) - _DAY_PAD
    hi = datetime.combine(end, time(), timezone.utc) + _DAY_PAD
    conn = await asyncpg.connect(dsn, timeout=30)
    report = IntegrityReport(interval, start.isoformat(), end.isoformat())
    try:
        try:
            universe = symbols or await _symbols(conn, table, lo, hi)
            await conn.fetchval(f"SELECT 1 FROM {table} LIMIT 1")
        except asyncpg.UndefinedTableError as e:
            raise ExportError(f"no {table} for interval {interval} (migrations applied?)") from e
        progress = Progress("export symbols", len(universe), logger=log)
        files = 0
        for sym in universe:
            cal = calendar_for(sym)
            s_lo = datetime.combine(start, time(), cal.tz)
            s_hi = datetime.combine(end, time(), cal.tz)
            frame = await _load(conn, table, interval, sym, s_lo, s_hi)
            files += write_partitions(frame, root, sym, cal.tz)
            report.symbols.append(check_symbol(sym, frame, cal.bucket_epochs(interval, s_lo, s_hi)))
            progress.step()
    finally:
        await conn.close()
    (root / "_schema.json").write_text(json.dumps(
        {k: str(v) for k, v in {**SCHEMA, "is_filled": pl.Boolean}.items()}, indent=1))
    (root / "_integrity.json").write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    t = report.totals()
    log.info("exported %d rows of %d symbols into %d files under %s; integrity %s (%s)", t["rows"],
             len(report.symbols), files, root, "ok" if report.ok else "PROBLEMS",
             ", ".join(f"{k}={v}" for k, v in t.items() if k != "filled_share")
             + f", filled_share={t['filled_share']:.3f}")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.export", description=__doc__.split("\n")[0])
    p.add_argument("--interval", default="1m", choices=list(INTERVALS))
    p.add_argument("--from", dest="start", required=True, help="first local date, YYYY-MM-DD")
    p.add_argument("--to", dest="end", required=True, help="local date after the last, YYYY-MM-DD")
    p.add_argument("--symbols", default=None, help="comma-separated (default: all with data)")
    p.add_argument("--out", default="export", help="output directory")
    p.add_argument("--strict", action="store_true", help="exit 1 when the integrity report has problems")
    add_db_args(p)
    a = p.parse_args(argv)
    setup_logging()
    try:
        start, end = date.fromisoformat(a.start), date.fromisoformat(a.end)
        symbols = [s.strip() for s in a.symbols.split(",") if s.strip()] if a.symbols else None
        with database(a.dsn) as dsn:
            report = asyncio.run(export(dsn, interval=a.interval, start=start, end=end,
                                        out=Path(a.out), symbols=symbols))
    except (ExportError, ValueError) as e:
        log.error("%s", e)
        return 2
    for s in report.symbols:
        if s.problems():
            log.warning("%s: %s", s.symbol, ", ".join(s.problems()))
    return 1 if (a.strict and not report.ok) else 0


if __name__ == "__main__":
    sys.exit(main())
