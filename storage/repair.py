"""Repairing and back-filling 1m candles from the KIS minute-chart REST endpoint.

The router marks minutes whose ticks were lost (ACML_VOL mismatch, reconnect gap); start-up asks
for today's missing minutes. Both re-fetch those minutes through `fetch_minute_bars(symbol,
until_hhmmss)` (provided by the socket owner, inside the shared REST rate limit: 30 rows per call,
newest first, ending at `until_hhmmss` KST inclusive) and rewrite the 1m rows with source 'rest'.
The rewrite goes through the normal upsert, so the invalidation triggers (or TimescaleDB's) mark
the aggregates above those minutes for re-materialization.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Awaitable, Callable, Iterable
from zoneinfo import ZoneInfo

import asyncpg

from backbone.calendars import calendar_for
from backbone.models import Candle
from backbone.storage_policy import missing_minutes as _missing, plan_minute_fetches

from .candle_rows import upsert_candles

KST = ZoneInfo("Asia/Seoul")
FetchMinuteBars = Callable[[str, str], Awaitable[list[Candle]]]


@dataclass
class RepairResult:
    symbol: str
    requested: int = 0
    rewritten: int = 0
    calls: int = 0
    not_found: list[datetime] = field(default_factory=list)  # no bar returned for these minutes
    errors: list[str] = field(default_factory=list)  # failed fetches (typed, never raised)


async def repair_minutes(conn: asyncpg.Connection, symbol: str, minutes: Iterable[datetime],
                         fetch_minute_bars: FetchMinuteBars, *, rows_per_call: int = 30) -> RepairResult:
    """Re-fetch `minutes` (aware minute starts) of `symbol` and rewrite those 1m rows (source 'rest')."""
    wanted = {m.astimezone(timezone.utc).replace(second=0, microsecond=0) for m in minutes}
    result = RepairResult(symbol, requested=len(wanted))
    found: dict[datetime, Candle] = {}
    for until in plan_minute_fetches(sorted(wanted), rows_per_call):
        result.calls += 1
        try:
            bars = await fetch_minute_bars(symbol, until.astimezone(KST).strftime("%H%M%S"))
        except Exception as e:  # noqa: BLE001 - one failed call must not stop the others
            result.errors.append(f"{until.isoformat()}: {type(e).__name__}: {str(e)[:200]}")
            continue
        for bar in bars or []:
            t = bar.time.astimezone(timezone.utc)
            if bar.symbol == symbol and t in wanted:
                found[t] = dataclasses.replace(bar, time=t, interval="1m", source="rest")
    if found:
        result.rewritten = await upsert_candles(conn, list(found.values()))
    result.not_found = sorted(wanted - found.keys())
    return result


async def missing_minutes(conn: asyncpg.Connection, symbol: str, session_day: date,
                          now: datetime | None = None) -> list[datetime]:
    """Closed trading minutes of `session_day` (the symbol's calendar) with no stored 1m row."""
    session = calendar_for(symbol).session_on(session_day)
    if session is None:
        return []
    now = now or datetime.now(timezone.utc)
    end = min(session.close, now.replace(second=0, microsecond=0))  # the current minute is not closed
    if end <= session.open:
        return []
    expected = [m.astimezone(timezone.utc) for m in calendar_for(symbol).bucket_starts("1m", session.open, end)]
    rows = await conn.fetch("SELECT time FROM market_candles WHERE symbol = $1 AND \"interval\" = '1m' "
                            "AND time >= $2 AND time < $3", symbol, session.open, end)
    return _missing(expected, [r["time"] for r in rows])


async def backfill_session(conn: asyncpg.Connection, symbols: Iterable[str], session_day: date,
                           fetch_minute_bars: FetchMinuteBars,
                           now: datetime | None = None) -> list[RepairResult]:
    """Start-up backfill: repair each watched symbol's missing minutes of `session_day`."""
    out = []
    for symbol in symbols:
        gaps = await missing_minutes(conn, symbol, session_day, now)
        if gaps:
            out.append(await repair_minutes(conn, symbol, gaps, fetch_minute_bars))
    return out
