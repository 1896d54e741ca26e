"""Whale ("세력 체결") detection: unusually large prints, merged into one alert per burst.

A print is a whale when
  - its notional price*size >= `notional_threshold` (reason "absolute"), or
  - after `warmup` prints of the symbol, its size >= the `quantile` of the symbol's last `window`
    sizes (computed BEFORE this print) and strictly above their median (reason "adaptive"). The
    median guard stops a symbol whose prints all have the same size from flagging every print.

Same-side whale prints no more than `merge_s` seconds (exchange time) after the previous one merge
into one alert. An alert is emitted when its burst ends: a later trade of the symbol more than
`merge_s` after the last merged print, an opposite-side whale, or `flush(now)`.

Auction prints (CCLD_DVSN 3: the opening/closing single-price match) are not aggressor flow and
would alert every morning; they are ignored (not alerted, not added to the size window).

Cost per trade: a bisect insert/delete into a sorted list of `window` ints (a memmove of a few KB)
plus O(1) quantile lookup.
"""
from __future__ import annotations

import bisect
import hashlib
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backbone.kis.events import Side, Trade


@dataclass(frozen=True, slots=True)
class WhaleAlert:
    alert_id: str  # deterministic: symbol + side + first print time + first print size
    symbol: str
    side: str  # "buy" | "sell" | "unknown"
    count: int
    total_size: int
    notional: int  # sum price*size (won)
    vwap: float
    first_time: datetime
    last_time: datetime
    max_print_size: int
    max_print_price: int
    reasons: tuple[str, ...]  # sorted subset of ("absolute", "adaptive")
    adaptive_threshold: int | None  # size threshold in force at the first print (None in warm-up)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "symbol": self.symbol, "side": self.side,
            "count": self.count, "total_size": self.total_size, "notional": self.notional,
            "vwap": self.vwap, "first_time": self.first_time.isoformat(),
            "last_time": self.last_time.isoformat(), "max_print_size": self.max_print_size,
            "max_print_price": self.max_print_price, "reasons": list(self.reasons),
            "adaptive_threshold": self.adaptive_threshold,
        }


def alert_id_for(symbol: str, side: str, first_time: datetime, first_size: int) -> str:
    """Stable id so a replay of the same prints yields the same alert (storage dedups on it)."""
    key = f"{symbol}|{side}|{first_time.isoformat()}|{first_size}"
    return hashlib.sha1(key.encode()).hexdigest()[:20]


@dataclass(slots=True)
class _Burst:
    symbol: str
    side: str
    first_time: datetime
    first_size: int
    last_time: datetime
    adaptive_threshold: int | None
    count: int = 0
    total_size: int = 0
    notional: int = 0
    max_size: int = 0
    max_price: int = 0
    reasons: set[str] = field(default_factory=set)

    def add(self, trade: Trade, reasons: set[str]) -> None:
        self.count += 1
        self.total_size += trade.size
        self.notional += trade.price * trade.size
        if trade.size > self.max_size:
            self.max_size, self.max_price = trade.size, trade.price
        self.last_time = max(self.last_time, trade.time)
        self.reasons |= reasons

    def alert(self) -> WhaleAlert:
        vwap = round(self.notional / self.total_size, 2) if self.total_size else 0.0
        return WhaleAlert(alert_id_for(self.symbol, self.side, self.first_time, self.first_size),
                          self.symbol, self.side, self.count, self.total_size, self.notional, vwap,
                          self.first_time, self.last_time, self.max_size, self.max_price,
                          tuple(sorted(self.reasons)), self.adaptive_threshold)


class _SizeWindow:
    """The last `window` sizes, kept both in arrival order and sorted."""

    __slots__ = ("window", "fifo", "ordered")

    def __init__(self, window: int) -> None:
        self.window = window
        self.fifo: deque[int] = deque()
        self.ordered: list[int] = []

    def add(self, size: int) -> None:
        self.fifo.append(size)
        bisect.insort(self.ordered, size)
        if len(self.fifo) > self.window:
            old = self.fifo.popleft()
            del self.ordered[bisect.bisect_left(self.ordered, old)]

    def quantile(self, q: float) -> int:
        """Nearest-rank quantile (an actual observed size)."""
        n = len(self.ordered)
        return self.ordered[min(n - 1, max(0, math.ceil(q * n) - 1))]

    def median(self) -> int:
        return self.quantile(0.5)


class WhaleDetector:
    """Per-symbol whale detection; one instance can serve one or many symbols."""

    def __init__(self, notional_threshold: int = 100_000_000, quantile: float = 0.99,
                 window: int = 2000, warmup: int = 200, merge_s: float = 1.0) -> None:
        if not 0 < quantile <= 1:
            raise ValueError("quantile must be in (0, 1]")
        if window < 1 or warmup < 1 or warmup > window:
            raise ValueError("need 1 <= warmup <= window")
        self.notional_threshold = notional_threshold
        self.quantile = quantile
        self.window = window
        self.warmup = warmup
        self.merge_s = merge_s
        self._sizes: dict[str, _SizeWindow] = {}
        self._open: dict[str, _Burst] = {}

    def adaptive_threshold(self, symbol: str) -> int | None:
        """Current adaptive size threshold for `symbol` (None while warming up)."""
        w = self._sizes.get(symbol)
        if w is None or len(w.fifo) < self.warmup:
            return None
        return w.quantile(self.quantile)

    def on_trade(self, trade: Trade) -> list[WhaleAlert]:
        """Feed one print; returns alerts whose burst just ended (usually [])."""
        if trade.size <= 0 or trade.side == Side.AUCTION:
            return []
        out: list[WhaleAlert] = []
        burst = self._open.get(trade.symbol)
        if burst is not None and self._gap_s(burst, trade.time) > self.merge_s:
            out.append(self._close(trade.symbol))
            burst = None

        window = self._sizes.get(trade.symbol)
        if window is None:
            window = self._sizes[trade.symbol] = _SizeWindow(self.window)
        threshold = self.adaptive_threshold(trade.symbol)
        reasons: set[str] = set()
        if trade.price * trade.size >= self.notional_threshold:
            reasons.add("absolute")
        if threshold is not None and trade.size >= threshold and trade.size > window.median():
            reasons.add("adaptive")
        window.add(trade.size)

        if reasons:
            side = trade.side.value
            if burst is not None and burst.side != side:
                out.append(self._close(trade.symbol))
                burst = None
            if burst is None:
                burst = self._open[trade.symbol] = _Burst(trade.symbol, side, trade.time,
                                                          trade.size, trade.time, threshold)
            burst.add(trade, reasons)
        return out

    def flush(self, now: datetime, force: bool = False) -> list[WhaleAlert]:
        """Emit bursts that ended by `now` (more than merge_s since their last print); all if force."""
        done = [s for s, b in self._open.items() if force or self._gap_s(b, now) > self.merge_s]
        return [self._close(s) for s in done]

    def pending(self) -> int:
        """Number of bursts still open."""
        return len(self._open)

    def _close(self, symbol: str) -> WhaleAlert:
        return self._open.pop(symbol).alert()

    @staticmethod
    def _gap_s(burst: _Burst, t: datetime) -> float:
        return (t - burst.last_time).total_seconds()
