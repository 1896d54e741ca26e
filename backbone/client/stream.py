"""One multiplexed WebSocket to the backbone's /ws: channels shared by every consumer of a
MarketDataBackbone, automatic reconnect with backoff, resume from the last seq per channel.

Consumers call `open(channels)` for a queue and `close(queue)` when done; a channel is subscribed
while at least one consumer wants it. All continuity logic lives in ChannelState (pure).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from backbone.backoff import Backoff, BackoffConfig

from .channel_state import ChannelState
from .errors import Unauthorized
from .models import Resync, StreamStats
from .unifier import DataUnifier

log = logging.getLogger("backbone.client")
CLOSE_UNAUTHORIZED = 4401
STABLE_AFTER_S = 5.0  # a connection this old resets the backoff sequence


class Closed:
    """Put on consumer queues when the stream cannot go on (e.g. unauthorized)."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class StreamConnection:
    def __init__(self, ws_url: str, api_key: str | None, unifier: DataUnifier,
                 backoff: BackoffConfig | None = None, on_ticker=None, max_queue: int = 10_000) -> None:
        self.max_queue = max_queue  # items a consumer may fall behind before it is resynced
        self.ws_url = ws_url
        self.api_key = api_key
        self.unifier = unifier
        self.backoff = Backoff(backoff or BackoffConfig(base_s=0.2, cap_s=5.0, min_delay_s=0.1, jitter=0.5))
        self.on_ticker = on_ticker  # called with every streamed TickerData (cache invalidation)
        self.stats = StreamStats()
        self.states: dict[str, ChannelState] = {}
        self._consumers: dict[asyncio.Queue, set[str]] = {}
        self._ws: Any = None
        self._task: asyncio.Task | None = None
        self._send_lock = asyncio.Lock()
        self.connected = asyncio.Event()
        self._closing = False
        self._disconnected_at: float | None = None

    # ------------------------------------------------------------------ consumers
    def wanted(self) -> set[str]:
        return set().union(*self._consumers.values()) if self._consumers else set()

    async def open(self, channels: list[str]) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(max(self.max_queue, 4 * len(channels)))
        new = [c for c in channels if c not in self.wanted()]
        self._consumers[q] = set(channels)
        for c in new:
            self.states[c] = ChannelState(c, self.unifier, self.stats)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="backbone-stream")
        elif new:
            # under the lock: either _serve already holds the socket (we subscribe here) or it
            # will list these channels itself when it connects
            async with self._send_lock:
                if self._ws is not None:
                    try:
                        await self._ws.send(json.dumps({"op": "subscribe", "channels": new}))
                    except ConnectionClosed:
                        pass  # the reconnect subscribes them
        # a channel shared with an earlier consumer: start this one from the current state
        for c in channels:
            st = self.states[c]
            if c not in new and not st.awaiting_snapshot:
                if st.book is not None:
                    q.put_nowait(st._book_item(time.time_ns()))
                elif st.last_ticker is not None:
                    q.put_nowait(st.last_ticker)
        return q

    async def close_consumer(self, q: asyncio.Queue) -> None:
        chans = self._consumers.pop(q, set())
        gone = [c for c in chans if c not in self.wanted()]
        for c in gone:
            self.states.pop(c, None)
        if gone and self.connected.is_set():
            try:
                await self._send([{"op": "unsubscribe", "channels": gone}])
            except ConnectionClosed:
                pass

    def state(self, channel: str) -> ChannelState | None:
        return self.states.get(channel)

    # ------------------------------------------------------------------ socket
    async def _send(self, ops: list[dict]) -> None:
        async with self._send_lock:
            ws = self._ws
            if ws is None:
                return
            for op in ops:
                await ws.send(json.dumps(op))

    async def _connect(self):
        headers = {"x-api-key": self.api_key} if self.api_key else None
        return await websockets.connect(self.ws_url, additional_headers=headers, open_timeout=10, close_timeout=2,
                                        max_size=None, ping_interval=20, ping_timeout=20)

    async def _run(self) -> None:
        while not self._closing:
            started = time.monotonic()
            try:
                ws = await self._connect()
            except (OSError, InvalidStatus, asyncio.TimeoutError, TimeoutError) as exc:
                delay = self.backoff.next_delay()
                log.info("stream connect to %s failed (%s); retrying in %.2f s", self.ws_url, type(exc).__name__, delay)
                await asyncio.sleep(delay)
                continue
            try:
                await self._serve(ws)
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code == CLOSE_UNAUTHORIZED:
                    self._fail(Unauthorized("the stream gateway refused the API key"))
                    return
                log.info("stream connection closed (%s); reconnecting", exc)
            except OSError as exc:
                log.info("stream connection lost (%s); reconnecting", type(exc).__name__)
            finally:
                self.connected.clear()
                self._ws = None
                self._disconnected_at = time.monotonic()
            if self._closing:
                return
            if time.monotonic() - started > STABLE_AFTER_S:
                self.backoff.reset()
            await asyncio.sleep(self.backoff.next_delay())

    async def _serve(self, ws) -> None:
        async with self._send_lock:
            self._ws = ws
            ops = [op for c in sorted(self.wanted()) for op in self.states[c].reconnect_ops()]
            for op in ops:
                await ws.send(json.dumps(op))
        self.stats.connects += 1
        if self._disconnected_at is not None:
            self.stats.reconnects += 1
            self.stats.last_reconnect_s = time.monotonic() - self._disconnected_at
        self.connected.set()
        async for raw in ws:
            now = time.time_ns()
            self.stats.messages += 1
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            await self._dispatch(msg, now)

    async def _dispatch(self, msg: dict, received_ns: int) -> None:
        ch = msg.get("channel")
        if msg.get("type") == "error":
            self.stats.server_errors.append({"channel": ch, **(msg.get("data") or {})})
            del self.stats.server_errors[:-50]
            log.warning("stream error from the server: %s", msg.get("data"))
            return
        st = self.states.get(ch) if isinstance(ch, str) else None
        if st is None:
            return
        items, ops = st.on_message(msg, received_ns)
        if ops:
            await self._send(ops)
        for item in items:
            if self.on_ticker is not None and st.kind == "trade" and not hasattr(item, "reason"):
                self.on_ticker(item)
            for q, chans in self._consumers.items():
                if ch in chans:
                    try:
                        q.put_nowait(item)
                    except asyncio.QueueFull:
                        self._overflow(q, chans)

    def _overflow(self, q: asyncio.Queue, chans: set[str]) -> None:
        """A consumer fell `max_queue` items behind: drop its backlog and say so per channel
        (a Resync, then the current book), instead of growing without bound or skipping silently."""
        while not q.empty():
            q.get_nowait()
        self.stats.consumer_overflows += 1
        for c in sorted(chans):
            st = self.states.get(c)
            if st is None:
                continue
            q.put_nowait(Resync(channel=c, reason="slow_consumer", to_seq=st.seq, epoch=st.epoch))
            if st.book is not None and not st.awaiting_snapshot:
                q.put_nowait(st._book_item(time.time_ns()))

    def _fail(self, error: Exception) -> None:
        for q in self._consumers:
            q.put_nowait(Closed(error))

    async def drop_for_test(self) -> None:
        """Test hook: close the socket from the client side (the reconnect logic takes over)."""
        if self._ws is not None:
            await self._ws.close()

    async def aclose(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
