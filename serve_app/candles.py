"""The candle read path: validated query -> closed part (cache or DB) + forming tail (DB, always
fresh) -> gap filling -> the contract's JSON shape.

The range is split at the start of the forming bucket (`closed_boundary`): buckets before it are
closed and immutable (cached, keyed by the exact range), the rest is read on every request. Gap
filling runs after the cache, only up to the closed boundary (the forming bucket and the future
are never invented).

A bucket counts as closed only `settle_s` after its end: the candle writer needs a moment to
store a minute that just closed, and until then that minute is read fresh like the forming one
(rather than shown, and cached, as a filled gap).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

import asyncpg

from backbone.api_params import INTERVALS, CandleQuery
from backbone.calendars import MarketCalendar
from backbone.candle_cache import CachedRange, CandleCache, closed_boundary
from backbone.gapfill import fill_gaps
from backbone.models import Candle
from storage import candle_reader

from .db import Database
from .errors import ApiError

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Seeded:
    rows: tuple[Candle, ...]
    prev_close: Any
    prev_time: datetime | None
    entry: CachedRange | None = None  # the cache entry holding these rows, if cached


class CandleService:
    def __init__(self, db: Database, cache: CandleCache, *, cache_enabled: Callable[[], bool],
                 clock: Callable[[], datetime], monotonic: Callable[[], float] = time.monotonic,
                 settle_s: float = 5.0) -> None:
        self.db = db
        self.settle = timedelta(seconds=settle_s)
        self.cache = cache
        self._cache_enabled = cache_enabled
        self._clock = clock
        self._monotonic = monotonic

    async def candles(self, q: CandleQuery, cal: MarketCalendar) -> bytes:
        """The response body (encoded JSON). A fully closed, cached range is encoded once."""
        now = self._clock()
        # Bucket-aligned bounds (the same buckets as the request): what the cache requires.
        start = align_up(q.start, q.interval, cal)
        end = align_up(q.end, q.interval, cal)
        settled = now - self.settle
        boundary = closed_boundary(settled, q.step, local_midnight(settled, cal))
        closed_end = max(start, min(end, boundary))
        head = await self._closed_part(q.symbol, q.interval, start, closed_end, cal.tz)
        memo_key = ("fill" if q.fill else "raw")
        fully_closed = end <= closed_end
        if fully_closed and head.entry is not None:
            body = head.entry.rendered.get(memo_key)
            if body is not None:
                return body
        tail: list[Candle] = []
        if not fully_closed:
            tail = await self.db.run(lambda c: candle_reader.fetch_candles(
                c, q.symbol, q.interval, closed_end, end, cal.tz))
        if q.fill:
            filled = fill_gaps(list(head.rows), q.interval, start, closed_end, cal, head.prev_close,
                               symbol=q.symbol) if closed_end > start else []
            items = [_json(f.candle, f.is_filled, cal) for f in filled]
        else:
            items = [_json(c, False, cal) for c in head.rows]
        items.extend(_json(c, False, cal) for c in tail)
        if not items:
            raise ApiError("NO_DATA_FOUND", f"no {q.interval} candles for {q.symbol} in "
                                            f"[{q.start.isoformat()}, {q.end.isoformat()})")
        body = json.dumps({"symbol": q.symbol, "interval": q.interval, "candles": items},
                          separators=(",", ":")).encode()
        if fully_closed and head.entry is not None:
            head.entry.rendered[memo_key] = body
        return body

    async def _closed_part(self, symbol: str, interval: str, start: datetime, end: datetime,
                           tz) -> Seeded:
        use_cache = self._cache_enabled() and end > start
        if use_cache:
            hit = self.cache.get(symbol, interval, start, end, self._monotonic())
            if hit is not None:
                return Seeded(hit.rows, hit.prev_close, hit.prev_time, hit)
        generation = self.cache.generation

        async def read(conn: asyncpg.Connection) -> Seeded:
            prev = await candle_reader.fetch_prev_close(conn, symbol, start)
            rows = await candle_reader.fetch_candles(conn, symbol, interval, start, end, tz) \
                if end > start else []
            return Seeded(tuple(rows), *(prev if prev is not None else (None, None)))

        got = await self.db.run(read)
        if use_cache:
            entry = self.cache.put(symbol, interval, start, end, got.rows, got.prev_close,
                                   got.prev_time, self._monotonic(), generation)
            if entry is not None:
                return Seeded(got.rows, got.prev_close, got.prev_time, entry)
        return got


def local_midnight(instant: datetime, cal: MarketCalendar) -> datetime:
    local = instant.astimezone(cal.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


def align_up(instant: datetime, interval: str, cal: MarketCalendar) -> datetime:
    """The first bucket start at or after `instant` (a request from 10:03 starts at 10:05 for 5m)."""
    if interval == "1d":
        midnight = local_midnight(instant, cal)
        return midnight if midnight == instant else local_midnight(midnight + DAY + timedelta(hours=3), cal)
    step = int(INTERVALS[interval].total_seconds())
    epoch = int(instant.timestamp())
    aligned = -(-epoch // step) * step
    if aligned == epoch and instant.microsecond:
        aligned += step
    return datetime.fromtimestamp(aligned, timezone.utc)


def _num(v: Any) -> int | float:
    if isinstance(v, int):
        return v
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v


def _json(c: Candle, is_filled: bool, cal: MarketCalendar) -> dict[str, Any]:
    t = c.time if c.time.tzinfo is cal.tz else c.time.astimezone(cal.tz)
    return {"time": t.isoformat(), "open": _num(c.open), "high": _num(c.high),
            "low": _num(c.low), "close": _num(c.close), "volume": c.volume, "is_filled": is_filled}
