"""Micro-batching of decoded events to per-symbol routers.

Events are grouped per symbol and flushed every `flush_ms` or as soon as a symbol has
`flush_events` waiting; never one remote call per event. With many busy symbols the interval
stretches so that the total stays under `max_calls_per_s` (a remote call costs the owner ~0.2-0.5
ms of CPU; past ~1-2k calls/s the owner itself becomes the bottleneck and latency explodes). At most `max_in_flight` deliveries per
router are outstanding: while a router is busy its events keep accumulating and leave in the next,
larger batch (coalescing is the backpressure). A buffer beyond `max_buffered` drops its oldest
events (counted) rather than growing without bound.

The wire format of a batch is `ingest_batch.build_batch` (columnar, documented there).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from typing import Awaitable, Callable

from .ingest_batch import build_batch, route_of

log = logging.getLogger(__name__)

Deliver = Callable[[str, dict], Awaitable[None]]


class MicroBatcher:
    def __init__(self, deliver: Deliver, *, flush_ms: float = 5.0, flush_events: int = 256,
                 max_in_flight: int = 2, max_buffered: int = 50_000, max_calls_per_s: float = 300.0) -> None:
        self._deliver = deliver
        self.flush_s = flush_ms / 1000.0
        self.flush_events = flush_events
        self.max_in_flight = max_in_flight
        self.max_buffered = max_buffered
        self.max_calls_per_s = max_calls_per_s
        self.source = uuid.uuid4().hex[:12]  # this incarnation: seq restarts with it
        self._buf: dict[str, list] = {}
        self._recv: dict[str, list[int]] = {}
        self._seq: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task] = set()
        self._kick = asyncio.Event()
        self._last_calls = 0  # calls made by the last flush
        self._stopped = False
        self.events_in = 0
        self.events_out = 0
        self.batches_out = 0
        self.dropped = 0
        self.delivery_errors = 0
        self.unrouted = 0
        # Symbols that may get a router (the wanted tr_keys); None: any. Keeps a damaged symbol from
        # creating a router of its own.
        self.accept: set[str] | None = None

    def add(self, events: list, recv_ns: int) -> None:
        """Called by the connection loop for each decoded frame (synchronous, cheap)."""
        for ev in events:
            sym = route_of(ev)
            if sym is None or (self.accept is not None and sym not in self.accept):
                self.unrouted += 1
                continue
            buf = self._buf.get(sym)
            if buf is None:
                buf = self._buf[sym] = []
                self._recv[sym] = []
            buf.append(ev)
            self._recv[sym].append(recv_ns)
            self.events_in += 1
            if len(buf) > self.max_buffered:
                drop = len(buf) - self.max_buffered
                del buf[:drop]
                del self._recv[sym][:drop]
                self.dropped += drop
            if len(buf) >= self.flush_events:
                self._kick.set()

    def add_polled(self, symbol: str, quote: dict) -> None:
        """A REST-polled current price for a symbol without a registration (flagged as polled)."""
        self.add([("polled", symbol, quote)], time.time_ns())

    def interval(self) -> float:
        """Seconds between flushes: `flush_ms`, stretched when the last flush needed many calls."""
        return max(self.flush_s, self._last_calls / self.max_calls_per_s)

    async def run(self) -> None:
        while not self._stopped:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.interval())
            self._kick.clear()
            self.flush()

    def flush(self) -> None:
        calls = 0
        for sym in [s for s, b in self._buf.items() if b]:
            if self._in_flight[sym] >= self.max_in_flight:
                continue
            calls += 1
            events, recv = self._buf[sym], self._recv[sym]
            self._buf[sym], self._recv[sym] = [], []
            self._seq[sym] += 1
            batch = build_batch(sym, self.source, self._seq[sym], events, recv)
            self._in_flight[sym] += 1
            t = asyncio.create_task(self._send(sym, batch, len(events)))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
        self._last_calls = calls

    async def _send(self, sym: str, batch: dict, n: int) -> None:
        try:
            await self._deliver(sym, batch)
            self.events_out += n
            self.batches_out += 1
        except Exception as exc:  # a dead or restarting router must not stop the others
            self.delivery_errors += 1
            log.warning("delivery to router %s failed: %s", sym, type(exc).__name__)
        finally:
            self._in_flight[sym] -= 1
            if self._buf.get(sym):
                self._kick.set()

    async def stop(self) -> None:
        self._stopped = True
        self._kick.set()
        for t in list(self._tasks):
            t.cancel()

    def status(self) -> dict:
        return {"events_in": self.events_in, "events_out": self.events_out, "batches_out": self.batches_out,
                "dropped": self.dropped, "delivery_errors": self.delivery_errors, "unrouted": self.unrouted,
                "buffered": sum(len(b) for b in list(self._buf.values())),
                "in_flight": sum(self._in_flight.values()), "source": self.source}
