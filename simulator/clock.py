"""The simulated exchange clock and KRX trading calendar.

The clock maps real elapsed time to simulated exchange time: sim = anchor + elapsed * speed.
In "session" mode it runs a KRX session and, past the 15:30 close, rolls on to the next trading
day's 09:00 so a developer always sees a live market.
"""
from __future__ import annotations

import functools
import threading
import time
from datetime import date, datetime, time as dtime, timedelta
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")
KRX_OPEN = dtime(9, 0)
KRX_CLOSE = dtime(15, 30)


@functools.lru_cache(maxsize=4)
def _sessions(name: str) -> tuple[frozenset[date], date, date] | None:
    """The calendar's session dates (loaded once), or None to fall back to weekdays."""
    try:
        import warnings

        import exchange_calendars as xcals

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = xcals.get_calendar(name)
            days = frozenset(ts.date() for ts in cal.sessions)
        return days, min(days), max(days)
    except Exception:  # calendar unavailable
        return None


def is_trading_day(d: date, calendar: str = "XKRX") -> bool:
    known = _sessions(calendar)
    if known is not None and known[1] <= d <= known[2]:
        return d in known[0]
    return d.weekday() < 5


def next_trading_day(d: date, calendar: str = "XKRX") -> date:
    """The first trading day strictly after d."""
    d = d + timedelta(days=1)
    while not is_trading_day(d, calendar):
        d += timedelta(days=1)
    return d


def previous_trading_day(d: date, calendar: str = "XKRX") -> date:
    """The last trading day strictly before d."""
    d = d - timedelta(days=1)
    while not is_trading_day(d, calendar):
        d -= timedelta(days=1)
    return d


def krx_open_at(t: datetime) -> bool:
    t = t.astimezone(KST)
    return is_trading_day(t.date()) and KRX_OPEN <= t.time() < KRX_CLOSE


class SimClock:
    """Thread-safe simulated clock. `mode` is what it says it runs (banner, /_sim/stats)."""

    def __init__(self, mode: str = "auto", start: datetime | None = None, speed: float = 1.0,
                 _real_now: datetime | None = None) -> None:
        real_now = (_real_now or datetime.now(KST)).astimezone(KST)
        self._lock = threading.Lock()
        self.speed = float(speed)
        if mode == "auto":
            mode = "real" if start is None and krx_open_at(real_now) else "session"
        self.mode = mode
        if start is not None:
            if start.tzinfo is None:
                raise ValueError("start must be timezone-aware")
            anchor = start.astimezone(KST)
        elif mode == "session":
            anchor = datetime.combine(self._session_day_for(real_now), KRX_OPEN, KST)
        else:
            anchor = real_now
        if mode in ("real", "always-open") and start is None:
            self.speed = 1.0 if mode == "real" else self.speed
        self._anchor_sim = anchor
        self._anchor_real = time.monotonic()

    @staticmethod
    def _session_day_for(t: datetime) -> date:
        """Today if it is a trading day, else the most recent trading day."""
        d = t.date()
        return d if is_trading_day(d) else previous_trading_day(d)

    def now(self) -> datetime:
        with self._lock:
            sim = self._anchor_sim + timedelta(seconds=(time.monotonic() - self._anchor_real) * self.speed)
            if self.mode == "session" and self._past_close(sim):
                nxt = datetime.combine(next_trading_day(sim.date()), KRX_OPEN, KST)
                self._anchor_sim, self._anchor_real = nxt, time.monotonic()
                sim = nxt
            return sim

    @staticmethod
    def _past_close(sim: datetime) -> bool:
        return sim.time() >= KRX_CLOSE or not is_trading_day(sim.date())

    def krx_open(self, at: datetime | None = None) -> bool:
        if self.mode == "always-open":
            return True
        return krx_open_at(at or self.now())

    def venue_open(self, calendar: str, tz: str, at: datetime | None = None) -> bool:
        """Overseas venues: regular hours in the venue's own zone (always-open mode: always)."""
        if self.mode == "always-open":
            return True
        local = (at or self.now()).astimezone(ZoneInfo(tz))
        hours = {"XNYS": (dtime(9, 30), dtime(16, 0)), "XHKG": (dtime(9, 30), dtime(16, 0))}
        lo, hi = hours.get(calendar, (dtime(9, 30), dtime(16, 0)))
        return local.weekday() < 5 and lo <= local.time() < hi

    def session_date(self, at: datetime | None = None) -> date:
        """The KRX business date the market is in (ACML_VOL resets when it changes)."""
        return (at or self.now()).astimezone(KST).date()

    NOTES = {"real": "real time (KRX is open now)",
             "session": "simulated KRX session (09:00-15:30 KST, rolls on to the next trading day)",
             "always-open": "real time, market never closes"}

    def describe(self) -> dict:
        return {"mode": self.mode, "note": self.NOTES.get(self.mode, ""), "speed": self.speed,
                "now": self.now().isoformat(), "krx_open": self.krx_open()}
