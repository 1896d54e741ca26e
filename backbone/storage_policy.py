"""Pure decisions of the candle storage path (no I/O): batch de-duplication,
spill (de)serialisation, missing-minute computation and REST repair planning."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable, Sequence

from .models import Candle

MINUTE = timedelta(minutes=1)


def candle_key(c: Candle) -> tuple[str, str, datetime]:
    return (c.symbol, c.interval, c.time)


def dedupe_keep_last(candles: Iterable[Candle]) -> list[Candle]:
    """One row per (symbol, interval, time), the latest submitted winning (a later correction of the
    same minute replaces the earlier one). An upsert statement cannot touch one row twice."""
    latest: dict[tuple[str, str, datetime], Candle] = {}
    for c in candles:
        key = candle_key(c)
        latest.pop(key, None)  # re-insert so dict order follows the last occurrence
        latest[key] = c
    return list(latest.values())


def _num(x):
    """Spilled numbers: ints stay ints; Decimals were written as strings."""
    if isinstance(x, (int, float)):
        return x
    return Decimal(str(x))


def candle_to_json(c: Candle) -> dict:
    return {"symbol": c.symbol, "interval": c.interval, "time": c.time.isoformat(), "open": c.open,
            "high": c.high, "low": c.low, "close": c.close, "volume": c.volume, "value": c.value,
            "trades": c.trades, "source": c.source}


class BadSpillRecord(ValueError):
    """A spill-file line that is not a candle (truncated write, manual edit)."""


def candle_from_json(d: dict) -> Candle:
    try:
        t = datetime.fromisoformat(d["time"])
        if t.tzinfo is None:
            raise BadSpillRecord("naive time in spill record")
        return Candle(symbol=str(d["symbol"]), interval=str(d["interval"]), time=t,
                      open=_num(d["open"]), high=_num(d["high"]), low=_num(d["low"]),
                      close=_num(d["close"]), volume=int(d["volume"]), value=_num(d.get("value", 0)), trades=int(d.get("trades", 0)),
                      source=str(d.get("source", "live")))
    except (KeyError, TypeError, ValueError, ArithmeticError) as e:
        if isinstance(e, BadSpillRecord):
            raise
        raise BadSpillRecord(f"bad spill record: {type(e).__name__}: {e}") from e


def missing_minutes(expected: Iterable[datetime], present: Iterable[datetime]) -> list[datetime]:
    """Expected minute starts (from the trading calendar) with no stored row, ascending."""
    have = set(present)
    return sorted(m for m in set(expected) if m not in have)


def plan_minute_fetches(minutes: Sequence[datetime], rows_per_call: int = 30) -> list[datetime]:
    """The `until` minutes of the REST calls that cover `minutes`.

    The KIS minute chart returns `rows_per_call` rows ending at `until` (inclusive), newest first,
    so one call covers [until - (rows_per_call - 1) min, until]. Greedy from the newest minute.
    """
    todo = sorted(set(minutes), reverse=True)
    calls: list[datetime] = []
    span = (rows_per_call - 1) * MINUTE
    while todo:
        until = todo[0]
        calls.append(until)
        todo = [m for m in todo if m < until - span]
    return calls
