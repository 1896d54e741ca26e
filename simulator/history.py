"""Deterministic daily history for past days (FHKST03010100) and the previous close of day one.

A bar depends only on (seed, symbol, date), so any date range can be served without state and the
same call always returns the same numbers.
"""
from __future__ import annotations

import hashlib
import math
from datetime import date

from backbone.symbols import Symbol

from . import ticks


def _unit(seed: int, code: str, d: date, salt: str) -> float:
    h = hashlib.blake2b(f"{seed}|{code}|{d.isoformat()}|{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def _close(seed: int, sym: Symbol, d: date) -> int:
    phase = _unit(seed, sym.code, date(2000, 1, 1), "phase") * 2 * math.pi
    n = d.toordinal()
    level = 1 + 0.12 * math.sin(2 * math.pi * n / 180 + phase) + 0.05 * math.sin(2 * math.pi * n / 37 + phase)
    noise = 0.02 * (_unit(seed, sym.code, d, "c") - 0.5)
    return ticks.floor_to_grid(float(sym.ref_price) * (level + noise))


def daily_bar(seed: int, sym: Symbol, d: date) -> tuple[int, int, int, int, int, int]:
    """(open, high, low, close, volume, value) of a past KRX day, on the tick grid."""
    close = _close(seed, sym, d)
    open_ = ticks.floor_to_grid(close * (1 + 0.02 * (_unit(seed, sym.code, d, "o") - 0.5)))
    high = ticks.floor_to_grid(max(open_, close) * (1 + 0.015 * _unit(seed, sym.code, d, "h")))
    low = ticks.ceil_to_grid(min(open_, close) * (1 - 0.015 * _unit(seed, sym.code, d, "l")))
    high, low = max(high, open_, close), min(low, open_, close)
    volume = int(sym.listed_shares * (0.001 + 0.004 * _unit(seed, sym.code, d, "v")))
    return open_, high, low, close, volume, volume * (high + low) // 2
