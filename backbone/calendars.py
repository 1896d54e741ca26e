"""Market sessions and candle bucket grids from exchange_calendars (XKRX, XNYS).

exchange_calendars' XKRX has the holidays and the 10:00 open on the first trading day of the year,
but its list of college-entrance-exam (수능) days stops at 2020 and it misses the 2026 local
election holiday. Those are added here (`KRX_EXTRA_CSAT_DAYS`, `KRX_EXTRA_HOLIDAYS`); each override
is applied only where the library does not already have it, so a newer library cannot double-apply.
On 수능 day KRX opens and closes one hour late: 10:00-16:30 KST.

Buckets: 1m/5m/15m/1h buckets lie on the UTC epoch grid (identical to the local grid for KST and
for New York, whole-hour offsets), so 1h buckets for KRX are 09:00 .. 15:00 and the 15:00 bucket
covers 15:00-15:30. A bucket is listed when it overlaps a trading minute [open, close). A 1d bucket
is one per session, labelled by the session's local date at local midnight. Session close is
exclusive: KRX 09:00-15:30 has 390 one-minute buckets (09:00 .. 15:29).

Calendar objects are slow to build (seconds for XKRX) and cached per exchange.
"""
from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

INTERVAL_SECONDS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
INTERVALS = (*INTERVAL_SECONDS, "1d")
CALENDAR_START = date(2015, 1, 1)

# 수능 days after the library's list (which ends 2020-12-03); verified against Ministry of
# Education announcements. 2026-11-19 is the 2027학년도 수능.
KRX_EXTRA_CSAT_DAYS = (date(2021, 11, 18), date(2022, 11, 17), date(2023, 11, 16),
                       date(2024, 11, 14), date(2025, 11, 13), date(2026, 11, 19))
KRX_CSAT_SHIFT = timedelta(hours=1)
# Election days are public holidays and KRX closes; the library has past local elections
# (2018-06-13, 2022-06-01) but not the 9th local election.
KRX_EXTRA_HOLIDAYS = (date(2026, 6, 3),)

_KRX_SYMBOL = re.compile(r"^[0-9][0-9A-Z]{5}$")  # 005930, and newer codes such as 0000J0
_US_SYMBOL = re.compile(r"^[A-Z]{1,6}([.\-/][A-Z]{1,2})?$")


class InvalidSymbolError(ValueError):
    """A symbol that belongs to no supported market."""


class InvalidIntervalError(ValueError):
    """An interval other than 1m, 5m, 15m, 1h, 1d."""


@dataclass(frozen=True, slots=True)
class Session:
    date: date  # the session's local date
    open: datetime  # aware, local zone
    close: datetime  # aware, local zone, exclusive


class MarketCalendar:
    """Trading sessions of one exchange as sorted arrays of epoch seconds."""

    def __init__(self, name: str, tz: ZoneInfo, dates: list[date], opens: np.ndarray,
                 closes: np.ndarray) -> None:
        self.name = name
        self.tz = tz
        self._dates = dates
        self._ordinals = np.array([d.toordinal() for d in dates], dtype=np.int64)
        self._open_s = opens.astype(np.int64)
        self._close_s = closes.astype(np.int64)
        self._midnight_s = np.array([self.epoch(d) for d in dates], dtype=np.int64)
        self.first_date = dates[0]
        self.last_date = dates[-1]

    # -- conversions ---------------------------------------------------------------------------
    def epoch(self, t: datetime | date) -> int:
        """Epoch seconds of an aware datetime, or of a date's local midnight in this market."""
        if isinstance(t, datetime):
            if t.tzinfo is None:
                raise ValueError("datetimes must be timezone-aware")
            return int(t.timestamp())
        return int(datetime.combine(t, time(), self.tz).timestamp())

    def _local_date(self, t: datetime | date) -> date:
        return t.astimezone(self.tz).date() if isinstance(t, datetime) else t

    def _session(self, i: int) -> Session:
        return Session(self._dates[i], datetime.fromtimestamp(int(self._open_s[i]), self.tz),
                       datetime.fromtimestamp(int(self._close_s[i]), self.tz))

    # -- queries -------------------------------------------------------------------------------
    def sessions(self, start: datetime | date, end: datetime | date) -> list[Session]:
        """Sessions whose local date lies in [start's date, end's date], inclusive."""
        lo = np.searchsorted(self._ordinals, self._local_date(start).toordinal(), "left")
        hi = np.searchsorted(self._ordinals, self._local_date(end).toordinal(), "right")
        return [self._session(i) for i in range(lo, hi)]

    def session_on(self, day: date) -> Session | None:
        """The session on a local date, or None (holiday, weekend)."""
        i = int(np.searchsorted(self._ordinals, day.toordinal(), "left"))
        if i < len(self._dates) and self._dates[i] == day:
            return self._session(i)
        return None

    def latest_session(self, now: datetime) -> Session | None:
        """The session open at `now`, else the last one that opened before it (an API default)."""
        i = int(np.searchsorted(self._open_s, self.epoch(now), "right")) - 1
        return self._session(i) if i >= 0 else None

    def is_session(self, day: date) -> bool:
        return self.session_on(day) is not None

    def is_open(self, ts: datetime) -> bool:
        """True while the market trades: open <= ts < close."""
        s = self.epoch(ts)
        i = int(np.searchsorted(self._open_s, s, "right")) - 1
        return i >= 0 and s < self._close_s[i]

    def bucket_epochs(self, interval: str, start: datetime | date, end: datetime | date) -> np.ndarray:
        """Bucket starts (epoch seconds, sorted) in [start, end) that overlap a trading minute."""
        lo_s, hi_s = self.epoch(start), self.epoch(end)
        if hi_s <= lo_s:
            return np.empty(0, dtype=np.int64)
        if interval == "1d":
            first = np.searchsorted(self._ordinals, self._local_date(start).toordinal(), "left")
            last = np.searchsorted(self._ordinals, self._local_date(end).toordinal(), "right")
            out = self._midnight_s[first:last]
            return out[(out >= lo_s) & (out < hi_s)]
        step = INTERVAL_SECONDS.get(interval)
        if step is None:
            raise InvalidIntervalError(f"unsupported interval {interval!r}")
        # sessions that could overlap [lo_s - step, hi_s)
        i0 = max(int(np.searchsorted(self._close_s, lo_s - step, "right")), 0)
        i1 = int(np.searchsorted(self._open_s, hi_s, "left"))
        if i1 <= i0:
            return np.empty(0, dtype=np.int64)
        firsts = (self._open_s[i0:i1] // step) * step
        lasts = ((self._close_s[i0:i1] - 1) // step) * step
        counts = (lasts - firsts) // step + 1
        total = int(counts.sum())
        # concatenated aranges without a Python loop per session
        offsets = np.repeat(firsts - np.concatenate(([0], np.cumsum(counts)[:-1])) * step, counts)
        out = offsets + np.arange(total, dtype=np.int64) * step
        out = np.unique(out)  # an hour bucket can be shared by two sessions only in theory
        return out[(out >= lo_s) & (out < hi_s)]

    def bucket_starts(self, interval: str, start: datetime | date, end: datetime | date) -> list[datetime]:
        """Aware local bucket starts in [start, end) overlapping trading time (see module doc)."""
        tz = self.tz
        return [datetime.fromtimestamp(int(s), tz) for s in self.bucket_epochs(interval, start, end)]

    def __repr__(self) -> str:
        return f"MarketCalendar({self.name}, {self.first_date}..{self.last_date})"


def _build(name: str, tz_name: str) -> MarketCalendar:
    import exchange_calendars as xc  # slow import, only when a calendar is first needed

    end = date(date.today().year + 1, 12, 31)
    with warnings.catch_warnings():  # pandas deprecation noise from inside the library
        warnings.simplefilter("ignore")
        cal = xc.get_calendar(name, start=CALENDAR_START.isoformat(), end=end.isoformat())
    tz = ZoneInfo(tz_name)
    dates = [ts.date() for ts in cal.sessions]
    opens = _utc_seconds(cal.opens)
    closes = _utc_seconds(cal.closes)
    if name == "XKRX":
        dates, opens, closes = _krx_overrides(dates, opens, closes, tz)
    return MarketCalendar(name, tz, dates, opens, closes)


def _utc_seconds(series) -> np.ndarray:
    naive_utc = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive_utc.to_numpy().astype("datetime64[s]").astype(np.int64)


def _krx_overrides(dates: list[date], opens: np.ndarray, closes: np.ndarray, tz: ZoneInfo):
    index = {d: i for i, d in enumerate(dates)}
    shift = int(KRX_CSAT_SHIFT.total_seconds())
    for day in KRX_EXTRA_CSAT_DAYS:
        i = index.get(day)
        regular_open = int(datetime.combine(day, time(9, 0), tz).timestamp())
        if i is not None and opens[i] == regular_open:  # not already late in the library
            opens[i] += shift
            closes[i] += shift
    keep = [i for i, d in enumerate(dates) if d not in KRX_EXTRA_HOLIDAYS]
    return [dates[i] for i in keep], opens[keep], closes[keep]


_lock = threading.Lock()


@lru_cache(maxsize=None)
def _cached(name: str, tz_name: str) -> MarketCalendar:
    return _build(name, tz_name)


def get_calendar(name: str) -> MarketCalendar:
    """XKRX or XNYS, built once per process (thread-safe)."""
    tz = {"XKRX": "Asia/Seoul", "XNYS": "America/New_York"}.get(name)
    if tz is None:
        raise ValueError(f"unsupported exchange {name!r}")
    with _lock:
        return _cached(name, tz)


def exchange_for(symbol: str) -> str:
    """XKRX for Korean 6-character codes (005930), XNYS for US tickers (AAPL, BRK.B)."""
    s = symbol.strip().upper()
    if _KRX_SYMBOL.match(s):
        return "XKRX"
    if _US_SYMBOL.match(s):
        return "XNYS"
    raise InvalidSymbolError(f"unknown market for symbol {symbol!r}")


def calendar_for(symbol: str) -> MarketCalendar:
    return get_calendar(exchange_for(symbol))
