"""The KIS real-time WebSocket side: sessions, registrations, control replies, PINGPONG liveness.

One session per app key (bound on its first valid subscribe); a second socket of the same app key
gets OPSP8996 and is closed abortively (the client sees 1006, as with KIS). Outgoing messages go
through a per-session queue so control replies and data keep their order and a slow reader cannot
stall the generator.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from backbone.kis import layouts

from . import frames
from .faults import REPLY_CATALOGUE

if TYPE_CHECKING:
    from .server import Simulator

_ids = itertools.count(1)
ABORT_AFTER_SEND = object()  # queue marker: close abortively once everything before it was sent


@dataclass
class Registration:
    key: str
    iv: str
    encrypted: bool


@dataclass(eq=False)
class Session:
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    queue: asyncio.Queue
    id: int = field(default_factory=lambda: next(_ids))
    app_key: str | None = None
    regs: dict[tuple[str, str], Registration] = field(default_factory=dict)
    last_ping: float = field(default_factory=time.monotonic)
    awaiting_since: float | None = None  # monotonic time of the first unanswered PINGPONG
    closed: bool = False

    def answered(self) -> None:
        self.awaiting_since = None

    def push(self, item: str | bytes) -> bool:
        if self.closed:
            return False
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            self.abort()
            return False

    def abort(self) -> None:
        """Drop the connection without a close frame (what a KIS drop looks like: 1006)."""
        if self.closed:
            return
        self.closed = True
        if not self.queue.full():
            self.queue.put_nowait(None)
        if self.transport is not None:
            self.transport.abort()


class WsSide:
    def __init__(self, sim: "Simulator") -> None:
        self.sim = sim
        self.sessions: set[Session] = set()
        self.by_app: dict[str, Session] = {}
        self.zombies: dict[str, float] = {}  # app key -> monotonic time its lingering slot frees
        self.connections_total = 0
        self.connect_attempts = 0
        self.registrations_acked = 0
        self.replies_sent = 0

    # ---- connection
    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.connect_attempts += 1
        if self.sim.faults.refusing():
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)
        ws = web.WebSocketResponse(autoping=False, heartbeat=None, max_msg_size=1 << 20)
        await ws.prepare(request)
        sess = Session(ws, request.transport, asyncio.Queue(maxsize=self.sim.config.send_queue_limit))
        self.sessions.add(sess)
        self.connections_total += 1
        writer = asyncio.create_task(self._writer(sess))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.on_text(sess, msg.data)
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    sess.answered()
                elif msg.type == WSMsgType.BINARY:
                    self._reply(sess, "(null)", "", "OPSP9999")
                if sess.closed:
                    break
        except Exception:  # a broken socket ends this session only
            pass
        finally:
            self._forget(sess)
            sess.closed = True
            writer.cancel()
        return ws

    def _forget(self, sess: Session) -> None:
        self.sessions.discard(sess)
        if sess.app_key is not None and self.by_app.get(sess.app_key) is sess:
            del self.by_app[sess.app_key]
            if self.sim.config.zombie_slot_s > 0:
                self.zombies[sess.app_key] = time.monotonic() + self.sim.config.zombie_slot_s

    async def _writer(self, sess: Session) -> None:
        try:
            while True:
                item = await sess.queue.get()
                if item is None or sess.ws.closed:
                    return
                if item is ABORT_AFTER_SEND:
                    sess.abort()
                    return
                if isinstance(item, bytes):  # a TEXT frame with deliberately invalid UTF-8
                    await sess.ws.send_frame(item, WSMsgType.TEXT)
                else:
                    await sess.ws.send_str(item)
        except Exception:
            sess.abort()

    # ---- control messages
    def _reply(self, sess: Session, tr_id: str, tr_key: str, msg_cd: str, enc: str = "N",
               out: Registration | None = None) -> None:
        rt_cd, msg1 = REPLY_CATALOGUE[msg_cd]
        text = frames.control_reply(tr_id, tr_key, rt_cd, msg_cd, msg1, enc,
                                    out.iv if out else None, out.key if out else None)
        if sess.push(text):
            self.replies_sent += 1

    def on_text(self, sess: Session, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            return self._reply(sess, "(null)", "", "OPSP9999")
        header = msg.get("header")
        if isinstance(header, dict) and header.get("tr_id") == "PINGPONG":
            return sess.answered()  # echo of our PINGPONG, or the client's own: both fine
        if not isinstance(header, dict):
            return self._reply(sess, "(null)", "", "OPSP9998")
        body = msg.get("body")
        if not isinstance(body, dict):
            return self._reply(sess, "(null)", "", "OPSP9992")
        inp = body.get("input")
        if not isinstance(inp, dict):
            return self._reply(sess, "(null)", "", "OPSP9991")
        tr_id, tr_key = str(inp.get("tr_id", "")), inp.get("tr_key")
        if tr_key is None:
            return self._reply(sess, tr_id, "", "OPSP9990")
        tr_key = str(tr_key)
        if header.get("tr_type") not in ("1", "2"):
            return self._reply(sess, tr_id, tr_key, "OPSP8997")
        if header.get("custtype", "P") not in ("P", "B"):
            return self._reply(sess, tr_id, tr_key, "OPSP8998")
        app_key = self.sim.auth.approval_app_key(header.get("approval_key"))
        if app_key is None:
            return self._reply(sess, tr_id, tr_key, "OPSP0011")
        if sess.app_key is None:
            holder = self.by_app.get(app_key)
            lingering = self.zombies.get(app_key, 0.0) > time.monotonic()
            if lingering or (holder is not None and holder is not sess and not holder.closed):
                self._reply(sess, "(null)", "", "OPSP8996")
                sess.push(ABORT_AFTER_SEND)  # type: ignore[arg-type]
                return
            sess.app_key = app_key
            self.by_app[app_key] = sess
        forced = self.sim.faults.take_reply()
        if forced is not None:
            return self._reply(sess, "(null)" if forced == "OPSP8996" else tr_id,
                               "" if forced == "OPSP8996" else tr_key, forced)
        if tr_id not in layouts.LAYOUTS:
            return self._reply(sess, tr_id, tr_key, "OPSP8991")
        rk = (tr_id, tr_key)
        if header["tr_type"] == "1":
            if rk in sess.regs:
                return self._reply(sess, tr_id, tr_key, "OPSP0002")
            if len(sess.regs) >= self.sim.config.max_registrations:
                return self._reply(sess, tr_id, tr_key, "OPSP0008")
            key, iv = frames.new_key_iv(self.sim.key_rng)
            reg = Registration(key, iv, tr_id in layouts.ENCRYPTED_TRS)
            sess.regs[rk] = reg
            self.registrations_acked += 1
            return self._reply(sess, tr_id, tr_key, "OPSP0000", "Y" if reg.encrypted else "N", reg)
        if rk not in sess.regs:
            return self._reply(sess, tr_id, tr_key, "OPSP0003")
        del sess.regs[rk]
        return self._reply(sess, tr_id, tr_key, "OPSP0001")

    # ---- liveness
    def ping_tick(self, now: float) -> int:
        """Send due PINGPONGs and drop sessions that left one unanswered too long. Returns pings sent."""
        cfg, sent = self.sim.config, 0
        if self.sim.faults.stalled(now):
            for s in self.sessions:
                s.awaiting_since, s.last_ping = None, now
            return 0
        stamp = frames.pingpong(self.sim.clock.now())
        for s in list(self.sessions):
            if s.awaiting_since is not None and now - s.awaiting_since > cfg.pong_timeout_s:
                s.abort()
                continue
            if now - s.last_ping >= cfg.ping_interval_s:
                s.last_ping = now
                if s.awaiting_since is None:
                    s.awaiting_since = now
                if s.push(stamp):
                    sent += 1
        return sent

    def drop_all(self) -> int:
        n = 0
        for s in list(self.sessions):
            s.abort()
            n += 1
        return n
