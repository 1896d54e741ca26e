"""RouterActor: one per symbol (named "router:<symbol>"), fed by the socket owner in micro-batches.

Minimal for now: it keeps the latest trade, the latest book and the latest REST-polled quote, and
counts what it received. The live-stream issue grows it (ring buffer, deltas, candles, polling).
`ingest(batch)` takes the columnar batch documented in `upstream/ingest_batch.py`.
"""
from __future__ import annotations

import time

import ray

from backbone.settings import NAMESPACE
from upstream.ingest_batch import BOOK_COLUMNS, TRADE_COLUMNS, batch_size

ROUTER_PREFIX = "router:"
LAG_SAMPLES = 4096  # ingest lag samples kept for status/benchmarks (ring)


def router_name(symbol: str) -> str:
    return f"{ROUTER_PREFIX}{symbol}"


def _last_row(cols: dict, names: tuple[str, ...]) -> dict:
    return {c: cols[c][-1] for c in names if cols.get(c)}


class RouterState:
    """The router's logic without Ray (tested directly)."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.trade: dict | None = None
        self.book: dict | None = None
        self.polled: dict | None = None
        self.events = 0
        self.batches = 0
        self.out_of_order = 0
        self._last_seq: dict[str, int] = {}
        self._lags: list[int] = []
        self._lag_i = 0

    def ingest(self, batch: dict) -> int:
        now = time.time_ns()
        src, seq = batch.get("source", ""), int(batch.get("seq", 0))
        last = self._last_seq.get(src, 0)
        stale = seq <= last  # an older batch arrived late: count it, never let it overwrite newer state
        if stale:
            self.out_of_order += 1
        else:
            self._last_seq[src] = seq
        trades, books = batch.get("trades"), batch.get("books")
        if trades and not stale:
            self.trade = _last_row(trades, TRADE_COLUMNS)
        if books and not stale:
            self.book = _last_row(books, BOOK_COLUMNS)
        if batch.get("polled") and not stale:
            self.polled = dict(batch["polled"][-1])
        for cols in (trades, books):
            if cols:
                for r in cols["recv_ns"]:
                    self._lag(now - r)
        n = batch_size(batch)
        self.events += n
        self.batches += 1
        return n

    def _lag(self, ns: int) -> None:
        if len(self._lags) < LAG_SAMPLES:
            self._lags.append(ns)
        else:
            self._lags[self._lag_i] = ns
            self._lag_i = (self._lag_i + 1) % LAG_SAMPLES

    def latest(self) -> dict:
        return {"symbol": self.symbol, "trade": self.trade, "book": self.book, "polled": self.polled}

    def stats(self, reset_lags: bool = False) -> dict:
        lags = sorted(self._lags)
        out = {"symbol": self.symbol, "events": self.events, "batches": self.batches,
               "out_of_order": self.out_of_order, "lag_samples_ns": lags}
        if reset_lags:
            self._lags, self._lag_i = [], 0
        return out


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class RouterActor:
    def __init__(self, symbol: str) -> None:
        self._s = RouterState(symbol)

    def ingest(self, batch: dict) -> int:
        """Receive one micro-batch (see upstream/ingest_batch.py); returns the number of events."""
        return self._s.ingest(batch)

    def latest(self) -> dict:
        return self._s.latest()

    def stats(self, reset_lags: bool = False) -> dict:
        return self._s.stats(reset_lags)


def get_or_create_router(symbol: str):
    return RouterActor.options(name=router_name(symbol), namespace=NAMESPACE, lifetime="detached",
                               get_if_exists=True).remote(symbol)
