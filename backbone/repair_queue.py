"""Which minutes to repair, and when: the candle repairer's bookkeeping without Ray or a database.

Routers report tick-loss gaps (they keep them; `gaps()` does not clear), so the queue remembers the
gaps it has already taken. A gap's minutes are due once the symbol's exchange time (as the router estimates it)
is past the gap's last minute, i.e. the router has closed that minute, plus `settle_s` real seconds
so the router and the candle writer have shipped their version first (the REST rewrite must be the
last write of that minute, or the incomplete stream row would overwrite it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from backbone.calendars import calendar_for
from backbone.tickloss import Gap, affected_minutes

ONE_MINUTE = timedelta(minutes=1)
MAX_GAP_MINUTES = 24 * 60  # a gap from an unknown day start never plans more than a day of minutes


@dataclass
class _Pending:
    symbol: str
    minutes: list[datetime]
    last: datetime  # last affected minute start
    closed_at: float | None = None  # monotonic time the minute was first seen closed


@dataclass
class RepairQueue:
    settle_s: float = 2.0
    max_attempts: int = 5
    _seen: dict[str, set[tuple]] = field(default_factory=dict)
    _pending: list[_Pending] = field(default_factory=list)
    _failures: dict[tuple[str, datetime], int] = field(default_factory=dict)
    gaps_seen: int = 0
    dropped: int = 0  # minutes given up after max_attempts

    def offer(self, symbol: str, gaps: list[dict]) -> int:
        """Take the router's current gap list ({"start","end","reason",...}, ISO times); returns new gaps."""
        seen = self._seen.setdefault(symbol, set())
        keys, new = set(), 0
        for g in gaps:
            key = (g["start"], g["end"], g.get("reason"))
            keys.add(key)
            if key in seen:
                continue
            start, end = datetime.fromisoformat(g["start"]), datetime.fromisoformat(g["end"])
            self._pending.append(_Pending(symbol, gap_minutes(symbol, start, end, g.get("reason", "volume")), end))
            new += 1
        self._seen[symbol] = keys  # forget gaps the router no longer reports (bounded)
        self.gaps_seen += new
        return new

    def take_due(self, exchange_now: dict[str, datetime], now: float) -> dict[str, list[datetime]]:
        """Minutes per symbol whose gap is closed and settled; they leave the queue (see `requeue`)."""
        due: dict[str, set[datetime]] = {}
        keep = []
        for p in self._pending:
            exch = exchange_now.get(p.symbol)
            if p.closed_at is None and exch is not None and exch >= p.last + ONE_MINUTE:
                p.closed_at = now
            if p.closed_at is not None and now - p.closed_at >= self.settle_s:
                due.setdefault(p.symbol, set()).update(p.minutes)
            else:
                keep.append(p)
        self._pending = keep
        return {s: sorted(m) for s, m in due.items()}

    def requeue(self, symbol: str, minutes: list[datetime], now: float, failed: bool = True) -> None:
        """Minutes not repaired this round: tried again next round. `failed` (their fetch or write
        failed, not merely a database that is down) counts toward `max_attempts`, then they are dropped."""
        keep = []
        for m in minutes:
            n = self._failures.get((symbol, m), 0) + (1 if failed else 0)
            if n >= self.max_attempts:
                self._failures.pop((symbol, m), None)
                self.dropped += 1
                continue
            if n:
                self._failures[(symbol, m)] = n
            keep.append(m)
        if keep:
            self._pending.append(_Pending(symbol, sorted(keep), max(keep), closed_at=now - self.settle_s))

    def done(self, symbol: str, minutes: list[datetime]) -> None:
        for m in minutes:
            self._failures.pop((symbol, m), None)

    def pending(self) -> int:
        return sum(len(p.minutes) for p in self._pending)


def gap_minutes(symbol: str, start: datetime, end: datetime, reason: str = "volume") -> list[datetime]:
    """The gap's minutes: trading minutes of the symbol's calendar when it knows any (a day-start gap
    runs from midnight), else every minute (a simulator that trades around the clock)."""
    gap = Gap(symbol, start, end, None, reason)  # type: ignore[arg-type]
    try:
        minutes = affected_minutes(gap, calendar_for(symbol))
    except Exception:  # noqa: BLE001 - unknown symbol/calendar: fall back to plain minutes
        minutes = []
    if not minutes and reason != "day_start":
        minutes = affected_minutes(gap)
    return minutes[-MAX_GAP_MINUTES:]
