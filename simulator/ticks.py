"""KRX price grid: tick sizes by price band and the +-30 % daily price limits."""
from __future__ import annotations

# (upper bound exclusive, tick) per KRX band (2023 unified table for KOSPI and KOSDAQ).
_BANDS = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500))


def tick_size(price: int) -> int:
    for bound, tick in _BANDS:
        if price < bound:
            return tick
    return 1_000


def up(price: int) -> int:
    """The next price on the grid above `price` (which must be on the grid)."""
    return price + tick_size(price)


def down(price: int) -> int:
    """The next price on the grid below `price`."""
    return price - tick_size(price - 1)


def floor_to_grid(price: float) -> int:
    p = int(price)
    return p - p % tick_size(p)


def ceil_to_grid(price: float) -> int:
    p = int(-(-price // 1))
    t = tick_size(p)
    r = p % t
    if r:
        p += t - r
        if p % tick_size(p):  # crossed into a coarser band
            p = ceil_to_grid(p)
    return p


def on_grid(price: int) -> bool:
    return price > 0 and price % tick_size(price) == 0


def price_limits(prev_close: int) -> tuple[int, int]:
    """(lower, upper) limit prices: prev close -+30 %, rounded inward onto the grid."""
    return ceil_to_grid(prev_close * 0.7), floor_to_grid(prev_close * 1.3)
