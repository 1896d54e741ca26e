"""Integrity checks for exported candles (pure core: polars frames in, a report out).

Per symbol, over the rows in the order they were read:
- duplicates: more than one row for the same (symbol, time)
- ohlc: rows where low > min(open, close), high < max(open, close), a price <= 0 or volume < 0
- non_monotonic: rows whose time is not strictly after the previous row's
- missing: calendar buckets in the requested range without a row (gaps against the calendar)
- off_calendar: rows at a time that is not a bucket of the calendar (outside sessions)
- filled: rows produced by gap fill (source "fill"), reported as a share
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import polars as pl


@dataclass
class SymbolIntegrity:
    symbol: str
    rows: int = 0
    duplicates: int = 0
    ohlc: int = 0
    non_monotonic: int = 0
    expected: int = 0
    missing: int = 0
    off_calendar: int = 0
    filled: int = 0
    first_missing: list[str] = field(default_factory=list)  # up to 5 ISO times, for a look

    @property
    def filled_share(self) -> float:
        return self.filled / self.rows if self.rows else 0.0

    def problems(self) -> list[str]:
        out = [f"{name}={v}" for name in ("duplicates", "ohlc", "non_monotonic", "missing", "off_calendar")
               if (v := getattr(self, name))]
        return out


@dataclass
class IntegrityReport:
    interval: str
    start: str
    end: str
    symbols: list[SymbolIntegrity] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(s.problems() for s in self.symbols)

    def totals(self) -> dict:
        keys = ("rows", "duplicates", "ohlc", "non_monotonic", "expected", "missing", "off_calendar", "filled")
        t = {k: sum(getattr(s, k) for s in self.symbols) for k in keys}
        t["filled_share"] = t["filled"] / t["rows"] if t["rows"] else 0.0
        return t

    def to_dict(self) -> dict:
        return {"interval": self.interval, "start": self.start, "end": self.end, "ok": self.ok,
                "totals": self.totals(),
                "symbols": [dict(asdict(s), filled_share=s.filled_share, problems=s.problems())
                            for s in self.symbols]}


def check_symbol(symbol: str, frame: pl.DataFrame, expected_epochs: np.ndarray) -> SymbolIntegrity:
    """`frame`: one symbol's rows in read order, with time (datetime, UTC), open, high, low,
    close, volume, source. `expected_epochs`: the calendar's bucket starts in the range."""
    r = SymbolIntegrity(symbol, rows=frame.height, expected=int(len(expected_epochs)))
    if frame.height == 0:
        r.missing = r.expected
        r.first_missing = _iso(expected_epochs[:5])
        return r
    epochs = frame["time"].dt.epoch("s").to_numpy()
    r.duplicates = int(frame.height - np.unique(epochs).size)
    r.non_monotonic = int((np.diff(epochs) <= 0).sum())
    o, h, lo, c = (frame[k].cast(pl.Float64).to_numpy() for k in ("open", "high", "low", "close"))
    vol = frame["volume"].cast(pl.Float64).to_numpy()
    bad = (lo > np.minimum(o, c)) | (h < np.maximum(o, c)) | (lo > h) | \
        (np.minimum.reduce([o, h, lo, c]) <= 0) | (vol < 0) | ~np.isfinite(o + h + lo + c)
    r.ohlc = int(bad.sum())
    present = np.unique(epochs)
    exp = np.asarray(expected_epochs, dtype=np.int64)
    missing = np.setdiff1d(exp, present, assume_unique=True)
    r.missing = int(missing.size)
    r.first_missing = _iso(missing[:5])
    r.off_calendar = int(np.setdiff1d(present, exp, assume_unique=True).size)
    if "source" in frame.columns:
        r.filled = int((frame["source"] == "fill").sum())
    return r


def check_all(frames: dict[str, pl.DataFrame], expected_for: Callable[[str], np.ndarray], *,
              interval: str, start: str, end: str) -> IntegrityReport:
    rep = IntegrityReport(interval, start, end)
    for sym in sorted(frames):
        rep.symbols.append(check_symbol(sym, frames[sym], expected_for(sym)))
    return rep


def _iso(epochs) -> list[str]:
    return [np.datetime64(int(e), "s").astype(str) + "Z" for e in epochs]
