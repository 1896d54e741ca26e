"""One KRX symbol's simulated market: a random walk on the tick grid with a consistent book.

Buy prints execute at ask1 and sell prints at bid1; the 10-level book is always on the grid inside
the daily limits. ACML_VOL / ACML_TR_PBMN accumulate CNTG_VOL / price*volume and reset when the
session date changes (the previous close becomes the new reference price).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from backbone.symbols import Symbol

from . import ticks


@dataclass(slots=True)
class Print:
    """One generated KRX execution plus the market state right after it (what H0STCNT0 carries)."""

    code: str
    time: datetime
    price: int
    size: int
    side: str  # CCLD_DVSN: "1" buy (at ask1), "5" sell (at bid1)
    ask1: int
    bid1: int
    acml_vol: int
    acml_value: int
    open: int
    high: int
    low: int
    open_time: str
    high_time: str
    low_time: str
    prev_close: int
    prev_vol: int
    seln_cnt: int
    shnu_cnt: int
    seln_vol: int
    shnu_vol: int
    ask_rsqn1: int
    bid_rsqn1: int
    total_ask: int
    total_bid: int
    listed_shares: int
    large: bool = False


@dataclass(slots=True)
class BookSnap:
    code: str
    time: datetime
    asks: list[tuple[int, int]]  # (price, size), best first; (0, 0) beyond the limit
    bids: list[tuple[int, int]]
    acml_vol: int
    prev_close: int
    total_ask_icdc: int
    total_bid_icdc: int


@dataclass(slots=True)
class Status:
    """H0STMKO0 content for one symbol."""

    code: str
    halted: bool
    reason: str
    mkop: str  # MKOP_CLS_CODE
    antc_mkop: str
    stat: str  # ISCD_STAT_CLS_CODE


class KrxSymbolMarket:
    def __init__(self, sym: Symbol, rng: random.Random, prev_close: int, session: date,
                 large_prob: float, large_mult: tuple[float, float]) -> None:
        self.sym = sym
        self.rng = rng
        self.large_prob = large_prob
        self.large_mult = large_mult
        self.halted = False
        self.prev_vol = 0
        self._new_day(prev_close, session)

    # ---- session day
    def _new_day(self, prev_close: int, session: date) -> None:
        self.session = session
        self.prev_close = prev_close
        self.lower, self.upper = ticks.price_limits(prev_close)
        self.bid1 = ticks.floor_to_grid(prev_close)
        if self.bid1 >= self.upper:
            self.bid1 = ticks.down(self.upper)
        self.ask1 = ticks.up(self.bid1)
        self.open = self.high = self.low = 0
        self.open_time = self.high_time = self.low_time = ""
        self.acml_vol = self.acml_value = 0
        self.seln_cnt = self.shnu_cnt = self.seln_vol = self.shnu_vol = 0
        self.last = prev_close
        lot = self.lot()
        self.ask_sizes = [self._level_size(lot) for _ in range(10)]
        self.bid_sizes = [self._level_size(lot) for _ in range(10)]
        self._last_totals = (sum(self.ask_sizes), sum(self.bid_sizes))

    def roll_day(self, session: date) -> tuple[date, int, int, int, int, int, int] | None:
        """Start a new session day; returns the finished day's (date, o, h, l, c, vol, value)."""
        done = None
        if self.acml_vol:
            done = (self.session, self.open, self.high, self.low, self.last, self.acml_vol, self.acml_value)
            self.prev_vol = self.acml_vol
        self._new_day(self.last, session)
        return done

    # ---- sizes
    def lot(self) -> int:
        """Typical print size: about 5 M won per print, at least one share."""
        return max(1, min(2000, 5_000_000 // max(self.last, 1)))

    def _level_size(self, lot: int) -> int:
        return max(1, int(self.rng.expovariate(1.0 / (lot * 20))))

    # ---- generation
    def trade(self, now: datetime) -> Print:
        rng = self.rng
        buy = rng.random() < 0.5
        price = self.ask1 if buy else self.bid1
        lot = self.lot()
        size = max(1, int(rng.expovariate(1.0 / lot)))
        large = rng.random() < self.large_prob
        if large:
            size = int(lot * rng.uniform(*self.large_mult))
        hhmmss = now.strftime("%H%M%S")
        self.last = price
        if not self.open:
            self.open, self.open_time = price, hhmmss
        if price > self.high or not self.high:
            self.high, self.high_time = price, hhmmss
        if price < self.low or not self.low:
            self.low, self.low_time = price, hhmmss
        self.acml_vol += size
        self.acml_value += price * size
        if buy:
            self.shnu_cnt += 1
            self.shnu_vol += size
            self.ask_sizes[0] -= size
        else:
            self.seln_cnt += 1
            self.seln_vol += size
            self.bid_sizes[0] -= size
        p = Print(self.sym.code, now, price, size, "1" if buy else "5", self.ask1, self.bid1,
                  self.acml_vol, self.acml_value, self.open, self.high, self.low, self.open_time,
                  self.high_time, self.low_time, self.prev_close, self.prev_vol, self.seln_cnt,
                  self.shnu_cnt, self.seln_vol, self.shnu_vol, max(self.ask_sizes[0], 0),
                  max(self.bid_sizes[0], 0), 0, 0, self.sym.listed_shares, large)
        self._after_trade(buy, large)
        p.total_ask, p.total_bid = sum(max(s, 0) for s in self.ask_sizes), sum(max(s, 0) for s in self.bid_sizes)
        return p

    def _after_trade(self, buy: bool, large: bool) -> None:
        """Price impact: a consumed level or a random step moves the book one tick."""
        rng = self.rng
        lot = self.lot()
        exhausted = self.ask_sizes[0] <= 0 if buy else self.bid_sizes[0] <= 0
        if exhausted or large or rng.random() < 0.25:
            self._shift(+1 if buy else -1)
        elif rng.random() < 0.05:
            self._shift(-1 if buy else +1)
        for sizes in (self.ask_sizes, self.bid_sizes):
            if sizes[0] <= 0:
                sizes[0] = self._level_size(lot)

    def _shift(self, direction: int) -> None:
        lot = self.lot()
        if direction > 0 and self.ask1 < self.upper:
            self.bid1, self.ask1 = self.ask1, ticks.up(self.ask1)
            self.bid_sizes = [self._level_size(lot)] + self.bid_sizes[:9]
            self.ask_sizes = self.ask_sizes[1:] + [self._level_size(lot)]
        elif direction < 0 and self.bid1 > self.lower:
            self.ask1, self.bid1 = self.bid1, ticks.down(self.bid1)
            self.ask_sizes = [self._level_size(lot)] + self.ask_sizes[:9]
            self.bid_sizes = self.bid_sizes[1:] + [self._level_size(lot)]

    def jitter_book(self) -> None:
        """A book-only update: resize a few levels."""
        lot = self.lot()
        for _ in range(3):
            i = self.rng.randrange(10)
            side = self.ask_sizes if self.rng.random() < 0.5 else self.bid_sizes
            side[i] = self._level_size(lot)

    def book(self, now: datetime) -> BookSnap:
        asks, bids = [], []
        p = self.ask1
        for i in range(10):
            asks.append((p, max(self.ask_sizes[i], 1)) if p <= self.upper else (0, 0))
            p = ticks.up(p)
        p = self.bid1
        for i in range(10):
            bids.append((p, max(self.bid_sizes[i], 1)) if p >= self.lower and p > 0 else (0, 0))
            p = ticks.down(p) if p > 1 else 0
        ta, tb = sum(s for _, s in asks), sum(s for _, s in bids)
        icdc = (ta - self._last_totals[0], tb - self._last_totals[1])
        self._last_totals = (ta, tb)
        return BookSnap(self.sym.code, now, asks, bids, self.acml_vol, self.prev_close, *icdc)

    def status(self, mkop: str) -> Status:
        if self.halted:
            return Status(self.sym.code, True, "거래정지", mkop, "", "58")
        return Status(self.sym.code, False, "(null)", mkop, "", "00")
