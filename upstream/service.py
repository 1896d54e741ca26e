"""The socket owner without Ray: subscriptions, connection, token, REST, polling, batching, state.

The Ray actor (actors/kis_socket.py) is a thin shell around one `SocketService`; everything here
runs on one asyncio loop, so the subscription book needs no locks.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import Iterable

from backbone.kis.layouts import LAYOUTS
from backbone.kis.rest import RestError
from backbone.leases import LeaseTable
from backbone.ratelimit import TokenBucket
from backbone.settings import Settings
from backbone.subscriptions import BUDGET_EXHAUSTED, Availability, SubscriptionBook

from .batcher import Deliver, MicroBatcher
from .options import SocketOptions
from .rest_client import KisRestClient
from .state_store import MemoryStateStore, PgStateStore, StateStore
from .token_keeper import TokenKeeper
from .ws_session import ApprovalUnavailable, UpstreamSession

log = logging.getLogger(__name__)
TRADE_TR = "H0STCNT0"


class InvalidSubscription(ValueError):
    """A requested (tr_id, tr_key) KIS would reject anyway (unknown TR, malformed key)."""


_TR_KEY = re.compile(r"^[A-Za-z0-9_.]{1,16}$")


def parse_subscriptions(subs: Iterable) -> list[tuple[str, str]]:
    """Accept ("H0STCNT0", "005930") pairs or "H0STCNT0:005930" strings; reject what KIS would refuse
    (so a typo never turns into a subscribe/error loop against KIS)."""
    out = []
    for s in subs:
        if isinstance(s, str):
            tr_id, _, tr_key = s.partition(":")
        elif isinstance(s, (tuple, list)) and len(s) == 2:
            tr_id, tr_key = str(s[0]), str(s[1])
        else:
            raise InvalidSubscription(f"subscription must be (tr_id, tr_key) or 'tr_id:tr_key', got {s!r:.40}")
        if tr_id not in LAYOUTS:
            raise InvalidSubscription(f"unknown tr_id {tr_id!r:.20}")
        if not _TR_KEY.match(tr_key):
            raise InvalidSubscription(f"invalid tr_key {tr_key!r:.20}")
        out.append((tr_id, tr_key))
    return out


def _name(key: tuple[str, str]) -> str:
    return f"{key[0]}:{key[1]}"


class SocketService:
    def __init__(self, settings: Settings, options: SocketOptions, deliver: Deliver,
                 store: StateStore | None = None) -> None:
        self.settings = settings
        self.opt = options
        self.book = SubscriptionBook(options.book)
        self.leases = LeaseTable()
        self.bucket = TokenBucket(options.rest_rate_per_s)
        self.rest = KisRestClient(settings.rest_base_url, settings.kis_app_key, settings.kis_app_secret, self.bucket,
                                  timeout_s=options.rest_timeout_s, rate_retries=options.rest_rate_retries,
                                  retry_base_s=options.rest_retry_base_s, custtype=options.custtype)
        self.batcher = MicroBatcher(deliver, flush_ms=options.flush_ms, flush_events=options.flush_events,
                                    max_in_flight=options.max_in_flight_per_router,
                                    max_buffered=options.max_buffered_per_symbol,
                                    max_calls_per_s=options.max_router_calls_per_s)
        self.session = UpstreamSession(settings.ws_url, self.book, self._approval, self.batcher.add, options)
        self.store = store
        self.tokens: TokenKeeper | None = None
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._persist_lock = asyncio.Lock()
        self._persisted: dict | None = None
        self._last_approval_at = 0.0
        self.started_at = time.time()
        self.restored = 0
        self.polls = 0
        self.poll_errors = 0
        self.approvals = 0
        self.persist_errors = 0
        self.start_error: str | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load state (retrying while the database is unreachable), then run the loops."""
        delay = 1.0
        while True:
            try:
                if self.store is None:
                    self.store = (await PgStateStore.connect(self.opt.database_dsn, self.settings.app_key_id)
                                  if self.opt.database_dsn else MemoryStateStore())
                wanted = await self.store.load_wanted()
                leases = await self.store.load_leases()
                break
            except Exception as exc:  # database down: keep trying, status says why
                self.start_error = f"state store unavailable: {type(exc).__name__}"
                log.warning("%s; retrying in %.0f s", self.start_error, delay)
                await asyncio.sleep(delay)
                delay = min(30.0, delay * 2)
        self.start_error = None
        self.tokens = TokenKeeper(self.rest.issue_token, self.store, self.opt.token)
        self.rest.tokens = self.tokens
        self._persisted = ({k: dict(v) for k, v in wanted.items()}, dict(leases))
        self.book.restore(wanted, time.monotonic())
        self.leases.restore(leases, time.monotonic())  # a fresh full lease each: live ones renew
        self.restored = len(wanted)
        self._update_accept()
        for coro in (self.session.run(), self.batcher.run(), self._poll_loop(), self._persist_loop(),
                     self._lease_loop()):
            self._tasks.append(asyncio.create_task(coro))
        self._ready.set()

    async def ready(self) -> None:
        await self._ready.wait()

    async def close(self) -> None:
        self.session.stop()
        await self.batcher.stop()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.rest.aclose()
        if self.store is not None:
            await self.store.close()

    # ------------------------------------------------------------------ demand
    async def acquire(self, requester: str, subscriptions: Iterable, priority: int = 0,
                      lease_s: float | None = None) -> dict[str, str]:
        """Register demand; returns "tr_id:tr_key" -> live | pending | polled | refused.
        With `lease_s`, all of the requester's demand ends unless `renew` is called within it."""
        keys = parse_subscriptions(subscriptions)
        await self.ready()
        now = time.monotonic()
        if lease_s is not None:
            self.leases.grant(requester, lease_s, now)
        got = self.book.acquire(requester, keys, int(priority), now)
        self._update_accept()
        await self._persist()
        self.session.wake()
        return {_name(k): v.value for k, v in got.items()}

    async def release(self, requester: str, subscriptions: Iterable | None = None) -> None:
        keys = None if subscriptions is None else parse_subscriptions(subscriptions)
        await self.ready()
        self.book.release(requester, keys, time.monotonic())
        if keys is None:
            self.leases.forget(requester)
        await self._persist()
        self.session.wake()

    async def renew(self, requester: str) -> bool:
        """Extend the requester's lease; False when it has none (ran out, or never granted): the
        requester must acquire its demand again."""
        await self.ready()
        return self.leases.renew(requester, time.monotonic())

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            gone = self.leases.expired(now)
            for requester in gone:  # a requester that died without releasing (e.g. a gateway replica)
                log.info("lease of %s ran out: its demand is released", requester)
                self.book.release(requester, None, now)
            if gone:
                await self._persist()
                self.session.wake()

    def view(self, requester: str) -> dict[str, dict]:
        now = time.monotonic()
        out = {}
        for k, av in self.book.view_for(requester, now).items():
            out[_name(k)] = {"state": av.value, **({"code": BUDGET_EXHAUSTED} if av is Availability.REFUSED else {})}
        return out

    def _update_accept(self) -> None:
        # A superset is fine: released pairs stay accepted until the next acquire.
        self.batcher.accept = (self.batcher.accept or set()) | {k[1] for k in self.book.wanted()}

    async def _persist(self) -> None:
        """Write the wanted set when it changed (before acquire/release return: a crash right after
        must not lose it)."""
        async with self._persist_lock:
            wanted = self.book.wanted()
            held = {r for reqs in wanted.values() for r in reqs}
            leases = {r: x for r, x in self.leases.lengths().items() if r in held}
            if (wanted, leases) == self._persisted:
                return
            try:
                await self.store.save_wanted(wanted, leases)
            except Exception as exc:  # database hiccup: demand still works; _persist_loop retries
                self.persist_errors += 1
                log.warning("could not persist the wanted set: %s", type(exc).__name__)
                return
            self._persisted = (wanted, leases)

    async def _persist_loop(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            await self._persist()

    # ------------------------------------------------------------------ credentials
    async def _approval(self, force: bool) -> str:
        wait = self._last_approval_at + self.opt.approval_min_interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_approval_at = time.monotonic()
        resp = await self.rest.approval_key()
        if isinstance(resp, RestError):
            raise ApprovalUnavailable(f"approval key: {resp.code}")
        self.approvals += 1
        return resp.approval_key

    async def get_token(self) -> str:
        await self.ready()
        return await self.tokens.get()

    # ------------------------------------------------------------------ REST
    async def current_price(self, symbol: str):
        await self.ready()
        return await self.rest.current_price(symbol)

    async def minute_bars(self, symbol: str, until_hhmmss: str):
        await self.ready()
        return await self.rest.minute_bars(symbol, until_hhmmss)

    async def _poll_loop(self) -> None:
        """REST polling of the current price for wanted trade streams that have no registration."""
        while True:
            started = time.monotonic()
            symbols = sorted({k[1] for k in self.book.polled(started) if k[0] == TRADE_TR})
            for sym in symbols:
                try:
                    r = await self.rest.current_price(sym)
                except Exception as exc:  # token unavailable etc.: count, keep polling
                    r = RestError(0, type(exc).__name__, "")
                if isinstance(r, RestError):
                    self.poll_errors += 1
                    continue
                self.polls += 1
                self.batcher.add_polled(sym, {"price": r.stck_prpr, "cum_volume": r.acml_vol, "change": r.prdy_vrss,
                                              "change_rate": str(r.prdy_ctrt), "ts_ns": time.time_ns(),
                                              "source": "rest"})
            min_cycle = len(symbols) / max(1e-9, self.opt.rest_rate_per_s * self.opt.poll_rate_share)
            await asyncio.sleep(max(0.05, max(self.opt.poll_interval_s, min_cycle) - (time.monotonic() - started)))

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        """Everything an operator needs; no secrets (no token, approval key, app key or AES keys)."""
        now = time.monotonic()
        rows = self.book.snapshot(now)
        for r in rows:
            if r["state"] == Availability.REFUSED.value:
                r["code"] = BUDGET_EXHAUSTED
        return {
            "app_key_id": self.settings.app_key_id,
            "pid": os.getpid(),
            "connection": self.session.status(),
            "registrations": {"used": self.book.used, "budget": self.book.config.budget,
                              "live": len(self.book.live_keys()), "items": rows,
                              "counters": dict(self.book.counters)},
            "token": {"expires_at": self.tokens.expires_at if self.tokens else None,
                      "issued": self.tokens.issued if self.tokens else 0,
                      "throttled": self.tokens.throttled if self.tokens else 0,
                      "last_error": self.tokens.last_error if self.tokens else None},
            "rest": {"calls": self.rest.calls, "rate_limited": self.rest.rate_limited,
                     "auth_retries": self.rest.auth_retries, "polls": self.polls, "poll_errors": self.poll_errors,
                     "approvals": self.approvals},
            "routing": self.batcher.status(),
            "restored_wanted": self.restored,
            "leases": {"held": len(self.leases), "expired": self.leases.expired_total},
            "persist_errors": self.persist_errors,
            "start_error": self.start_error,
            "started_at": self.started_at,
        }
