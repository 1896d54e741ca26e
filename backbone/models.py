"""Domain records shared by the router, the candle writer, the API and the jobs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bucket. `time` is the bucket start (aware). Prices exact (int won for KRX).

    `source` says where the row came from: "live" (built from the stream), "rest" (repaired or
    backfilled from the KIS minute chart), "sim" (simulator record), "import".
    """

    symbol: str
    interval: str  # "1m", "5m", "15m", "1h", "1d"
    time: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int = 0  # traded value (won)
    trades: int = 0  # number of prints
    source: str = "live"
