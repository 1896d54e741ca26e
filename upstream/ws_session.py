"""The KIS WebSocket connection loop: connect, keep alive, restore registrations, reconnect.

- `websockets` client with `ping_interval=None` (KIS's keep-alive is an application message).
- Server PINGPONG is echoed verbatim as a text frame at once; an application PINGPONG is also sent
  every `app_ping_s`.
- Watchdog: no frame at all for `idle_limit_s` -> close and reconnect.
- Reconnect with `backbone.backoff` (floor, cap, jitter; long pause after OPSP8996). The backoff
  only resets after a connection stayed up `stable_after_s`, so connect/close loops stay slow.
- After every (re)connect the subscription book re-sends every held registration.
- Frames are received as bytes (`decode=False`) so invalid UTF-8 is decoded tolerantly by the codec
  instead of failing the connection (reference §4.3); bad frames are counted, never fatal.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, defaultdict
from enum import Enum
from typing import Awaitable, Callable

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from backbone.backoff import Backoff, Reason
from backbone.kis.codec import DataFrame, parse_message
from backbone.kis.control import PingPong, ReplyKind, SubscribeReply
from backbone.kis.crypto import AesKey
from backbone.kis.errors import DecodeError
from backbone.kis.normalize import to_event
from backbone.kis.requests import APP_PINGPONG, subscribe_message, unsubscribe_message
from backbone.subscriptions import SubscriptionBook

from .options import SocketOptions

log = logging.getLogger(__name__)


class ConnState(str, Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    STALE = "stale"  # connected, but nothing received for a while
    STOPPED = "stopped"


class ApprovalUnavailable(RuntimeError):
    """/oauth2/Approval failed (the message holds the KIS code only, never a key)."""


class _End(Exception):
    """Ends the current connection with a reason for the backoff."""

    def __init__(self, reason: Reason, why: str) -> None:
        super().__init__(why)
        self.reason = reason


EventSink = Callable[[list, int], None]  # (events, receive time ns)
# Replies that will not change on a retry: invalid tr_id / tr_key and JSON parsing errors.
PERMANENT_CODES = frozenset({"OPSP8991", "OPSP8992", "OPSP8993", "OPSP9990", "OPSP9991", "OPSP9992",
                             "OPSP9997", "OPSP9998", "OPSP9999", "OPSP8997", "OPSP8998"})


class UpstreamSession:
    def __init__(self, url: str, book: SubscriptionBook, approval: Callable[[bool], Awaitable[str]],
                 sink: EventSink, options: SocketOptions, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.book = book
        self._approval_fn = approval
        self._sink = sink
        self.opt = options
        self._clock = clock
        self.backoff = Backoff(options.backoff)
        self._wake = asyncio.Event()
        self._stop_evt = asyncio.Event()
        self._stopped = False
        self._approval: str | None = None
        self._approval_stale = False
        self._keys: dict[str, AesKey] = {}
        self._state = ConnState.CONNECTING
        self.state_since = time.time()
        self.connected_at: float | None = None  # monotonic
        self.last_frame_at: float | None = None  # wall clock
        self._last_frame_mono: float | None = None
        # counters for status()
        self.connect_attempts = 0
        self.connections = 0
        self.reconnects = 0
        self.watchdog_reconnects = 0
        self.in_use = 0  # OPSP8996
        self.auth_failures = 0  # OPSP0011
        self.pings_echoed = 0
        self.app_pings_sent = 0
        self.frames: Counter[str] = Counter()
        self.records: Counter[str] = Counter()
        self.decode_errors: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.last_end: str | None = None
        self.last_delay_s: float | None = None

    # ------------------------------------------------------------------ control
    def wake(self) -> None:
        """Demand changed: let the sender re-plan now."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._stop_evt.set()  # ends the current connection too
        self._wake.set()

    @property
    def state(self) -> ConnState:
        if self._state is ConnState.CONNECTED and self._last_frame_mono is not None:
            if self._clock() - self._last_frame_mono > self.opt.stale_after_s:
                return ConnState.STALE
        return self._state

    def _set_state(self, s: ConnState) -> None:
        if s is not self._state:
            self._state, self.state_since = s, time.time()

    # ------------------------------------------------------------------ main loop
    async def run(self) -> None:
        first = True
        while not self._stopped:
            self._set_state(ConnState.CONNECTING if first else ConnState.RECONNECTING)
            first = False
            reason, why = await self._connect_once()
            self.book.on_disconnect(self._clock())
            self._keys.clear()
            self.last_end = why
            if self._stopped:
                break
            up_for = self._clock() - self.connected_at if self.connected_at is not None else 0.0
            if self.connected_at is not None and up_for >= self.opt.stable_after_s and reason is not Reason.IN_USE:
                self.backoff.reset()
            self.connected_at = None
            delay = self.backoff.next_delay(reason)
            self.last_delay_s = delay
            self._set_state(ConnState.RECONNECTING)
            log.info("upstream connection ended (%s); reconnecting in %.2f s", why, delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._sleep_until_stopped(), timeout=delay)
        self._set_state(ConnState.STOPPED)

    async def _sleep_until_stopped(self) -> None:
        while not self._stopped:
            self._wake.clear()
            await self._wake.wait()

    async def _connect_once(self) -> tuple[Reason, str]:
        self.connect_attempts += 1
        try:
            approval = await self._get_approval()
        except ApprovalUnavailable as exc:
            return Reason.AUTH, str(exc)
        except Exception as exc:  # REST down...: retry with backoff
            return Reason.FAILED, f"approval key unavailable: {type(exc).__name__}"
        try:
            async with websockets.connect(self.url, ping_interval=None, open_timeout=self.opt.open_timeout_s,
                                          close_timeout=1, max_size=2 ** 22, max_queue=4096,
                                          compression=None) as ws:
                self.connections += 1
                if self.connections > 1:
                    self.reconnects += 1
                self.connected_at = self._clock()
                self._last_frame_mono = self._clock()
                self._set_state(ConnState.CONNECTED)
                return await self._serve(ws, approval)
        except _End as end:
            return end.reason, str(end)
        except ApprovalUnavailable as exc:  # e.g. credentials rejected while OPSP0011 asked for a new key
            return Reason.AUTH, str(exc)
        except ConnectionClosed as exc:
            return Reason.FAILED, f"closed by server ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        except (OSError, InvalidHandshake, InvalidURI, asyncio.TimeoutError) as exc:
            return Reason.FAILED, f"connect failed: {type(exc).__name__}"
        except Exception as exc:  # never let one bad connection kill the owner
            log.exception("upstream connection failed unexpectedly")
            return Reason.FAILED, f"unexpected: {type(exc).__name__}"

    async def _get_approval(self, force: bool = False) -> str:
        if self._approval is None or force or self._approval_stale:
            self._approval = await self._approval_fn(force or self._approval_stale)
            self._approval_stale = False
        return self._approval

    async def _serve(self, ws, approval: str) -> tuple[Reason, str]:
        tasks = [asyncio.create_task(self._reader(ws)), asyncio.create_task(self._sender(ws)),
                 asyncio.create_task(self._pinger(ws)), asyncio.create_task(self._stop_evt.wait())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                exc = t.exception()
                if exc is not None:
                    raise exc
            return Reason.FAILED, "stopped" if self._stopped else "connection task ended"
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ tasks
    async def _reader(self, ws) -> None:
        while not self._stopped:
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), timeout=self.opt.idle_limit_s)
            except asyncio.TimeoutError:
                self.watchdog_reconnects += 1
                raise _End(Reason.FAILED, f"idle for {self.opt.idle_limit_s:g} s (watchdog)") from None
            now_ns = time.time_ns()
            self._last_frame_mono = self._clock()
            self.last_frame_at = now_ns / 1e9
            await self._handle(ws, raw, now_ns)

    async def _handle(self, ws, raw: bytes, now_ns: int) -> None:
        msg = parse_message(raw, self._keys)
        if isinstance(msg, DataFrame):
            self.frames[msg.tr_id] += 1
            if msg.invalid_utf8:  # decoded with replacement chars: counted; damaged symbols are not routed
                self.decode_errors[msg.tr_id]["invalid_utf8"] += 1
            if msg.unknown_width:
                self.decode_errors[msg.tr_id]["unknown_width"] += 1
            events = []
            for rec in msg.records:
                ev = to_event(rec)
                if isinstance(ev, DecodeError):
                    self.decode_errors[msg.tr_id][ev.kind.value] += 1
                else:
                    events.append(ev)
            self.records[msg.tr_id] += len(msg.records)
            if events:
                self._sink(events, now_ns)
        elif isinstance(msg, PingPong):
            self.frames["PINGPONG"] += 1
            await ws.send(msg.raw)  # verbatim, as text
            self.pings_echoed += 1
        elif isinstance(msg, SubscribeReply):
            self.frames["control"] += 1
            self._on_reply(msg)
        else:  # DecodeError
            self.decode_errors[msg.tr_id or "?"][msg.kind.value] += 1

    def _on_reply(self, r: SubscribeReply) -> None:
        now = self._clock()
        if r.kind is ReplyKind.ALREADY_IN_USE:
            self.in_use += 1
            raise _End(Reason.IN_USE, "OPSP8996 app key already in use")
        if r.kind is ReplyKind.INVALID_APPROVAL:
            self.auth_failures += 1
            self._approval_stale = True  # the sender fetches a new approval key before sending again
        if r.kind is ReplyKind.SUBSCRIBED and r.aes is not None:
            self._keys[r.tr_id] = r.aes
        key = (r.tr_id, r.tr_key)
        if r.kind is ReplyKind.OTHER and r.msg_cd in PERMANENT_CODES and key in set(self.book.in_flight_subscribe()):
            self.book.refuse(key, now)
        elif r.tr_key or key in set(self.book.in_flight_subscribe()):
            self.book.on_reply(key, r.kind, now)
        elif r.kind not in (ReplyKind.SUBSCRIBED, ReplyKind.UNSUBSCRIBED):
            # An error reply without tr_key: apply it to every subscribe still waiting for an answer.
            for k in self.book.in_flight_subscribe():
                self.book.on_reply(k, r.kind, now)
        self._wake.set()

    async def _sender(self, ws) -> None:
        while not self._stopped:  # (3.11's wait_for can swallow a cancel that races with _wake)
            approval = await self._get_approval()
            plan = self.book.plan(self._clock())
            for key in plan.unsubscribe:
                await ws.send(unsubscribe_message(approval, key[0], key[1], self.opt.custtype))
                await asyncio.sleep(self.opt.send_interval_s)
            for key in plan.subscribe:
                await ws.send(subscribe_message(approval, key[0], key[1], self.opt.custtype))
                await asyncio.sleep(self.opt.send_interval_s)
            if plan:
                continue  # replies may have changed the book meanwhile
            now = self._clock()
            wake_at = self.book.next_wakeup(now)
            timeout = 1.0 if wake_at is None else min(1.0, max(0.0, wake_at - now))
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def _pinger(self, ws) -> None:
        while not self._stopped:
            await asyncio.sleep(self.opt.app_ping_s)
            await ws.send(APP_PINGPONG)
            self.app_pings_sent += 1

    # ------------------------------------------------------------------ views
    def status(self) -> dict:
        now = time.time()
        return {
            "state": self.state.value,
            "since": self.state_since,
            "connect_attempts": self.connect_attempts,
            "reconnects": self.reconnects,
            "watchdog_reconnects": self.watchdog_reconnects,
            "in_use_rejections": self.in_use,
            "auth_failures": self.auth_failures,
            "pings_echoed": self.pings_echoed,
            "app_pings_sent": self.app_pings_sent,
            "last_frame_at": self.last_frame_at,
            "last_frame_age_s": None if self.last_frame_at is None else round(now - self.last_frame_at, 3),
            "last_end": self.last_end,
            "next_delay_s": self.last_delay_s,
            "frames": dict(self.frames),
            "records": dict(self.records),
            "decode_errors": {tr: dict(c) for tr, c in list(self.decode_errors.items())},
        }
