"""Where the stream gateway's data comes from, over Ray: routers, the alert sender, the socket actor.

`RaySources` is the only place the gateway touches Ray. Channel -> source:
  trade:<sym>, book:<sym>, whale:<sym>  -> RouterActor "router:<sym>" (created on demand)
  whale                                 -> AlertSenderActor "alert_sender" (all symbols' alerts)
  status                                -> KISSocketActor.status(), summarized by the hub
Demand: trade:/whale:<sym> need H0STCNT0 <sym>, book:<sym> needs H0STASP0 <sym>.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray

from backbone.settings import NAMESPACE, Settings
from backbone.stream_protocol import Channel

log = logging.getLogger("serve_app.stream")
TRADE_TR, BOOK_TR = "H0STCNT0", "H0STASP0"


def upstream_pairs(ch: Channel) -> list[tuple[str, str]]:
    """KIS registrations a channel needs."""
    if ch.symbol is None:
        return []
    return [(BOOK_TR, ch.symbol)] if ch.kind == "book" else [(TRADE_TR, ch.symbol)]


class SourceUnavailable(RuntimeError):
    """The actor behind a channel cannot be reached right now (restarting, not deployed)."""


class RaySources:
    def __init__(self, settings: Settings | None = None, socket_actor: Any = None) -> None:
        self.settings = settings
        self._socket = socket_actor
        self._routers: dict[str, Any] = {}
        self._alerts: Any = None

    # --------------------------------------------------------------- handles
    def router(self, symbol: str):
        h = self._routers.get(symbol)
        if h is None:
            from actors.router import get_or_create_router
            h = self._routers[symbol] = get_or_create_router(symbol)
        return h

    def socket_actor(self):
        if self._socket is None:
            from actors.kis_socket import socket_actor_name
            settings = self.settings or Settings.from_env()
            try:
                self._socket = ray.get_actor(socket_actor_name(settings), namespace=NAMESPACE)
            except ValueError as exc:
                raise SourceUnavailable("the KIS socket actor is not running") from exc
        return self._socket

    def alert_sender(self):
        if self._alerts is None:
            from actors.alert_sender import ALERT_SENDER_NAME
            try:
                self._alerts = ray.get_actor(ALERT_SENDER_NAME, namespace=NAMESPACE)
            except ValueError as exc:
                raise SourceUnavailable("the alert sender is not running") from exc
        return self._alerts

    def _handle(self, ch: Channel):
        if ch.symbol is not None:
            return self.router(ch.symbol), ch.kind
        if ch.kind == "whale":
            return self.alert_sender(), None
        raise SourceUnavailable(f"channel {ch.name} has no pull source")

    def _forget(self, ch: Channel) -> None:
        """After a failed call: look the handle up again next time (the actor may be new)."""
        if ch.symbol is not None:
            self._routers.pop(ch.symbol, None)
        elif ch.kind == "whale":
            self._alerts = None

    # --------------------------------------------------------------- calls
    async def poll(self, ch: Channel, after_seq: int | None, max_wait: float, epoch: str | None = None,
                   limit: int | None = 5000, with_snapshot: bool = False) -> dict:
        h, kind = self._handle(ch)
        try:
            if kind is None:
                return await h.poll.remote(after_seq, max_wait, epoch, limit, with_snapshot)
            return await h.poll.remote(kind, after_seq, max_wait, epoch, limit, with_snapshot)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
            self._forget(ch)
            raise SourceUnavailable(f"{ch.name}: {type(exc).__name__}") from exc
        except ray.exceptions.RayError as exc:  # anything else Ray reports: the channel is unavailable now
            raise SourceUnavailable(f"{ch.name}: {type(exc).__name__}") from exc

    async def resync_book(self, symbol: str) -> None:
        try:
            await self.router(symbol).resync.remote()
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            self._routers.pop(symbol, None)

    async def acquire(self, requester: str, pairs: list[tuple[str, str]], priority: int,
                      lease_s: float | None = None) -> dict[str, str]:
        if not pairs:
            return {}
        try:
            return await self.socket_actor().acquire.remote(requester, pairs, priority, lease_s)
        except ray.exceptions.RayError as exc:
            self._socket = None
            raise SourceUnavailable(f"demand not registered: {type(exc).__name__}") from exc

    async def renew(self, requester: str) -> bool:
        """Extend this gateway's lease on its demand (False: gone, acquire again)."""
        try:
            return await asyncio.wait_for(self.socket_actor().renew.remote(requester), 5.0)
        except (ray.exceptions.RayError, asyncio.TimeoutError) as exc:
            self._socket = None
            raise SourceUnavailable(f"lease not renewed: {type(exc).__name__}") from exc

    async def release(self, requester: str, pairs: list[tuple[str, str]]) -> None:
        if pairs:
            await self.socket_actor().release.remote(requester, pairs)

    async def alerts_status(self) -> dict | None:
        """The alert sender's status (None when it is not running)."""
        try:
            return await asyncio.wait_for(self.alert_sender().status.remote(), 5.0)
        except (SourceUnavailable, ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError,
                asyncio.TimeoutError):
            self._alerts = None
            return None

    async def upstream_status(self) -> dict:
        try:
            return await asyncio.wait_for(self.socket_actor().status.remote(), 5.0)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError, asyncio.TimeoutError) as exc:
            self._socket = None
            raise SourceUnavailable(type(exc).__name__) from exc
