"""1-minute candles from trades, bucketed by EXCHANGE time (KST minute start), not arrival time.

Which prints count: every print of the symbol with a positive size, whatever the session (pre-open
auction, regular, closing auction, after-hours single price). The KIS minute chart the repair step
uses also carries those, so live and repaired rows agree; a consumer that wants regular-session only
filters by bucket time with the calendar. Duplicated (replayed) prints must be dropped before this
builder (see backbone.tickloss): the builder counts what it is given.

Late prints: a print for a minute that already closed yields a corrected Candle for that minute
(same symbol/interval/time key, updated values) so an idempotent upsert fixes the row. The builder
remembers the last `keep_closed` closed minutes; a print older than that, or older than the first
minute this builder saw (it cannot know what came before it started), is not applied and is
counted in `dropped_late` (the tick-loss repair re-fetches such minutes from REST).

Open/close within a minute follow exchange time; prints with the same timestamp keep arrival order.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from backbone.kis.events import KST, Trade
from backbone.models import Candle

ONE_MINUTE = timedelta(minutes=1)


class WrongSymbolError(ValueError):
    """A trade of another symbol was fed to a per-symbol builder."""


def minute_start(t: datetime) -> datetime:
    """The KST minute bucket a timestamp belongs to (aware)."""
    if t.tzinfo is None:
        raise ValueError("exchange time must be timezone-aware")
    return t.astimezone(KST).replace(second=0, microsecond=0)


@dataclass(slots=True)
class _Agg:
    time: datetime
    open: int
    high: int
    low: int
    close: int
    open_at: datetime
    close_at: datetime
    volume: int = 0
    value: int = 0
    trades: int = 0

    @classmethod
    def first(cls, bucket: datetime, trade: Trade) -> _Agg:
        p = trade.price
        agg = cls(bucket, p, p, p, p, trade.time, trade.time)
        agg.volume, agg.value, agg.trades = trade.size, p * trade.size, 1
        return agg

    def add(self, trade: Trade) -> None:
        p = trade.price
        if p > self.high:
            self.high = p
        if p < self.low:
            self.low = p
        if trade.time < self.open_at:
            self.open, self.open_at = p, trade.time
        if trade.time >= self.close_at:
            self.close, self.close_at = p, trade.time
        self.volume += trade.size
        self.value += p * trade.size
        self.trades += 1

    def candle(self, symbol: str, source: str) -> Candle:
        return Candle(symbol, "1m", self.time, self.open, self.high, self.low, self.close,
                      self.volume, self.value, self.trades, source)


class MinuteCandleBuilder:
    """Builds one symbol's 1m candles; see the module docstring for the rules."""

    def __init__(self, symbol: str, keep_closed: int = 1440, source: str = "live") -> None:
        self.symbol = symbol
        self.source = source
        self.keep_closed = keep_closed
        self._forming: _Agg | None = None
        self._closed: OrderedDict[datetime, _Agg] = OrderedDict()  # oldest first
        self.first_minute: datetime | None = None
        self.dropped_late = 0
        self.ignored = 0

    def on_trade(self, trade: Trade) -> list[Candle]:
        """Apply one print; returns candles that closed or were corrected by it (oldest first)."""
        if trade.symbol != self.symbol:
            raise WrongSymbolError(f"builder for {self.symbol} got {trade.symbol}")
        if trade.size <= 0:
            self.ignored += 1
            return []
        bucket = minute_start(trade.time)
        forming = self._forming
        if forming is None:
            if self.first_minute is None:
                self.first_minute = bucket
            elif bucket < self.first_minute or bucket in self._closed or self._is_closed(bucket):
                return self._late(bucket, trade)
            self._forming = _Agg.first(bucket, trade)
            return []
        if bucket == forming.time:
            forming.add(trade)
            return []
        if bucket > forming.time:
            closed = self._close_forming()
            self._forming = _Agg.first(bucket, trade)
            return [closed]
        return self._late(bucket, trade)

    def close_until(self, exchange_now: datetime) -> list[Candle]:
        """Close the forming minute if it ended by `exchange_now` (call on a timer)."""
        if self._forming is not None and self._forming.time + ONE_MINUTE <= exchange_now:
            return [self._close_forming()]
        return []

    def current(self) -> Candle | None:
        """The forming (not yet closed) minute, if any."""
        return self._forming.candle(self.symbol, self.source) if self._forming else None

    def closed(self) -> list[Candle]:
        """Remembered closed minutes, oldest first (latest versions)."""
        return [a.candle(self.symbol, self.source) for a in self._closed.values()]

    def _is_closed(self, bucket: datetime) -> bool:
        # With nothing forming, a minute at or before the newest closed one is already closed.
        return bool(self._closed) and bucket <= next(reversed(self._closed))

    def _close_forming(self) -> Candle:
        agg = self._forming
        assert agg is not None
        self._forming = None
        self._remember(agg)
        return agg.candle(self.symbol, self.source)

    def _remember(self, agg: _Agg) -> None:
        self._closed[agg.time] = agg
        self._closed.move_to_end(agg.time)
        while len(self._closed) > self.keep_closed:
            self._closed.popitem(last=False)

    def _late(self, bucket: datetime, trade: Trade) -> list[Candle]:
        agg = self._closed.get(bucket)
        if agg is not None:
            agg.add(trade)
            return [agg.candle(self.symbol, self.source)]
        oldest = next(iter(self._closed), None)
        horizon = oldest if len(self._closed) >= self.keep_closed else self.first_minute
        if horizon is None or bucket < horizon:
            self.dropped_late += 1
            return []
        # A minute we saw no print for, now closed: a new row for it.
        agg = _Agg.first(bucket, trade)
        self._closed[bucket] = agg
        self._closed = OrderedDict(sorted(self._closed.items()))
        while len(self._closed) > self.keep_closed:
            self._closed.popitem(last=False)
        return [agg.candle(self.symbol, self.source)]
