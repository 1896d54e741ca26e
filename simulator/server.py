"""The simulator: REST + WebSocket servers, the market loop, notices, faults, stats and replay."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from dataclasses import replace
from typing import Any

from aiohttp import web

from backbone.kis import layouts

from . import frames
from .auth import AuthState, app_key_id
from .clock import SimClock
from .config import SimulatorConfig
from .faults import Faults
from .market import Emission, Market
from .ws import Session, WsSide

log = logging.getLogger("simulator")


class Simulator:
    def __init__(self, config: SimulatorConfig | None = None, **overrides: Any) -> None:
        config = config or SimulatorConfig()
        self.config = replace(config, **overrides) if overrides else config
        if self.config.replay_file and not os.path.isfile(self.config.replay_file):
            raise FileNotFoundError(f"replay file not found: {self.config.replay_file}")
        self.clock = SimClock(self.config.clock, self.config.start, self.config.speed)
        self.market = Market(self.config, self.clock)
        self.auth = AuthState(self.config)
        self.faults = Faults()
        self.ws = WsSide(self)
        self.key_rng = random.Random(f"{self.config.seed}:keys")
        self.frames_sent = 0
        self.pings_sent = 0
        self.notices_sent = 0
        self.rest_requests = 0
        self.rest_rate_limited = 0
        self._order_no = 0
        self._tasks: list[asyncio.Task] = []
        self._rest_runner: web.AppRunner | None = None
        self._ws_runner: web.AppRunner | None = None
        self._ws_site: web.TCPSite | None = None
        self.rest_port = self.config.rest_port
        self.ws_port = self.config.ws_port

    # ---- lifecycle
    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self.rest_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.ws_port}"

    async def start(self) -> "Simulator":
        from .rest import build_rest_app

        self._rest_runner = web.AppRunner(build_rest_app(self), access_log=None)
        await self._rest_runner.setup()
        site = web.TCPSite(self._rest_runner, self.config.host, self.config.rest_port)
        await site.start()
        self.rest_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ws_app = web.Application()
        ws_app.router.add_route("GET", "/{tail:.*}", self.ws.handle)
        self._ws_runner = web.AppRunner(ws_app, access_log=None, handler_cancellation=True)
        await self._ws_runner.setup()
        await self._bind_ws(self.config.ws_port)
        loops = [self._ping_loop(), self._notice_loop()]
        loops.append(self._replay_loop() if self.config.replay_file else self._market_loop())
        self._tasks = [asyncio.create_task(c) for c in loops]
        return self

    async def _bind_ws(self, port: int) -> None:
        assert self._ws_runner is not None
        self._ws_site = web.TCPSite(self._ws_runner, self.config.host, port, reuse_address=True)
        await self._ws_site.start()
        self.ws_port = self._ws_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self._tasks = []
        self.ws.drop_all()
        for runner in (self._ws_runner, self._rest_runner):
            if runner is not None:
                with contextlib.suppress(Exception):
                    await runner.cleanup()

    # ---- loops
    async def _market_loop(self) -> None:
        dt = self.config.tick_s
        next_at = time.monotonic()
        while True:
            try:
                emissions = self.market.step(dt)
                if not self.faults.stalled():
                    self.broadcast(emissions)
            except Exception:  # a bug in one step must not stop the market
                log.exception("market step failed")
            next_at += dt
            delay = next_at - time.monotonic()
            if delay < -1.0:  # far behind (machine busy): do not try to catch up
                next_at = time.monotonic()
            await asyncio.sleep(max(0.0, delay))

    async def _ping_loop(self) -> None:
        period = max(0.01, min(self.config.ping_interval_s, self.config.pong_timeout_s) / 5)
        while True:
            await asyncio.sleep(period)
            try:
                self.pings_sent += self.ws.ping_tick(time.monotonic())
            except Exception:
                log.exception("ping tick failed")

    async def _notice_loop(self) -> None:
        rng = random.Random(f"{self.config.seed}:notices")
        while True:
            await asyncio.sleep(self.config.notice_interval_s)
            if self.faults.stalled():
                continue
            try:
                for sess in list(self.ws.sessions):
                    for (tr_id, hts_id), reg in list(sess.regs.items()):
                        if reg.encrypted and tr_id in layouts.LAYOUTS:
                            self._send_notice(sess, tr_id, hts_id, reg, rng)
            except Exception:
                log.exception("notice generation failed")

    def _send_notice(self, sess: Session, tr_id: str, hts_id: str, reg, rng: random.Random) -> None:
        """An order acceptance followed by its fill, for the registered HTS ID."""
        overseas = tr_id.startswith("H0GS")
        pool = list(self.market.overseas.values()) if overseas else list(self.market.krx.values())
        if not pool:
            return
        m = rng.choice(pool)
        price = int(m.bid * 100) if overseas else m.last  # overseas: price in cents
        qty, side = rng.randint(1, 50), rng.choice(("01", "02"))
        self._order_no += 1
        now = self.clock.now()
        for fill in (False, True):
            rec = frames.notice_record(tr_id, hts_id, m.sym.ticker if overseas else m.sym.code, m.sym.name,
                                       qty, price, side, self._order_no, fill, now, self.config.cni_fields)
            self._deliver(sess, frames.data_frame(tr_id, [rec], reg.key, reg.iv))
            self.notices_sent += 1

    async def _replay_loop(self) -> None:
        from .replay import replay

        await replay(self)

    # ---- sending
    def _deliver(self, sess: Session, frame: str) -> None:
        if self.faults.take_loss():
            return
        kind = self.faults.take_malformed()
        if sess.push(frames.malform(frame, kind) if kind else frame):
            self.frames_sent += 1

    def encode(self, em: Emission) -> str:
        cfg = self.config
        if em.tr_id == "H0STCNT0":
            recs = [frames.cnt_record(p, cfg.cnt_fields) for p in em.items]
        elif em.tr_id == "H0STASP0":
            recs = [frames.asp_record(b, cfg.asp_fields) for b in em.items]
        elif em.tr_id == "H0STMKO0":
            recs = [frames.mko_record(s) for s in em.items]
        elif em.tr_id == "H0UPCNT0":
            recs = [frames.index_record(x) for x in em.items]
        elif em.tr_id == "HDFSCNT0":
            recs = [frames.ov_trade_record(p) for p in em.items]
        else:
            recs = [frames.ov_book_record(b) for b in em.items]
        return frames.data_frame(em.tr_id, recs)

    def broadcast(self, emissions: list[Emission]) -> None:
        if not self.ws.sessions:
            return
        for em in emissions:
            frame = None
            for sess in list(self.ws.sessions):
                if (em.tr_id, em.key) in sess.regs:
                    frame = frame or self.encode(em)
                    self._deliver(sess, frame)

    def send_raw(self, tr_id: str, key: str | None, frame: str) -> int:
        """Replay: send a recorded frame to every session registered for (tr_id, key) (key None: any)."""
        n = 0
        for sess in list(self.ws.sessions):
            if any(t == tr_id and (key is None or k == key) for t, k in sess.regs):
                self._deliver(sess, frame)
                n += 1
        return n

    # ---- control API (call on the simulator's loop; SimulatorThread wraps these thread-safely)
    def drop(self) -> int:
        return self.ws.drop_all()

    def stall(self, seconds: float) -> None:
        self.faults.stall_until = time.monotonic() + seconds

    async def restart(self, refuse_seconds: float) -> None:
        """Drop every session and really stop listening for refuse_seconds, then listen again."""
        self.faults.refuse_until = max(self.faults.refuse_until, time.monotonic() + refuse_seconds)
        self.ws.drop_all()
        if self._ws_site is not None:
            site, self._ws_site = self._ws_site, None
            await site.stop()
        port = self.ws_port

        async def relisten() -> None:
            while self.faults.refusing():  # an overlapping restart may extend the window
                await asyncio.sleep(max(0.01, self.faults.refuse_until - time.monotonic()))
            if self._ws_site is None:
                await self._bind_ws(port)

        self._tasks.append(asyncio.create_task(relisten()))

    def malformed(self, count: int) -> None:
        self.faults.malformed_left += count

    def loss(self, frames_: int) -> None:
        self.faults.loss_left += frames_

    def auth_fail(self, fail: bool) -> None:
        self.auth.fail = fail

    def force_reply(self, msg_cd: str) -> None:
        self.faults.replies.append(msg_cd)

    def halt(self, code: str, halted: bool = True) -> None:
        self.market.set_halt(code, halted)

    def candles(self, code: str) -> list[dict]:
        return self.market.candle_list(code)

    def stats(self) -> dict:
        ws = self.ws
        by_app: dict[str, int] = {}
        for s in ws.sessions:
            if s.app_key is not None:
                by_app[app_key_id(s.app_key)] = by_app.get(app_key_id(s.app_key), 0) + 1
        return {
            "connections": {"open": len(ws.sessions), "total": ws.connections_total},
            "connections_by_appkey": by_app,
            "connect_attempts": ws.connect_attempts,
            "registrations": ws.registrations_acked,
            "registrations_open": sum(len(s.regs) for s in ws.sessions),
            "frames_sent": self.frames_sent,
            "replies_sent": ws.replies_sent,
            "pings_sent": self.pings_sent,
            "notices_sent": self.notices_sent,
            "tokens_issued": self.auth.tokens_issued,
            "approvals_issued": self.auth.approvals_issued,
            "rest_requests": self.rest_requests,
            "rest_rate_limited": self.rest_rate_limited,
            "trades_generated": self.market.trades_generated,
            "clock": self.clock.describe(),
            "faults": {**self.faults.describe(), "auth_fail": self.auth.fail},
            "replay": self.config.replay_file is not None,
        }
