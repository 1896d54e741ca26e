"""KISSocketActor: the one owner of the KIS WebSocket (and token) for an app key.

Detached, named `kis_socket:<app_key_id>` (a hash, never the key) in backbone.settings.NAMESPACE,
restarted forever on crashes (max_restarts=-1); `get_or_create_socket_actor` is race-safe, so a
second driver, job or Serve replica attaches to the same actor and never opens a second socket.
All logic is in upstream.service.SocketService; this is the Ray shell. A restart re-runs
__init__, which reloads the wanted set and the token from Postgres and reconnects.

`status` runs in its own concurrency group (its own thread and loop), so it answers even while
the main loop is busy; it only reads counters and snapshots.
"""
from __future__ import annotations

import asyncio
import os

import ray

from backbone.kis.rest import RestError
from backbone.settings import NAMESPACE, Settings
from upstream.options import SocketOptions
from upstream.service import SocketService

from .router import get_or_create_router

SOCKET_PREFIX = "kis_socket:"


def socket_actor_name(settings: Settings) -> str:
    return f"{SOCKET_PREFIX}{settings.app_key_id}"


def _rest_result(r):
    if isinstance(r, RestError):
        return {"error": {"code": r.code, "message": r.message, "http_status": r.http_status}}
    return r


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, concurrency_groups={"control": 2})
class KISSocketActor:
    def __init__(self, settings: Settings, options: SocketOptions | None = None) -> None:
        self._routers: dict[str, object] = {}
        opts = options or SocketOptions.from_settings(settings)
        self._svc = SocketService(settings, opts, self._deliver)
        self._start = asyncio.get_running_loop().create_task(self._svc.start())  # keep a reference

    async def _deliver(self, symbol: str, batch: dict) -> None:
        h = self._routers.get(symbol)
        if h is None:
            h = self._routers[symbol] = get_or_create_router(symbol)
        try:
            await h.ingest.remote(batch)
        except ray.exceptions.ActorDiedError:
            # Killed for good (ray.kill without restart): a restarting router would have kept the
            # call. Without this the cached handle would fail every batch of this symbol forever.
            h = self._routers[symbol] = get_or_create_router(symbol)
            await h.ingest.remote(batch)

    async def acquire(self, requester: str, subscriptions: list, priority: int = 0,
                      lease_s: float | None = None) -> dict[str, str]:
        """Want `subscriptions` ((tr_id, tr_key) pairs or "tr_id:tr_key") for `requester`.
        Returns per pair: live | pending | polled | refused (SUBSCRIPTION_BUDGET_EXHAUSTED).
        `lease_s`: the requester's demand ends unless it calls `renew` within that many seconds
        (for requesters that can die without releasing, like gateway replicas)."""
        return await self._svc.acquire(requester, subscriptions, priority, lease_s)

    async def renew(self, requester: str) -> bool:
        """Extend the requester's lease; False: there is none any more, acquire again."""
        return await self._svc.renew(requester)

    async def release(self, requester: str, subscriptions: list | None = None) -> None:
        """Drop demand (all of the requester's when None); KIS is unsubscribed after the grace period."""
        await self._svc.release(requester, subscriptions)

    async def view(self, requester: str) -> dict[str, dict]:
        """The requester's pairs with their current state."""
        await self._svc.ready()
        return self._svc.view(requester)

    @ray.method(concurrency_group="control")
    def status(self) -> dict:
        for _ in range(3):  # another thread mutates the book: retry a snapshot caught mid-change
            try:
                return self._svc.status()
            except RuntimeError:
                continue
        return {"error": "status snapshot unavailable, retry"}

    async def get_token(self) -> str:
        """The access token for other REST callers (jobs, Serve). Never log it."""
        return await self._svc.get_token()

    async def rest_current_price(self, symbol: str) -> dict:
        r = await self._svc.current_price(symbol)
        return _rest_result(r if isinstance(r, RestError) else r.model_dump(mode="json"))

    async def rest_minute_bars(self, symbol: str, until: str) -> list | dict:
        """1m candles (oldest first) at/before `until` (HHMMSS) today, via the shared rate limiter."""
        return _rest_result(await self._svc.minute_bars(symbol, until))

    async def ping(self) -> str:
        await self._svc.ready()
        return "ok"

    @ray.method(max_task_retries=0)
    def crash_for_test(self) -> None:
        """Simulate a process crash (restarted by Ray). max_task_retries=0: never a crash loop."""
        os._exit(1)


def get_or_create_socket_actor(settings: Settings, options: SocketOptions | None = None):
    """Race-safe get-or-create; options are ignored when the actor already exists."""
    return KISSocketActor.options(name=socket_actor_name(settings), namespace=NAMESPACE, lifetime="detached",
                                  get_if_exists=True).remote(settings, options)
