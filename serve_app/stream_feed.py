"""One channel's pull loop in a gateway replica: long-poll the source, fan out to the subscribers.

Remote calls scale with channels, not clients: one `poll` per channel returns every new event as
pre-encoded text, which is pushed (never awaited) into each subscriber's bounded ClientQueue.

Joining mid-stream without gaps: a new subscriber gets a snapshot (or a resume replay) from its
own direct call, then `join` fills the interval between that point and this feed's cursor from a
small buffer of recently forwarded events; events at or before the client's point are skipped via
its per-channel `min_seq`. When the buffer does not reach back, the client waits for a snapshot
that the next poll fetches (`with_snapshot`).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Protocol

from backbone.fanout import ClientQueue, Push
from backbone.stream_protocol import SLOW_CONSUMER, Channel, encode, error_message

from .stream_sources import SourceUnavailable

log = logging.getLogger("serve_app.stream")
LONG_POLL_S = 5.0
BUFFER_EVENTS = 4096
POLL_LIMIT = 5000


class Subscriber(Protocol):
    queue: ClientQueue
    min_seq: dict[str, int]

    def wake(self) -> None: ...


class ChannelFeed:
    def __init__(self, channel: Channel, sources: Any, *, grace_s: float = 5.0,
                 long_poll_s: float = LONG_POLL_S, buffer_events: int = BUFFER_EVENTS) -> None:
        self.channel = channel
        self.name = channel.name
        self.sources = sources
        self.grace_s = grace_s
        self.long_poll_s = long_poll_s
        self.clients: set[Subscriber] = set()
        self.epoch: str | None = None
        self.seq: int | None = None
        self.buffer: deque[tuple[int, str]] = deque(maxlen=buffer_events)
        self.snapshot_wanted = False
        self.closing = False
        self.joining = 0  # subscribes in progress (snapshot being fetched): the feed stays up
        self.idle_since: float | None = time.monotonic()  # a feed nobody joins ends after the grace
        self.task: asyncio.Task | None = None
        self.polls = 0
        self.poll_errors = 0
        self.forwarded = 0

    # ------------------------------------------------------------------ fan-out
    def _deliver(self, client: Subscriber, text: str) -> None:
        r = client.queue.push(self.name, text)
        if r is Push.SLOW_CONSUMER:
            client.queue.push_control(encode(error_message(
                SLOW_CONSUMER, "you fell behind on this channel; it resyncs from a snapshot", self.name)))
            self.snapshot_wanted = True
        elif r is Push.MERGED:
            self.snapshot_wanted = True

    def apply(self, r: dict) -> None:
        """Apply one poll answer (synchronous: no other coroutine sees a half-applied state)."""
        snap = r.get("snapshot")
        reset = snap is not None and (self.epoch is None or r.get("recovered") is False or r["epoch"] != self.epoch)
        touched: set[Subscriber] = set()
        if reset:  # router restarted, or we fell off its ring: everyone restarts from this snapshot
            seq, text = snap
            self.epoch, self.seq = r["epoch"], seq
            self.buffer.clear()
            for c in self.clients:
                c.queue.offer_snapshot(self.name, text)
                c.min_seq[self.name] = seq
                touched.add(c)
            events = []
        else:
            if snap is not None:
                seq, text = snap
                for c in self.clients:
                    if self.name in c.queue.awaiting_snapshot():
                        c.queue.offer_snapshot(self.name, text)
                        c.min_seq[self.name] = seq
                        touched.add(c)
            events = r.get("events") or []
        cursor = self.seq or 0
        for seq, _type, text in events:
            if seq <= cursor:
                continue
            cursor = seq
            self.buffer.append((seq, text))
            self.forwarded += 1
            for c in self.clients:
                if seq > c.min_seq.get(self.name, 0):
                    self._deliver(c, text)
                    touched.add(c)
        if events and not reset:
            self.seq = max(self.seq or 0, cursor)
        for c in touched:
            c.wake()

    def join(self, client: Subscriber, epoch: str, have_seq: int) -> bool:
        """Add a client that holds this channel up to `have_seq` of `epoch` (its snapshot or replay
        is already queued). Fills (have_seq, cursor] from the buffer; False when it cannot, and the
        client then waits for a snapshot from the next poll."""
        self.clients.add(client)
        self.idle_since = None
        if self.epoch is None:  # the first subscriber sets the cursor
            self.epoch, self.seq = epoch, have_seq
        if epoch != self.epoch:  # the source restarted between calls: the feed resets soon
            client.min_seq[self.name] = have_seq
            return True
        cursor = self.seq or 0
        if have_seq >= cursor:
            client.min_seq[self.name] = have_seq
            return True
        missing = [(s, t) for s, t in self.buffer if s > have_seq]
        if not missing or missing[0][0] != have_seq + 1:
            client.queue.await_snapshot(self.name)
            self.snapshot_wanted = True
            return False
        for _s, text in missing:
            self._deliver(client, text)
        client.min_seq[self.name] = cursor
        client.wake()
        return True

    def leave(self, client: Subscriber) -> None:
        self.clients.discard(client)
        client.min_seq.pop(self.name, None)
        client.queue.forget(self.name)
        if not self.clients:
            self.idle_since = time.monotonic()

    # ------------------------------------------------------------------ pull loop
    async def run(self) -> None:
        """Until the last client left `grace_s` ago."""
        delay = 0.1
        while True:
            if not self.clients:
                if self.joining:  # a client is on its way in: the grace starts after it left
                    self.idle_since = None
                    await asyncio.sleep(0.05)
                    continue
                if self.idle_since is None:
                    self.idle_since = time.monotonic()
                idle = time.monotonic() - self.idle_since
                if idle >= self.grace_s:
                    self.closing = True
                    return
                await asyncio.sleep(min(0.2, self.grace_s - idle + 0.01))
                continue
            want, self.snapshot_wanted = self.snapshot_wanted, False
            try:
                r = await self.sources.poll(self.channel, self.seq if self.epoch else None,
                                            0.0 if want else self.long_poll_s, self.epoch, POLL_LIMIT, want)
                self.polls += 1
            except (SourceUnavailable, Exception) as exc:  # noqa: BLE001 - the loop must survive
                self.poll_errors += 1
                self.snapshot_wanted = self.snapshot_wanted or want
                log.info("poll %s failed: %s", self.name, type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.1
            if "error" in r:
                self.poll_errors += 1
                await asyncio.sleep(1.0)
                continue
            self.apply(r)

    def stats(self) -> dict:
        return {"clients": len(self.clients), "joining": self.joining, "epoch": self.epoch, "seq": self.seq,
                "polls": self.polls, "poll_errors": self.poll_errors, "forwarded": self.forwarded}
