"""Columnar ingest batches (upstream/ingest_batch.py documents the format) back into typed events,
plus the per-producer reorder buffer the router needs because async actor calls may run out of order.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from backbone.kis.events import KST, BookLevel, OrderBook, Side, Trade

_SIDES = {s.value: s for s in Side}


def ns_to_kst(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).astimezone(KST)


def _dec(text: Any) -> Decimal:
    try:
        return Decimal(str(text))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def trades_of(symbol: str, cols: dict[str, list]) -> list[tuple[Trade, int]]:
    """(Trade, recv_ns) per row. Rows with missing columns raise KeyError/IndexError (caller counts)."""
    out = []
    n = len(cols["ts_ns"])
    g = cols.get
    zeros = [0] * n
    for i in range(n):
        out.append((Trade(symbol, ns_to_kst(cols["ts_ns"][i]), int(cols["price"][i]), int(cols["size"][i]),
                          _SIDES.get(cols["side"][i], Side.UNKNOWN), int(cols["cum_volume"][i]),
                          int((g("cum_value") or zeros)[i]), int((g("open") or zeros)[i]),
                          int((g("high") or zeros)[i]), int((g("low") or zeros)[i]),
                          int((g("change") or zeros)[i]), _dec((g("change_rate") or zeros)[i]),
                          int((g("ask1") or zeros)[i]), int((g("bid1") or zeros)[i]),
                          str((g("session") or [""] * n)[i]), bool((g("halted") or zeros)[i])),
                    int((g("recv_ns") or zeros)[i])))
    return out


def books_of(symbol: str, cols: dict[str, list]) -> list[tuple[OrderBook, int]]:
    out = []
    n = len(cols["ts_ns"])
    zeros = [0] * n
    for i in range(n):
        asks = tuple(BookLevel(p, int(s)) for p, s in zip(cols["ask_px"][i], cols["ask_sz"][i]))
        bids = tuple(BookLevel(p, int(s)) for p, s in zip(cols["bid_px"][i], cols["bid_sz"][i]))
        out.append((OrderBook(symbol, ns_to_kst(cols["ts_ns"][i]), asks, bids,
                              int((cols.get("total_ask_size") or zeros)[i]),
                              int((cols.get("total_bid_size") or zeros)[i]),
                              (cols.get("cum_volume") or [None] * n)[i]),
                    int((cols.get("recv_ns") or zeros)[i])))
    return out


class ReorderBuffer:
    """Releases batches of one producer in `seq` order.

    A batch ahead of the expected seq is held; when more than `max_held` are held (the missing one
    is lost, e.g. a failed call), the held ones are released in order and the gap is skipped. A new
    `source` (producer restart) resets the expectation. A batch older than expected is released
    at once and flagged `late` (its books are stale; its trades are still news).
    """

    def __init__(self, max_held: int = 4) -> None:
        self.max_held = max_held
        self._source: str | None = None
        self._next = 0
        self._held: dict[int, dict] = {}
        self.skipped = 0
        self.late = 0

    def push(self, batch: dict) -> list[tuple[dict, bool]]:
        """Returns (batch, late) pairs ready to apply, in order."""
        src, seq = str(batch.get("source", "")), int(batch.get("seq", 0))
        out: list[tuple[dict, bool]] = []
        if src != self._source:
            out += self.release_all()
            self._source, self._next = src, seq
        if seq < self._next:
            self.late += 1
            return out + [(batch, True)]
        self._held[seq] = batch
        out += self._drain()
        if len(self._held) > self.max_held:
            out += self.release_all()
        return out

    def release_all(self) -> list[tuple[dict, bool]]:
        """Give up waiting: release everything held, in order (called on idle ticks too)."""
        if not self._held:
            return []
        first = min(self._held)
        if first > self._next:
            self.skipped += first - self._next
        self._next = first
        out = self._drain()
        if self._held:  # holes inside the held range
            out += self.release_all()
        return out

    def held(self) -> int:
        return len(self._held)

    def _drain(self) -> list[tuple[dict, bool]]:
        out = []
        while self._next in self._held:
            out.append((self._held.pop(self._next), False))
            self._next += 1
        return out
