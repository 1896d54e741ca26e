"""One deterministic dataset for both backends, and an independent Python aggregation to check
the aggregates against. Spans the KST midnight (15:00 UTC) so the 1d level splits."""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from backbone.models import Candle

KST = ZoneInfo("Asia/Seoul")
UTC = timezone.utc
START = datetime(2026, 11, 19, 13, 30, tzinfo=UTC)  # 22:30 KST
MINUTES = 120  # to 00:30 KST next day
SYMBOLS = ("005930", "000660", "035420")
WIDTHS = {"5m": timedelta(minutes=5), "15m": timedelta(minutes=15), "1h": timedelta(hours=1)}
VIEWS = {"5m": "market_candles_5m", "15m": "market_candles_15m", "1h": "market_candles_1h",
         "1d": "market_candles_1d"}


def candle(symbol: str, t: datetime, seed: int, source: str = "live") -> Candle:
    rng = random.Random(f"{symbol}-{t.isoformat()}-{seed}")
    o = rng.randint(50_000, 60_000)
    c = rng.randint(50_000, 60_000)
    h = max(o, c) + rng.randint(0, 300)
    lo = min(o, c) - rng.randint(0, 300)
    v = rng.randint(1, 5_000)
    return Candle(symbol, "1m", t, o, h, lo, c, v, value=v * c, trades=rng.randint(1, 50), source=source)


def base_rows(start: datetime = START, minutes: int = MINUTES, symbols=SYMBOLS) -> list[Candle]:
    return [candle(s, start + timedelta(minutes=i), 0) for i in range(minutes) for s in symbols]


def bucket(t: datetime, level: str) -> datetime:
    if level == "1d":
        local = t.astimezone(KST)
        return datetime(local.year, local.month, local.day, tzinfo=KST).astimezone(UTC)
    w = WIDTHS[level]
    epoch = datetime(2000, 1, 3, tzinfo=UTC)
    return epoch + ((t - epoch) // w) * w


def aggregate(rows: list[Candle], level: str) -> list[tuple]:
    """(symbol, time, open, high, low, close, volume, value, trades) sorted, from the 1m rows."""
    latest = {(c.symbol, c.time): c for c in rows}  # later corrections replace earlier rows
    groups: dict[tuple, list[Candle]] = defaultdict(list)
    for c in latest.values():
        groups[(c.symbol, bucket(c.time, level))].append(c)
    out = []
    for (sym, b), cs in groups.items():
        cs.sort(key=lambda c: c.time)
        out.append((sym, b, Decimal(cs[0].open), Decimal(max(c.high for c in cs)),
                    Decimal(min(c.low for c in cs)), Decimal(cs[-1].close), sum(c.volume for c in cs),
                    Decimal(sum(c.value for c in cs)), sum(c.trades for c in cs)))
    return sorted(out)


async def view_rows(conn, level: str) -> list[tuple]:
    rows = await conn.fetch(f"SELECT symbol, time, open, high, low, close, volume, value, trades "
                            f"FROM {VIEWS[level]} ORDER BY symbol, time")
    return [(r[0], r[1].astimezone(UTC), r[2], r[3], r[4], r[5], int(r[6]), r[7], int(r[8])) for r in rows]


async def refresh_all(conn, start=None, end=None) -> None:
    """Bottom-up refresh of every level over [start, end) (NULL = open), same SQL on both backends."""
    for level in ("5m", "15m", "1h", "1d"):
        await conn.execute("CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz)",
                           VIEWS[level], start, end)
