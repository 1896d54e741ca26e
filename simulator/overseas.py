"""Overseas symbols (HDFSCNT0 trades, HDFSASP0 US 10-level books, HDFSASP1 Asia 1-level books)."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from backbone.symbols import Symbol

CENT = Decimal("0.01")


@dataclass(slots=True)
class OvPrint:
    code: str  # RSYM, e.g. DNASAAPL
    ticker: str
    local: datetime  # venue-local time
    price: Decimal
    size: int
    open: Decimal
    high: Decimal
    low: Decimal
    prev_close: Decimal
    bid: Decimal
    ask: Decimal
    bid_size: int
    ask_size: int
    tvol: int
    tamt: Decimal
    sell_vol: int
    buy_vol: int


@dataclass(slots=True)
class OvBook:
    code: str
    ticker: str
    local: datetime
    bids: list[tuple[Decimal, int]]
    asks: list[tuple[Decimal, int]]


class OverseasSymbolMarket:
    def __init__(self, sym: Symbol, rng: random.Random) -> None:
        self.sym = sym
        self.rng = rng
        self.tz = ZoneInfo(sym.timezone)
        self.prev_close = sym.ref_price.quantize(CENT)
        self.bid = self.prev_close
        self.open = self.high = self.low = Decimal(0)
        self.tvol, self.tamt = 0, Decimal(0)
        self.sell_vol = self.buy_vol = 0
        self.day = None

    def trade(self, now: datetime) -> OvPrint:
        local = now.astimezone(self.tz)
        if self.day != local.date():
            if self.day is not None and self.tvol:
                self.prev_close = self.bid
            self.day = local.date()
            self.open = self.high = self.low = Decimal(0)
            self.tvol, self.tamt, self.sell_vol, self.buy_vol = 0, Decimal(0), 0, 0
        rng = self.rng
        ask = self.bid + CENT
        buy = rng.random() < 0.5
        price = ask if buy else self.bid
        size = max(1, int(rng.expovariate(1 / 80)))
        if not self.open:
            self.open = price
        self.high = max(self.high, price)
        self.low = price if not self.low else min(self.low, price)
        self.tvol += size
        self.tamt += price * size
        if buy:
            self.buy_vol += size
        else:
            self.sell_vol += size
        p = OvPrint(self.sym.code, self.sym.ticker, local, price, size, self.open, self.high, self.low,
                    self.prev_close, self.bid, ask, rng.randint(1, 900), rng.randint(1, 900),
                    self.tvol, self.tamt, self.sell_vol, self.buy_vol)
        r = rng.random()
        if r < 0.2:
            self.bid += CENT
        elif r < 0.4 and self.bid > CENT:
            self.bid -= CENT
        return p

    def book(self, now: datetime, levels: int) -> OvBook:
        local = now.astimezone(self.tz)
        bids = [(self.bid - CENT * i, self.rng.randint(1, 2000)) for i in range(levels)]
        asks = [(self.bid + CENT * (i + 1), self.rng.randint(1, 2000)) for i in range(levels)]
        return OvBook(self.sym.code, self.sym.ticker, local, bids, asks)
