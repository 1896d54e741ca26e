"""RouterActor: one per symbol (named "router:<symbol>"), fed by the socket owner in micro-batches.

A thin async shell around two pure parts:
- `RouterState` (below): latest trade/book/REST quote as the socket owner delivered them, counters
  and ingest-lag samples (the HTTP API's ticker/orderbook and the socket tests read these).
- `backbone.router_core.RouterCore`: per-channel rings (trade, book, whale) with seq + epoch, book
  deltas + snapshots, whale alerts, 1m candles, tick-loss gaps, `poll` answers.
`ingest(batch)` takes the columnar batch documented in `upstream/ingest_batch.py`. Gateways call
`poll(kind, after_seq, max_wait)`: a long-poll that returns as soon as there is something after
`after_seq` (or a snapshot), or empty after `max_wait` seconds. One call carries many events.
A housekeeping task closes minutes, ends whale bursts, ships alerts to the alert sender (named
actor "alert_sender") and closed candles to the candle writer (named actor "candle-writer"), when
they exist; until then both are kept in the router (bounded).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections import deque

import ray

from backbone.router_core import KINDS, WHALE_ENV, RouterConfig, RouterCore, config_for_symbol
from backbone.settings import NAMESPACE
from upstream.ingest_batch import BOOK_COLUMNS, TRADE_COLUMNS, batch_size

log = logging.getLogger(__name__)
ROUTER_PREFIX = "router:"
ALERT_SENDER_NAME = "alert_sender"
LAG_SAMPLES = 4096  # ingest lag samples kept for status/benchmarks (ring)
TICK_S = 0.25
MAX_PENDING_ALERTS = 10_000


def router_name(symbol: str) -> str:
    return f"{ROUTER_PREFIX}{symbol}"


def _last_row(cols: dict, names: tuple[str, ...]) -> dict:
    return {c: cols[c][-1] for c in names if cols.get(c)}


class RouterState:
    """The router's latest-value logic without Ray (tested directly)."""

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


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, concurrency_groups={"control": 1})
class RouterActor:
    def __init__(self, symbol: str, config: RouterConfig | None = None) -> None:
        self._s = RouterState(symbol)
        self._candles: deque = deque(maxlen=2880)  # closed candles not yet handed to a writer
        config = config or config_for_symbol(symbol, os.environ.get(WHALE_ENV))
        self._core = RouterCore(symbol, config, on_candles=self._candles.extend)
        self._changed = {k: asyncio.Event() for k in KINDS}
        self._pending_alerts: list[dict] = []
        self._alert_sink = None
        self._candle_sink = None
        self._task = asyncio.get_running_loop().create_task(self._housekeeping())  # keep a reference

    def _notify(self, before: dict[str, int]) -> None:
        for k, seq in before.items():
            if self._core.last_seq(k) != seq:
                ev, self._changed[k] = self._changed[k], asyncio.Event()
                ev.set()

    def _seqs(self) -> dict[str, int]:
        return {k: self._core.last_seq(k) for k in KINDS}

    async def ingest(self, batch: dict) -> int:
        """Receive one micro-batch (see upstream/ingest_batch.py); returns the number of events.
        No await inside: each batch is applied atomically."""
        before = self._seqs()
        n = self._s.ingest(batch)
        self._core.ingest(batch)
        self._notify(before)
        return n

    async def poll(self, kind: str, after_seq: int | None, max_wait: float = 0.0, epoch: str | None = None,
                   limit: int | None = 5000, with_snapshot: bool = False) -> dict:
        """Events of channel `kind` ("trade" | "book" | "whale") after `after_seq` (see
        RouterCore.poll); waits up to `max_wait` s for the first one."""
        if kind not in KINDS:
            return {"error": {"code": "BAD_CHANNEL", "message": f"unknown kind {kind!r}"}}
        deadline = time.monotonic() + max(0.0, min(max_wait, 30.0))
        while True:
            r = self._core.poll(kind, after_seq, epoch, limit, with_snapshot)
            left = deadline - time.monotonic()
            if r["events"] or r["snapshot"] is not None or left <= 0:
                return r
            try:
                await asyncio.wait_for(self._changed[kind].wait(), left)
            except asyncio.TimeoutError:
                pass

    async def snapshot(self, kind: str) -> tuple[int, str]:
        """(seq, wire text) of the channel's current full state."""
        return self._core.snapshot(kind)

    async def resync(self) -> int:
        """Store a book snapshot event now (after an upstream reconnect); returns its seq."""
        before = self._seqs()
        seq = self._core.resync()
        self._notify(before)
        return seq

    async def reset(self) -> str:
        """New epoch (every client resyncs); returns it."""
        self._core.reset()
        for k in KINDS:
            self._notify({k: -1})
        return self._core.epoch

    async def latest(self) -> dict:
        return self._s.latest()

    async def stats(self, reset_lags: bool = False) -> dict:
        return self._s.stats(reset_lags)

    @ray.method(concurrency_group="control")
    def node_id(self) -> str:
        """The Ray node this router runs on (hex), e.g. to check placement on a cluster."""
        return ray.get_runtime_context().get_node_id()

    @ray.method(concurrency_group="control")
    def status(self) -> dict:
        return {**self._core.status(), "pending_alerts": len(self._pending_alerts),
                "pending_candles": len(self._candles), "pid": os.getpid()}

    async def closed_candles(self) -> list[dict]:
        """Closed 1m candles the router remembers (oldest first), until the candle writer takes them."""
        return [dataclasses.asdict(c) for c in self._core.candles.closed()]

    async def gaps(self) -> list[dict]:
        return [{"start": g.start.isoformat(), "end": g.end.isoformat(), "missing_volume": g.missing_volume,
                 "reason": g.reason} for g in self._core.gaps]

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                before = self._seqs()
                self._core.tick()
                self._notify(before)
                alerts = [a.to_dict() for a in self._core.take_alerts()]
                if alerts or self._pending_alerts:
                    await self._ship_alerts(alerts)
                if self._candles:
                    await self._ship_candles()
            except Exception:  # noqa: BLE001 - housekeeping must survive anything
                log.exception("router %s housekeeping failed", self._s.symbol)

    async def _ship_alerts(self, alerts: list[dict]) -> None:
        """At-least-once to the alert sender (it dedups by alert_id); kept while it is absent."""
        self._pending_alerts.extend(alerts)
        del self._pending_alerts[:-MAX_PENDING_ALERTS]
        if self._alert_sink is None:
            try:
                self._alert_sink = ray.get_actor(ALERT_SENDER_NAME, namespace=NAMESPACE)
            except ValueError:
                return
        batch = list(self._pending_alerts)
        try:
            await self._alert_sink.submit.remote(batch)
        except Exception as exc:  # noqa: BLE001 - retried on the next tick
            log.warning("alert submit failed: %s", type(exc).__name__)
            self._alert_sink = None
            return
        del self._pending_alerts[:len(batch)]

    async def _ship_candles(self) -> None:
        """Closed candles to the candle writer actor ("candle-writer"), awaited so they stay in order;
        kept (bounded) while it does not exist or fails."""
        if self._candle_sink is None:
            try:
                from actors.candle_writer import ACTOR_NAME
                self._candle_sink = ray.get_actor(ACTOR_NAME, namespace=NAMESPACE)
            except (ValueError, ImportError):
                return
        batch = list(self._candles)
        try:
            await self._candle_sink.submit.remote(batch)
        except Exception as exc:  # noqa: BLE001 - retried on the next tick
            log.warning("candle submit failed: %s", type(exc).__name__)
            self._candle_sink = None
            return
        for _ in batch:
            self._candles.popleft()


def get_or_create_router(symbol: str, config: RouterConfig | None = None, scheduling_strategy=None):
    """Race-safe get-or-create. By default Ray's "DEFAULT" strategy places a new router (it asks for
    no CPU) where it likes, not necessarily spread; `scheduling_strategy` (e.g. "SPREAD" or a
    NodeAffinitySchedulingStrategy) chooses placement. Config and strategy are ignored when the
    router already exists, so a router placed first is the one the socket owner later feeds by name."""
    extra = {} if scheduling_strategy is None else {"scheduling_strategy": scheduling_strategy}
    return RouterActor.options(name=router_name(symbol), namespace=NAMESPACE, lifetime="detached",
                               get_if_exists=True, **extra).remote(symbol, config)
