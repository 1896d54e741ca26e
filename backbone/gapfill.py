"""Zero-order-hold gap filling of candle series, inside trading sessions only.

Every bucket in [start, end) that overlaps trading time (per the exchange calendar; see
backbone.calendars for the bucket grid) and has no candle becomes a flat candle at the previous
close: open = high = low = close = previous close, volume 0, value 0, trades 0, source "fill",
`is_filled` true. The previous close is the close of the latest real candle before the bucket
(candles before `start` in the input count), else `prev_close`. Nothing is invented before the
first known close, and nothing outside sessions (nights, weekends, holidays). Real candles in
[start, end) are always returned, even outside sessions (e.g. after-hours prints).

The caller clamps `end` to "now" so the future part of today is not filled.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from backbone.calendars import INTERVALS, InvalidIntervalError, MarketCalendar
from backbone.models import Candle


@dataclass(frozen=True, slots=True)
class FilledCandle:
    candle: Candle
    is_filled: bool

    def to_dict(self) -> dict[str, Any]:
        """The API's candle shape: time (ISO 8601, exchange-local offset), OHLCV, is_filled."""
        c = self.candle
        return {"time": c.time.isoformat(), "open": c.open, "high": c.high, "low": c.low,
                "close": c.close, "volume": c.volume, "is_filled": self.is_filled}


def fill_gaps(candles: list[Candle], interval: str, start: datetime | date, end: datetime | date,
              calendar: MarketCalendar, prev_close: int | Decimal | None = None, *,
              symbol: str | None = None) -> list[FilledCandle]:
    """Real candles in [start, end) plus filled in-session buckets, sorted by time.

    Candle times are returned in the calendar's zone. `symbol` names filled candles when `candles`
    is empty (otherwise the candles' symbol is used).
    """
    if interval not in INTERVALS:
        raise InvalidIntervalError(f"unsupported interval {interval!r}")
    tz = calendar.tz
    lo_s, hi_s = calendar.epoch(start), calendar.epoch(end)
    stamped = sorted(((int(c.time.timestamp()), c) for c in candles), key=_first)
    ordered = [c for _, c in stamped]

    seed = prev_close
    real: dict[int, Candle] = {}
    for e, c in stamped:
        if e < lo_s:
            seed = c.close
        elif e < hi_s:
            real[e] = c if c.time.tzinfo is tz else replace(c, time=c.time.astimezone(tz))
    name = symbol if symbol is not None else (ordered[0].symbol if ordered else "")

    real_s = np.fromiter(real.keys(), dtype=np.int64, count=len(real))
    real_close = [c.close for c in real.values()]  # Python objects: int or Decimal, kept exact
    buckets = calendar.bucket_epochs(interval, start, end)
    missing = buckets[~np.isin(buckets, real_s, assume_unique=True)] if len(real_s) else buckets
    # previous real candle strictly before each missing bucket
    prev_idx = np.searchsorted(real_s, missing, "right") - 1
    if seed is None:
        keep = prev_idx >= 0
        missing, prev_idx = missing[keep], prev_idx[keep]
    closes = [real_close[i] if i >= 0 else seed for i in prev_idx.tolist()]

    out = [FilledCandle(c, False) for c in real.values()]
    out += [FilledCandle(Candle(name, interval, datetime.fromtimestamp(e, tz), px, px, px, px, 0, 0, 0,
                                "fill"), True)
            for e, px in zip(missing.tolist(), closes)]
    order = np.argsort(np.concatenate((real_s, missing)), kind="stable")
    return [out[i] for i in order.tolist()]


def _first(pair: tuple[int, Candle]) -> int:
    return pair[0]
