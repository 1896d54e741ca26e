"""A TTL + LRU cache for candle rows of CLOSED ranges (pure: the clock is passed in).

What is cached is what the database returned for a range whose every bucket has closed: the raw
rows plus the seed (the last close before the range, and that row's time). Gap filling happens
after the cache, on every request, so the cache never holds invented candles. The forming bucket
is never cached: callers split a request at `closed_boundary(...)` and read the tail fresh.

Closed ranges are immutable except when a repair or a late row rewrites history; writers announce
such changes (symbol, start, end) and `invalidate` drops every entry the change could affect:
entries of that symbol whose rows, or whose seed row, could lie in the touched range. The TTL is
the safety net for a change that was never announced.

Keys must be bucket-aligned ([start, end) on the interval's grid): then a 1m row at t changes an
entry exactly when t lies in [start, end) (its bucket is one of the entry's), or when it lies in
[seed row time, start) (it changes the seed). Live writes to the forming bucket, which is at or
after every cached end, therefore never evict closed ranges.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

ALL_SYMBOLS = "*"


@dataclass(frozen=True, slots=True)
class CachedRange:
    rows: tuple[Any, ...]
    prev_close: Any  # last close before `start`, or None
    prev_time: datetime | None  # time of the row that gave prev_close
    stored_at: float
    # Responses derived from exactly these rows (e.g. the encoded JSON per fill flag): the caller
    # may memoize them here; they go when the entry goes.
    rendered: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class _Key:
    symbol: str
    interval: str
    start: datetime
    end: datetime


class CandleCache:
    """Not thread-safe by design: one event loop owns it (one per API replica)."""

    def __init__(self, ttl_s: float = 300.0, max_entries: int = 512) -> None:
        if ttl_s <= 0 or max_entries <= 0:
            raise ValueError("ttl_s and max_entries must be positive")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[_Key, CachedRange] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.invalidations = 0  # entries dropped by invalidate/clear
        # Bumped by every invalidate/clear: a put whose query started before a bump is dropped.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def get(self, symbol: str, interval: str, start: datetime, end: datetime,
            now: float) -> CachedRange | None:
        key = _Key(symbol, interval, start, end)
        entry = self._entries.get(key)
        if entry is None or now - entry.stored_at >= self.ttl_s:
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, symbol: str, interval: str, start: datetime, end: datetime, rows: tuple[Any, ...],
            prev_close: Any, prev_time: datetime | None, now: float,
            generation: int | None = None) -> CachedRange | None:
        """Store a closed range; returns the entry. With `generation`, the put is dropped (None)
        if an invalidation happened since the caller read `self.generation` before its query
        (the rows may predate it)."""
        if generation is not None and generation != self.generation:
            return None
        key = _Key(symbol, interval, start, end)
        entry = self._entries[key] = CachedRange(tuple(rows), prev_close, prev_time, now)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return entry

    def invalidate(self, symbol: str, start: datetime, end: datetime) -> int:
        """Drop entries of `symbol` (ALL_SYMBOLS: of every symbol) that rows in [start, end]
        could change. Returns how many."""
        self.generation += 1
        doomed = [k for k, v in self._entries.items()
                  if (k.symbol == symbol or symbol == ALL_SYMBOLS) and _touches(k, v, start, end)]
        for k in doomed:
            del self._entries[k]
        self.invalidations += len(doomed)
        return len(doomed)

    def clear(self) -> None:
        """Forget everything (e.g. after losing the change feed: announcements may be missed)."""
        self.generation += 1
        self.invalidations += len(self._entries)
        self._entries.clear()

    def stats(self) -> dict[str, float]:
        return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses,
                "hit_rate": self.hit_rate, "invalidations": self.invalidations}


def _touches(key: _Key, entry: CachedRange, lo: datetime, hi: datetime) -> bool:
    """Does a change to 1m rows in [lo, hi] reach this entry? It depends on rows in
    [seed row time, end); no seed means "no row before start", which any earlier row changes."""
    if entry.prev_time is not None and hi < entry.prev_time:
        return False
    return lo < key.end


def closed_boundary(now: datetime, step: timedelta, day_start: datetime | None = None) -> datetime:
    """Start of the bucket that contains `now` (the forming bucket): everything before it is closed.

    Intraday steps align to the epoch (UTC and KST grids agree for whole-hour offsets). For daily
    candles pass `day_start`, the start of the market-local day containing `now`.
    """
    if step >= timedelta(days=1):
        if day_start is None:
            raise ValueError("daily boundaries need the market-local day start")
        return day_start
    epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
    return now - ((now - epoch) % step)

