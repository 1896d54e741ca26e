"""Sector aggregation (pure core): per-sector change, breadth and top movers from latest prices.

Inputs are a symbol master grouped by sector and a `Quote` (latest price, previous close) per
symbol, from whatever implements `LatestPrices` (in production: the routers, one batched call
per router group; in tests: a dict). Changes are percent vs the previous close.

- equal-weighted change: mean of members' changes.
- value-weighted change: members weighted by market value at the previous close
  (prev_close x listed shares) = the change of the sector's total market value.
- advancers / decliners / unchanged: price above / below / equal to the previous close.
Members without a usable quote count in `symbols` but not in `priced`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Protocol, Sequence


@dataclass(frozen=True, slots=True)
class Member:
    symbol: str
    name: str
    listed_shares: int


@dataclass(frozen=True, slots=True)
class Quote:
    price: float
    prev_close: float

    @property
    def change_pct(self) -> float:
        return (self.price / self.prev_close - 1.0) * 100.0


class LatestPrices(Protocol):
    """Source of latest quotes. Implementations fetch many symbols per call (never one remote
    call per symbol per cycle) and leave out symbols they have no price for."""

    def latest(self, symbols: Sequence[str]) -> dict[str, Quote]: ...


class StaticPrices:
    """A LatestPrices over a fixed mapping (tests, benchmarks, replays)."""

    def __init__(self, quotes: Mapping[str, Quote]) -> None:
        self._q = dict(quotes)

    def latest(self, symbols: Sequence[str]) -> dict[str, Quote]:
        return {s: self._q[s] for s in symbols if s in self._q}


def quote_from_router_latest(latest: Mapping | None) -> Quote | None:
    """A Quote from a router's `latest()` answer: last trade price and its change vs the
    previous close (KIS PRDY_VRSS), so prev_close = price - change; or a flat
    {"price", "prev_close"} answer (a cheaper latest-price call). None when unusable."""
    if not isinstance(latest, Mapping):
        return None
    try:
        if latest.get("price") is not None and latest.get("prev_close") is not None:
            price = float(Decimal(str(latest["price"])))  # a flat {price, prev_close} answer
            prev = float(Decimal(str(latest["prev_close"])))
        else:
            trade = latest.get("trade")
            if not trade:
                return None
            price = float(Decimal(str(trade["price"])))
            prev = price - float(Decimal(str(trade.get("change", 0) or 0)))
    except (KeyError, ArithmeticError, ValueError, TypeError):
        return None
    if not (math.isfinite(price) and price > 0 and prev > 0):
        return None
    return Quote(price, prev)


@dataclass(frozen=True, slots=True)
class Mover:
    symbol: str
    name: str
    price: float
    change_pct: float

    def as_dict(self) -> dict:
        return {"symbol": self.symbol, "name": self.name, "price": self.price,
                "change_pct": round(self.change_pct, 4)}


@dataclass(frozen=True, slots=True)
class SectorSnapshot:
    sector: str
    symbols: int
    priced: int
    equal_weighted_change: float | None
    value_weighted_change: float | None
    advancers: int
    decliners: int
    unchanged: int
    top_gainers: tuple[Mover, ...]
    top_losers: tuple[Mover, ...]

    def as_dict(self) -> dict:
        return {"sector": self.sector, "symbols": self.symbols, "priced": self.priced,
                "equal_weighted_change": self.equal_weighted_change,
                "value_weighted_change": self.value_weighted_change,
                "advancers": self.advancers, "decliners": self.decliners,
                "unchanged": self.unchanged,
                "top_gainers": [m.as_dict() for m in self.top_gainers],
                "top_losers": [m.as_dict() for m in self.top_losers]}


def _usable(q: Quote | None) -> bool:
    return q is not None and q.prev_close > 0 and q.price > 0 and math.isfinite(q.price) \
        and math.isfinite(q.prev_close)


def aggregate_sector(sector: str, members: Sequence[Member], quotes: Mapping[str, Quote],
                     top_n: int = 3) -> SectorSnapshot:
    movers, weights = [], []
    adv = dec = unch = 0
    for m in members:
        q = quotes.get(m.symbol)
        if not _usable(q):
            continue
        chg = q.change_pct
        movers.append(Mover(m.symbol, m.name, q.price, chg))
        weights.append(q.prev_close * max(m.listed_shares, 0))
        if q.price > q.prev_close:
            adv += 1
        elif q.price < q.prev_close:
            dec += 1
        else:
            unch += 1
    ew = vw = None
    if movers:
        ew = sum(x.change_pct for x in movers) / len(movers)
        total = sum(weights)
        vw = sum(w * x.change_pct for w, x in zip(weights, movers)) / total if total > 0 else None
    gainers = tuple(sorted((x for x in movers if x.change_pct > 0),
                           key=lambda x: (-x.change_pct, x.symbol))[:top_n])
    losers = tuple(sorted((x for x in movers if x.change_pct < 0),
                          key=lambda x: (x.change_pct, x.symbol))[:top_n])
    return SectorSnapshot(sector, len(members), len(movers), ew, vw, adv, dec, unch, gainers, losers)


def members_by_sector(symbols) -> dict[str, tuple[Member, ...]]:
    """Group symbol-master records (anything with code, name, sector, listed_shares)."""
    out: dict[str, list[Member]] = {}
    for s in symbols:
        out.setdefault(s.sector or "기타", []).append(Member(s.code, s.name, int(s.listed_shares or 0)))
    return {k: tuple(v) for k, v in out.items()}


def channel_message(when_iso: str, snapshots: Sequence[SectorSnapshot]) -> dict:
    """The `data` of a `sector` message on the `sectors` WebSocket channel."""
    return {"time": when_iso, "sectors": [s.as_dict() for s in snapshots]}


def next_tick(period_s: float, anchor: float, now: float) -> tuple[float, int]:
    """Next start time on the grid anchor + i * period strictly after `now`, and how many grid
    ticks were missed since the last one (> 0 means the previous cycle overran: those ticks
    are skipped, never run late one after another)."""
    if period_s <= 0:
        raise ValueError("period must be positive")
    elapsed = max(now - anchor, 0.0)
    i = math.floor(elapsed / period_s) + 1
    return anchor + i * period_s, i - 1
