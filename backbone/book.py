"""Order-book deltas over a fixed depth window, with a CRC32 checksum clients can verify.

Server: `BookDiffer.update(book)` turns each full KIS book into the changed levels only.
Client (SDK, dashboard, tests): `apply_delta(state, delta)`: set each changed level (size 0 deletes
it), sort each side best-first, keep the best `depth` levels, compare the checksum.

Window awareness: the client truncates to `depth` levels after every delta, so a level that merely
scrolls out (better levels appeared in front of it) is not sent as a removal; a level that scrolls
into the window is sent as an add. The differ only sends a removal when truncation would not drop
the level on its own.

Checksum (reimplemented by the JavaScript dashboard and the Python SDK, keep it exact):
    text = "|".join(["a:{price}:{size}" for each ask, best (lowest) first]
                    + ["b:{price}:{size}" for each bid, best (highest) first])
    checksum = zlib.crc32(text.encode("ascii"))   # unsigned 32-bit
over the top `depth` levels only. `price` is canonical decimal text: an integer as plain digits
("71500"), a decimal without exponent and without trailing zeros ("187.5", "0.0012"; "100.00" ->
"100"). `size` is plain digits. An empty book gives "" and checksum 0.
Example: asks [(71600, 10)], bids [(71500, 3)] -> "a:71600:10|b:71500:3".
In JSON, integer prices travel as numbers and decimal prices as that canonical text.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, Iterable, Literal

from backbone.kis.events import BookLevel, OrderBook

Price = int | Decimal
SideName = Literal["ask", "bid"]


_price_key = attrgetter("price")


class BookError(ValueError):
    """Malformed book input (duplicate price on a side, bad side name, bad JSON)."""


class ChecksumMismatch(BookError):
    """The rebuilt book does not match the checksum the server sent: resync from a snapshot."""


@dataclass(frozen=True, slots=True)
class LevelChange:
    side: SideName
    price: Price
    size: int  # 0 = remove the level


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    symbol: str
    time: datetime | None
    asks: tuple[BookLevel, ...]  # best (lowest) first, at most depth
    bids: tuple[BookLevel, ...]  # best (highest) first, at most depth
    checksum: int
    depth: int = 10

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "time": self.time.isoformat() if self.time else None,
            "depth": self.depth,
            "asks": [[_price_json(lv.price), lv.size] for lv in self.asks],
            "bids": [[_price_json(lv.price), lv.size] for lv in self.bids],
            "checksum": self.checksum,
        }

    @classmethod
    def empty(cls, symbol: str = "", depth: int = 10) -> BookSnapshot:
        return cls(symbol, None, (), (), checksum((), ()), depth)


@dataclass(frozen=True, slots=True)
class BookDelta:
    symbol: str
    time: datetime | None
    changes: tuple[LevelChange, ...]
    checksum: int  # of the top `depth` levels after applying the changes

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "time": self.time.isoformat() if self.time else None,
            "changes": [[c.side, _price_json(c.price), c.size] for c in self.changes],
            "checksum": self.checksum,
        }


def price_text(price: Price) -> str:
    """Canonical decimal text of a price (see the module docstring)."""
    if isinstance(price, int):
        return str(price)
    if isinstance(price, Decimal):
        if price == price.to_integral_value():
            return str(int(price))
        return format(price.normalize(), "f")
    raise BookError(f"price must be int or Decimal, got {type(price).__name__}")


def checksum(asks: Iterable[BookLevel], bids: Iterable[BookLevel]) -> int:
    """CRC32 of the documented text; pass the levels best-first, already cut to depth."""
    # int prices (KRX, the hot path) format directly; Decimals go through price_text
    parts = [f"a:{p if type(p) is int else price_text(p)}:{s}" for p, s in map(_pair, asks)]
    parts += [f"b:{p if type(p) is int else price_text(p)}:{s}" for p, s in map(_pair, bids)]
    return zlib.crc32("|".join(parts).encode("ascii")) & 0xFFFFFFFF


def _pair(lv: BookLevel) -> tuple[Price, int]:
    return lv.price, lv.size


def _price_json(price: Price) -> int | str:
    return price if isinstance(price, int) else price_text(price)


def _window(levels: Iterable[BookLevel], descending: bool, depth: int) -> tuple[BookLevel, ...]:
    """Best-first, positive prices and sizes only, cut to depth. Duplicate prices are an error."""
    kept = [lv for lv in levels if lv.price > 0 and lv.size > 0]
    kept.sort(key=_price_key, reverse=descending)  # KIS sends best-first: timsort is O(n) then
    for a, b in zip(kept, kept[1:]):
        if a.price == b.price:
            raise BookError(f"duplicate price level {a.price}")
    return tuple(kept[:depth])


def _side_changes(side: SideName, old: tuple[BookLevel, ...], new: tuple[BookLevel, ...],
                  depth: int, descending: bool) -> list[LevelChange]:
    old_sizes = {lv.price: lv.size for lv in old}
    new_sizes = {lv.price: lv.size for lv in new}
    changes = [LevelChange(side, lv.price, lv.size) for lv in new if old_sizes.get(lv.price) != lv.size]
    # A level gone from the window is dropped by the client's truncation only if the new window is
    # full and the level lies behind its worst level; otherwise it must be removed explicitly.
    full = len(new) == depth
    worst = new[-1].price if new else None
    for lv in old:
        if lv.price in new_sizes:
            continue
        scrolled_out = full and (lv.price < worst if descending else lv.price > worst)
        if not scrolled_out:
            changes.append(LevelChange(side, lv.price, 0))
    return changes


class BookDiffer:
    """Turns successive full books of one symbol into deltas of the top `depth` levels."""

    def __init__(self, depth: int = 10, symbol: str = "") -> None:
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self.depth = depth
        self._snap = BookSnapshot.empty(symbol, depth)

    def update(self, book: OrderBook) -> BookDelta | None:
        """Delta from the previous window to this book's window, or None when nothing changed.

        Raises BookError for a malformed book (state is left unchanged).
        """
        asks = _window(book.asks, False, self.depth)
        bids = _window(book.bids, True, self.depth)
        prev = self._snap
        changes = _side_changes("ask", prev.asks, asks, self.depth, False)
        changes += _side_changes("bid", prev.bids, bids, self.depth, True)
        if not changes:
            if prev.time != book.time or prev.symbol != book.symbol:
                self._snap = BookSnapshot(book.symbol, book.time, prev.asks, prev.bids,
                                          prev.checksum, self.depth)
            return None
        crc = checksum(asks, bids)
        self._snap = BookSnapshot(book.symbol, book.time, asks, bids, crc, self.depth)
        return BookDelta(book.symbol, book.time, tuple(changes), crc)

    def snapshot(self) -> BookSnapshot:
        """The current window (what a client holds after applying every delta so far)."""
        return self._snap


def apply_delta(state: BookSnapshot, delta: BookDelta, verify: bool = True) -> BookSnapshot:
    """Client-side reconstruction: apply changes, sort best-first, truncate to depth.

    With `verify`, raises ChecksumMismatch when the result does not match `delta.checksum`.
    """
    sides: dict[str, dict[Price, int]] = {
        "ask": {lv.price: lv.size for lv in state.asks},
        "bid": {lv.price: lv.size for lv in state.bids},
    }
    for ch in delta.changes:
        book = sides.get(ch.side)
        if book is None:
            raise BookError(f"bad side {ch.side!r}")
        if ch.size <= 0:
            book.pop(ch.price, None)
        else:
            book[ch.price] = ch.size
    depth = state.depth
    asks = tuple(BookLevel(p, s) for p, s in sorted(sides["ask"].items())[:depth])
    bids = tuple(BookLevel(p, s) for p, s in sorted(sides["bid"].items(), reverse=True)[:depth])
    crc = checksum(asks, bids)
    if verify and crc != delta.checksum:
        raise ChecksumMismatch(f"checksum {crc} != {delta.checksum}")
    return BookSnapshot(delta.symbol or state.symbol, delta.time, asks, bids, crc, depth)


# --- JSON round trip (SDK side) ---------------------------------------------------------------

def _price_from_json(value: Any) -> Price:
    if isinstance(value, bool):
        raise BookError("price must be a number or decimal text")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            d = Decimal(value)
        except ArithmeticError as exc:
            raise BookError(f"bad price {value!r}") from exc
        return int(d) if d == d.to_integral_value() else d
    raise BookError(f"bad price {value!r}")


def _time_from_json(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError) as exc:
        raise BookError(f"bad time {value!r}") from exc


def snapshot_from_dict(d: dict[str, Any]) -> BookSnapshot:
    """Inverse of BookSnapshot.to_dict; BookError on malformed input."""
    try:
        asks = tuple(BookLevel(_price_from_json(p), int(s)) for p, s in d["asks"])
        bids = tuple(BookLevel(_price_from_json(p), int(s)) for p, s in d["bids"])
        return BookSnapshot(str(d.get("symbol", "")), _time_from_json(d.get("time")), asks, bids,
                            int(d["checksum"]), int(d.get("depth", 10)))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BookError):
            raise
        raise BookError(f"malformed snapshot: {exc}") from exc


def delta_from_dict(d: dict[str, Any]) -> BookDelta:
    """Inverse of BookDelta.to_dict; BookError on malformed input."""
    try:
        changes = []
        for side, p, s in d["changes"]:
            if side not in ("ask", "bid"):
                raise BookError(f"bad side {side!r}")
            changes.append(LevelChange(side, _price_from_json(p), int(s)))
        return BookDelta(str(d.get("symbol", "")), _time_from_json(d.get("time")), tuple(changes),
                         int(d["checksum"]))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BookError):
            raise
        raise BookError(f"malformed delta: {exc}") from exc
