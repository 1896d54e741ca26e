"""Tick-loss detection without sequence numbers, from KRX cumulative volume.

Every H0STCNT0 print carries ACML_VOL (the day's cumulative volume, after this print) and CNTG_VOL
(this print's size). For consecutive prints of one symbol on one business day:
    ACML_VOL == previous ACML_VOL + CNTG_VOL
  - equal: fine;
  - ACML_VOL <= previous ACML_VOL at the same or an earlier exchange time: a replayed print
    (duplicate). Reported as such so the router drops it; it is not a gap and does not move the state;
  - ACML_VOL <= previous ACML_VOL at a later exchange time: the source restarted its count. The
    detector re-anchors on this print and reports an "upstream" gap since the previous print;
  - anything else: prints were lost (or the feed is inconsistent). A `Gap` covers the minutes from
    the previous print's minute to this print's minute, inclusive, with the missing volume
    (negative when the volume went up by less than the print's size: inconsistent, repair anyway).
Day rollover: ACML_VOL resets when BSOP_DATE (the KST date of the exchange time) changes. The first
print of a new day must have ACML_VOL == CNTG_VOL; if not, the day's earlier prints were missed and
the gap runs from local midnight (restrict to trading minutes with `affected_minutes(gap, calendar)`).
The very first print this detector sees is trusted: start-up backfill is the repair step's job.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from backbone.kis.events import KST, Trade

if TYPE_CHECKING:
    from backbone.calendars import MarketCalendar

ONE_MINUTE = timedelta(minutes=1)
GapReason = Literal["volume", "day_start", "upstream"]


@dataclass(frozen=True, slots=True)
class Gap:
    symbol: str
    start: datetime  # first affected minute (KST minute start)
    end: datetime  # last affected minute, inclusive
    missing_volume: int | None  # None for an upstream gap (unknown)
    reason: GapReason = "volume"


@dataclass(frozen=True, slots=True)
class TickCheck:
    """Outcome for one print: `duplicate` -> drop it; `gap` -> schedule a repair of those minutes."""

    duplicate: bool = False
    gap: Gap | None = None


OK = TickCheck()
DUPLICATE = TickCheck(duplicate=True)


def _minute(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("exchange time must be timezone-aware")
    return t.astimezone(KST).replace(second=0, microsecond=0)


@dataclass(slots=True)
class _Last:
    day: object  # date
    cum_volume: int
    time: datetime


class TickLossDetector:
    """Per-symbol ACML_VOL continuity check; see the module docstring."""

    def __init__(self) -> None:
        self._last: dict[str, _Last] = {}
        self.duplicates = 0
        self.gaps = 0
        self.resets = 0

    def on_trade(self, trade: Trade) -> TickCheck:
        t = trade.time.astimezone(KST)
        day = t.date()
        last = self._last.get(trade.symbol)
        if last is None:
            self._last[trade.symbol] = _Last(day, trade.cum_volume, t)
            return OK
        if day != last.day:
            if day < last.day:  # a replayed print from an earlier day
                self.duplicates += 1
                return DUPLICATE
            self._last[trade.symbol] = _Last(day, trade.cum_volume, t)
            missing = trade.cum_volume - trade.size
            if missing == 0:
                return OK
            self.gaps += 1
            midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
            return TickCheck(gap=Gap(trade.symbol, midnight, _minute(t), missing, "day_start"))
        if trade.cum_volume <= last.cum_volume:
            if t <= last.time:
                self.duplicates += 1
                return DUPLICATE
            # Later in time but the count went back: the source restarted its count (a new
            # upstream, e.g. a restarted simulator feeding a surviving router). Dropping these as
            # replays would silence the symbol until the new count passed the old one; instead
            # re-anchor on this print and have the minutes since the previous print repaired.
            prev_time = last.time
            self._last[trade.symbol] = _Last(day, trade.cum_volume, t)
            self.resets += 1
            self.gaps += 1
            return TickCheck(gap=Gap(trade.symbol, _minute(prev_time), _minute(t), None, "upstream"))
        expected = last.cum_volume + trade.size
        prev_time = last.time
        last.cum_volume, last.time = trade.cum_volume, max(t, last.time)
        if trade.cum_volume == expected:
            return OK
        self.gaps += 1
        start, end = sorted((_minute(prev_time), _minute(t)))
        return TickCheck(gap=Gap(trade.symbol, start, end, trade.cum_volume - expected, "volume"))

    def mark_upstream_gap(self, symbol: str, since: datetime, until: datetime) -> Gap:
        """A reconnect or stall: every minute from `since` to `until` (inclusive) may be incomplete."""
        start, end = sorted((_minute(since), _minute(until)))
        self.gaps += 1
        return Gap(symbol, start, end, None, "upstream")

    def forget(self, symbol: str) -> None:
        """Drop a symbol's state (unsubscribed): its next print is trusted again."""
        self._last.pop(symbol, None)


def affected_minutes(gap: Gap, calendar: MarketCalendar | None = None) -> list[datetime]:
    """Minute starts from gap.start to gap.end inclusive; with a calendar, trading minutes only."""
    if calendar is not None:
        return calendar.bucket_starts("1m", gap.start, gap.end + ONE_MINUTE)
    out = []
    t = gap.start
    while t <= gap.end:
        out.append(t)
        t += ONE_MINUTE
    return out
