"""Parsing and validation of the candle API's query parameters (pure: no I/O, no clock).

`parse_candle_query(...)` turns the raw strings of `GET /api/candles` into a typed `CandleQuery`
or a typed `ParamError` (code + message) that the HTTP layer maps to the error contract. Nothing
here raises on bad input.

Range semantics (documented in the API):
- `from` / `to` accept ISO 8601 datetimes (an offset-less one is read in the market's time zone)
  or plain dates (`2026-11-20`, read as market-local days).
- `from` is inclusive. A date `to` includes that whole day; a datetime `to` is exclusive.
- Neither given: intraday intervals cover the latest session that has opened, through now when
  now is later (rows written after it, e.g. the simulator's off-hours session, are real rows and
  show; nothing is filled outside sessions); `1d` covers the year (365 days) up to today.
- Only `from`: up to now. Only `to`: one default span back from `to`.
- More buckets than `max_rows` (counted on the market calendar) -> INVALID_RANGE.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, Protocol, Sized
from zoneinfo import ZoneInfo

INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
DEFAULT_MAX_ROWS = 20_000
DAILY_DEFAULT_SPAN = timedelta(days=365)
# Outside these, date arithmetic could overflow and no market data exists anyway.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)
# KRX 6-character codes (digits, or digits with a letter as in newer listings like 0001A0) and
# KIS overseas real-time symbols / tickers (DNASAAPL, AAPL, BRK.B, 00700).
_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,15}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

INVALID_SYMBOL = "INVALID_SYMBOL"
INVALID_INTERVAL = "INVALID_INTERVAL"
INVALID_RANGE = "INVALID_RANGE"


@dataclass(frozen=True, slots=True)
class ParamError:
    """A rejected parameter: `code` is one of the contract's 400 codes."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CandleQuery:
    """A validated candle request. `start` inclusive, `end` exclusive, both aware UTC."""

    symbol: str
    interval: str
    start: datetime
    end: datetime
    fill: bool

    @property
    def step(self) -> timedelta:
        return INTERVALS[self.interval]


class SessionCalendar(Protocol):
    """What parsing needs from a market calendar (backbone.calendars.MarketCalendar)."""

    tz: ZoneInfo

    def sessions(self, start: datetime, end: datetime) -> list:
        """Sessions (with aware `open` / `close`) whose local date lies in [start, end]."""

    def bucket_epochs(self, interval: str, start: datetime, end: datetime) -> Sized:
        """In-session bucket starts of `interval` in [start, end)."""


def latest_session(cal: SessionCalendar, now: datetime) -> tuple[datetime, datetime] | None:
    """(open, close) of the latest session that has opened by `now` (UTC), or None."""
    for session in reversed(cal.sessions(now - timedelta(days=30), now)):
        if session.open <= now:
            return session.open.astimezone(timezone.utc), session.close.astimezone(timezone.utc)
    return None


def parse_symbol(raw: str | None, is_known: Callable[[str], bool] | None = None) -> str | ParamError:
    """Normalize a symbol (strip, upper-case) and check its syntax and, if given, the master."""
    if raw is None or not raw.strip():
        return ParamError(INVALID_SYMBOL, "symbol is required")
    symbol = raw.strip().upper()
    if not _SYMBOL_RE.match(symbol):
        return ParamError(INVALID_SYMBOL, f"malformed symbol {_clip(raw)!r}")
    if is_known is not None and not is_known(symbol):
        return ParamError(INVALID_SYMBOL, f"unknown symbol {symbol!r}")
    return symbol


def parse_interval(raw: str | None) -> str | ParamError:
    value = "1m" if raw is None or raw == "" else raw.strip()
    if value not in INTERVALS:
        return ParamError(INVALID_INTERVAL,
                          f"interval must be one of {', '.join(INTERVALS)}; got {_clip(raw)!r}")
    return value


def parse_bool(raw: str | None, default: bool) -> bool | None:
    """'true'/'false'/'1'/'0'/'yes'/'no' (any case); None for anything else."""
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    return None


def parse_instant(raw: str, tz: ZoneInfo, *, is_end: bool) -> datetime | ParamError:
    """ISO 8601 datetime or date -> aware UTC datetime. An end date means the end of that day."""
    text = raw.strip()
    try:
        if _DATE_RE.match(text):
            day = date.fromisoformat(text)
            if is_end:
                day = day + timedelta(days=1)
            local = datetime.combine(day, time(0), tz)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
            local = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
        instant = local.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return ParamError(INVALID_RANGE, f"{'to' if is_end else 'from'} is not an ISO 8601 date or "
                                         f"datetime: {_clip(raw)!r}")
    if not EARLIEST <= instant < LATEST:
        return ParamError(INVALID_RANGE, f"{'to' if is_end else 'from'} must lie between "
                                         f"{EARLIEST.year} and {LATEST.year}")
    return instant


def parse_candle_query(
    *,
    symbol: str | None,
    interval: str | None,
    from_: str | None,
    to: str | None,
    fill: str | None,
    calendar_for: Callable[[str], SessionCalendar | None],
    now: datetime,
    max_rows: int = DEFAULT_MAX_ROWS,
    is_known: Callable[[str], bool] | None = None,
) -> CandleQuery | ParamError:
    """Validate everything; the first problem found is returned as a ParamError.

    `calendar_for(symbol)` gives the symbol's market calendar (None = no market for it, which is
    reported as INVALID_SYMBOL).
    """
    sym = parse_symbol(symbol, is_known)
    if isinstance(sym, ParamError):
        return sym
    ivl = parse_interval(interval)
    if isinstance(ivl, ParamError):
        return ivl
    do_fill = parse_bool(fill, True)
    if do_fill is None:
        return ParamError(INVALID_RANGE, f"fill must be true or false; got {_clip(fill)!r}")
    cal = calendar_for(sym)
    if cal is None:
        return ParamError(INVALID_SYMBOL, f"no market calendar for symbol {sym!r}")

    span = DAILY_DEFAULT_SPAN if ivl == "1d" else timedelta(days=1)
    start = end = None
    if from_:
        start = parse_instant(from_, cal.tz, is_end=False)
        if isinstance(start, ParamError):
            return start
    if to:
        end = parse_instant(to, cal.tz, is_end=True)
        if isinstance(end, ParamError):
            return end
    if start is None and end is None:
        session = latest_session(cal, now)
        if session is None:
            return ParamError(INVALID_RANGE, "no session has opened yet; give from/to")
        open_, close = session
        # Up to now at least: rows written after the session (the simulator's off-hours session,
        # after-hours prints) show too; they are real rows, and nothing is filled outside sessions.
        if ivl == "1d":
            start = _local_midnight(open_, cal.tz) - DAILY_DEFAULT_SPAN
            end = _local_midnight(max(open_, now), cal.tz) + timedelta(days=1)
        else:
            start, end = open_, max(close, now + INTERVALS[ivl])
    elif start is None:
        start = end - span
    elif end is None:
        end = max(now, start)
        if ivl == "1d":  # include today's (forming) daily bucket
            end = _local_midnight(end, cal.tz) + timedelta(days=1)
    if start >= end:
        return ParamError(INVALID_RANGE, "from must be before to")

    # Cheap upper bound first, so a silly range never walks the calendar.
    rough = (end - start) / INTERVALS[ivl]
    if rough > max_rows * 50:
        return ParamError(INVALID_RANGE, f"range too large: more than {max_rows} rows")
    if rough > max_rows and len(cal.bucket_epochs(ivl, start, end)) > max_rows:
        return ParamError(INVALID_RANGE, f"range too large: more than {max_rows} {ivl} rows; "
                                         "narrow from/to or use a longer interval")
    return CandleQuery(sym, ivl, start, end, do_fill)


def _local_midnight(instant: datetime, tz: ZoneInfo) -> datetime:
    local = instant.astimezone(tz)
    return datetime.combine(local.date(), time(0), tz).astimezone(timezone.utc)


def _clip(raw: object, limit: int = 40) -> str:
    """Echo user input in messages, bounded (no megabyte messages from a fuzzer)."""
    text = str(raw)
    return text if len(text) <= limit else text[:limit] + "..."
