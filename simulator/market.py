"""The simulated market: every symbol's generator, the index computation and the RECORD.

`step()` advances the market by one generator step and returns what happened as emissions
(tr_id, tr_key, items); the server encodes only what someone subscribed to. The record of every
generated trade and of 1m candles (by exchange time) is kept whether or not anything was sent,
so tests can compare what they stored with what the exchange "printed".
"""
from __future__ import annotations

import math
import random
import threading
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from backbone import symbols as universe

from .clock import SimClock, previous_trading_day
from .config import SimulatorConfig
from .history import daily_bar
from .krx import KrxSymbolMarket, Print
from .overseas import OverseasSymbolMarket


class Emission(NamedTuple):
    tr_id: str
    key: str
    items: list[Any]


class TradeRecord(NamedTuple):
    time: datetime
    price: int
    size: int
    side: str
    large: bool


@dataclass(slots=True)
class IndexSnap:
    code: str
    time: datetime
    value: Decimal
    prev: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    acml_vol: int  # thousand shares
    acml_value: int  # million won
    pcas_vol: int
    pcas_value: int
    up: int
    down: int
    unch: int
    uplimit: int
    downlimit: int


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Market:
    def __init__(self, config: SimulatorConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.rng = random.Random(config.seed)
        self._lock = threading.Lock()
        now = clock.now()
        session = clock.session_date(now)
        codes = config.symbols or tuple(universe.SYMBOLS)
        self.krx: dict[str, KrxSymbolMarket] = {}
        self.overseas: dict[str, OverseasSymbolMarket] = {}
        for code in codes:
            sym = universe.get(code)
            if sym is None:
                raise ValueError(f"unknown symbol {code}")
            sub_rng = random.Random(f"{config.seed}:{sym.code}")
            if sym.is_domestic:
                prev_close = daily_bar(config.seed, sym, previous_trading_day(session))[3]
                self.krx[sym.code] = KrxSymbolMarket(sym, sub_rng, prev_close, session,
                                                     config.large_print_prob, config.large_print_mult)
            else:
                self.overseas[sym.code] = OverseasSymbolMarket(sym, sub_rng)
        self.trades: dict[str, deque[TradeRecord]] = {
            c: deque(maxlen=config.record_trades_limit) for c in self.krx}
        self.candles: dict[str, dict[datetime, list[int]]] = {c: {} for c in self.krx}
        self.finished_days: dict[str, dict[date, tuple]] = {c: {} for c in self.krx}
        self.trades_generated = 0
        self._index_day: dict[str, tuple[date, Decimal, Decimal, Decimal]] = {}
        self._index_acc = 0.0
        self._was_open: bool | None = None
        self._session_seen = clock.session_date(now)
        self._pending: list[Emission] = []

    # ---- control
    def set_halt(self, code: str, halted: bool) -> None:
        m = self.krx[code]
        m.halted = halted
        self._pending.append(Emission("H0STMKO0", code, [m.status(self._mkop())]))

    def _mkop(self) -> str:
        return "112" if self._was_open else "129"

    # ---- generation
    def step(self, dt: float) -> list[Emission]:
        now = self.clock.now()
        out, self._pending = self._pending, []
        is_open = self.clock.krx_open(now)
        if is_open != self._was_open:
            self._was_open = is_open
            mkop = self._mkop()
            out += [Emission("H0STMKO0", c, [m.status(mkop)]) for c, m in self.krx.items()]
        session = self.clock.session_date(now)
        if session != self._session_seen and is_open and self._was_open:
            # the session clock jumped from one day's close to the next day's open: say so
            out += [Emission("H0STMKO0", c, [m.status(k)]) for k in ("129", "112") for c, m in self.krx.items()]
        self._session_seen = session
        for code, m in self.krx.items():
            if m.session != session:
                with self._lock:
                    done = m.roll_day(session)
                    if done:
                        self.finished_days[code][done[0]] = done[1:]
            if not is_open or m.halted:
                continue
            n = min(999, poisson(m.rng, self.config.rate_for(code) * dt))  # NNN has 3 digits
            if n:
                prints = [m.trade(now) for _ in range(n)]
                self._record(code, prints)
                out.append(Emission("H0STCNT0", code, prints))
                out.append(Emission("H0STASP0", code, [m.book(now)]))
            elif m.rng.random() < self.config.book_rate * dt:
                m.jitter_book()
                out.append(Emission("H0STASP0", code, [m.book(now)]))
        for code, om in self.overseas.items():
            sym = om.sym
            if not self.clock.venue_open(sym.calendar, sym.timezone, now):
                continue
            n = min(999, poisson(om.rng, self.config.rate_for(code) * dt))
            if n:
                out.append(Emission("HDFSCNT0", code, [om.trade(now) for _ in range(n)]))
                levels = 10 if sym.market in (universe.NASDAQ, universe.NYSE) else 1
                out.append(Emission("HDFSASP0" if levels == 10 else "HDFSASP1", code, [om.book(now, levels)]))
        self._index_acc += dt * self.config.index_rate
        if is_open and self._index_acc >= 1.0:
            self._index_acc = 0.0
            for code in universe.INDICES:
                snap = self.index_snapshot(code, now)
                if snap is not None:
                    out.append(Emission("H0UPCNT0", code, [snap]))
        return out

    def _record(self, code: str, prints: list[Print]) -> None:
        with self._lock:
            self.trades_generated += len(prints)
            rec, candles = self.trades[code], self.candles[code]
            for p in prints:
                rec.append(TradeRecord(p.time, p.price, p.size, p.side, p.large))
                minute = p.time.replace(second=0, microsecond=0)
                c = candles.get(minute)
                if c is None:
                    candles[minute] = [p.price, p.price, p.price, p.price, p.size, p.price * p.size, 1]
                else:
                    c[1] = max(c[1], p.price)
                    c[2] = min(c[2], p.price)
                    c[3] = p.price
                    c[4] += p.size
                    c[5] += p.price * p.size
                    c[6] += 1

    def index_snapshot(self, code: str, now: datetime) -> IndexSnap | None:
        idx = universe.INDICES[code]
        members = [self.krx[c] for c in idx.members if c in self.krx]
        if not members:
            return None
        cap = sum(m.last * m.sym.listed_shares for m in members)
        prev_cap = sum(m.prev_close * m.sym.listed_shares for m in members)
        value = (idx.base_value * cap / prev_cap).quantize(Decimal("0.01"))
        day = self.clock.session_date(now)
        d0, o, h, lo = self._index_day.get(code, (None, value, value, value))
        if d0 != day:
            o = h = lo = value
        h, lo = max(h, value), min(lo, value)
        self._index_day[code] = (day, o, h, lo)
        vol = sum(m.acml_vol for m in members)
        val = sum(m.acml_value for m in members)
        up = sum(1 for m in members if m.last > m.prev_close)
        down = sum(1 for m in members if m.last < m.prev_close)
        return IndexSnap(code, now, value, idx.base_value, o, h, lo, vol // 1000, val // 1_000_000, 0, 0,
                         up, down, len(members) - up - down,
                         sum(1 for m in members if m.last >= m.upper),
                         sum(1 for m in members if m.last <= m.lower))

    # ---- record access (thread-safe)
    def candle_list(self, code: str, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
        with self._lock:
            items = list(self.candles.get(code, {}).items())
        return [{"time": t.isoformat(), "open": c[0], "high": c[1], "low": c[2], "close": c[3],
                 "volume": c[4], "value": c[5], "trades": c[6]}
                for t, c in items if (start is None or t >= start) and (end is None or t < end)]

    def trade_list(self, code: str) -> list[TradeRecord]:
        with self._lock:
            return list(self.trades.get(code, ()))

    def minute_bars(self, code: str, day: date, until: datetime) -> list[tuple[datetime, list[int]]]:
        """Bars of `day` starting at or before `until`, newest first."""
        with self._lock:
            items = [(t, list(c)) for t, c in self.candles.get(code, {}).items()
                     if t.date() == day and t <= until]
        return sorted(items, key=lambda x: x[0], reverse=True)

    def daily_bars(self, code: str, first: date, last: date, max_rows: int = 100) -> list[tuple[date, tuple]]:
        """Daily (o, h, l, c, vol, value) from first..last (trading days only), newest first."""
        from .clock import is_trading_day

        m = self.krx[code]
        out: list[tuple[date, tuple]] = []
        d = min(last, m.session)
        while d >= first and len(out) < max_rows:
            if d == m.session:
                if m.acml_vol:
                    out.append((d, (m.open, m.high, m.low, m.last, m.acml_vol, m.acml_value)))
            elif is_trading_day(d):
                out.append((d, self.finished_days[code].get(d) or daily_bar(self.config.seed, m.sym, d)))
            d -= timedelta(days=1)
        return out


def aggregate_period(bars_desc: list[tuple[date, tuple]], period: str) -> list[tuple[date, tuple]]:
    """Daily bars (newest first) -> W/M/Y bars dated by their last trading day (D: unchanged)."""
    if period not in ("W", "M", "Y"):
        return bars_desc
    groups: dict[tuple, list] = {}
    for d, (o, h, lo, c, v, val) in bars_desc:
        key = d.isocalendar()[:2] if period == "W" else (d.year, d.month) if period == "M" else (d.year,)
        g = groups.get(key)
        if g is None:  # newest day of the period: its date and close
            groups[key] = [d, o, h, lo, c, v, val]
        else:  # older day: its open, extend the range, add volume
            g[1], g[2], g[3], g[5], g[6] = o, max(g[2], h), min(g[3], lo), g[5] + v, g[6] + val
    return [(g[0], tuple(g[1:])) for g in groups.values()]
