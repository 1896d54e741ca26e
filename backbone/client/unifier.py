"""DataUnifier (seed 004): the stream's trade, the API's live state and KIS REST's current price
become one TickerData; consistency checks flag suspicious data instead of passing it on silently.

Checks:
- price > 0 and within the day's price limits: KRX's +-30 % of the previous close (REST gives the
  limits themselves, stck_mxpr / stck_llam; elsewhere previous close = price - change);
- cumulative volume never goes backwards within a day, per symbol, source and path.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from .models import TickerData

log = logging.getLogger("backbone.client")
DAILY_LIMIT = 0.30

FLAG_BAD_PRICE = "non_positive_price"
FLAG_LIMITS = "price_outside_daily_limits"
FLAG_VOLUME = "cum_volume_decreased"
FLAG_MALFORMED = "malformed_field"


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool) or v == "":
        return None
    try:
        return float(Decimal(str(v)))
    except (InvalidOperation, ValueError):
        return None


def _int(v: Any) -> int | None:
    n = _num(v)
    return int(n) if n is not None else None


def _time(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v
    try:
        return datetime.fromisoformat(v) if isinstance(v, str) and v else None
    except ValueError:
        return None


class DataUnifier:
    def __init__(self, daily_limit: float = DAILY_LIMIT) -> None:
        self.daily_limit = daily_limit
        # (symbol, source, via) -> (day, volume): an HTTP read may lag the stream, so paths are apart
        self._last_volume: dict[tuple[str, str, str], tuple[Any, int]] = {}
        self.suspicious = 0

    # ------------------------------------------------------------------ shapes -> TickerData
    def from_stream_trade(self, data: dict, *, seq: int | None = None, epoch: str | None = None,
                          received_ns: int | None = None) -> TickerData:
        """A `trade` message's data (backbone.router_core.trade_data) from this client's socket."""
        return self._finish(data, "websocket", "stream", seq=seq, epoch=epoch, received_ns=received_ns)

    def from_api(self, body: dict, *, cached: bool = False) -> TickerData:
        """An /api/ticker answer: {"symbol", "source": "websocket"|"rest", "data"}."""
        data = body.get("data") or {}
        source = "rest" if body.get("source") == "rest" else "websocket"
        if source == "rest":
            data = {"symbol": body.get("symbol"), "price": data.get("stck_prpr"), "change": data.get("prdy_vrss"),
                    "change_rate": data.get("prdy_ctrt"), "cum_volume": data.get("acml_vol"),
                    "cum_value": data.get("acml_tr_pbmn"), "upper_limit": data.get("stck_mxpr"),
                    "lower_limit": data.get("stck_llam"), "base_price": data.get("stck_sdpr")}
        else:
            data = {"symbol": body.get("symbol"), **data}
        return self._finish(data, source, "http", cached=cached, received_ns=time.time_ns())

    # ------------------------------------------------------------------ checks
    def _finish(self, d: dict, source: Literal["websocket", "rest"], via: Literal["stream", "http"],
                **meta: Any) -> TickerData:
        flags: list[str] = []
        symbol = str(d.get("symbol") or "")
        price = _num(d.get("price"))
        if price is None:
            flags.append(FLAG_MALFORMED)
            price = 0.0
        change = _num(d.get("change"))
        volume = _int(d.get("cum_volume"))
        t = _time(d.get("time"))
        if price <= 0:
            flags.append(FLAG_BAD_PRICE)
        else:
            lo, hi = self._limits(price, change, d)
            if lo is not None and not (lo <= price <= hi):
                flags.append(FLAG_LIMITS)
        if volume is not None:
            key, day = (symbol, source, via), (t.date() if t else None)
            prev = self._last_volume.get(key)
            if prev is not None and (day is None or prev[0] is None or prev[0] == day) and volume < prev[1]:
                flags.append(FLAG_VOLUME)
            # always advance: one bad reading is flagged once, a new day's reset does not stick
            self._last_volume[key] = (day, volume)
        if flags:
            self.suspicious += 1
            log.warning("suspicious ticker for %s from %s: %s", symbol, source, ", ".join(flags))
        return TickerData(symbol=symbol, current_price=price, change_price=change,
                          change_rate=_num(d.get("change_rate")), volume=volume, trade_volume=_int(d.get("size")),
                          trade_value=_int(d.get("cum_value")), time=t, source=source, via=via,
                          suspicious=bool(flags), flags=tuple(flags), **meta)

    def _limits(self, price: float, change: float | None, d: dict) -> tuple[float | None, float | None]:
        lo, hi = _num(d.get("lower_limit")), _num(d.get("upper_limit"))
        if lo and hi:
            return lo, hi
        base = _num(d.get("base_price")) or (price - change if change is not None else None)
        if not base or base <= 0:
            return None, None
        # KRX rounds the limits to the tick; a tiny tolerance keeps a limit-up print inside.
        return base * (1 - self.daily_limit) * 0.999, base * (1 + self.daily_limit) * 1.001
