"""`LiveSource` over Ray: the `router:<symbol>` actors (live trade and book) and the socket
owner `kis_socket:<app_key_id>` (REST current price through its token and rate limiter, upstream
status). Used by the Serve deployment; every call is bounded by a timeout, and any Ray failure
(actor missing, restarting, dead) becomes UpstreamUnavailable, never a 500.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import ray

from actors.kis_socket import SOCKET_PREFIX, socket_actor_name
from actors.router import ROUTER_PREFIX, router_name
from backbone.settings import NAMESPACE, Settings

from .aio import within
from .errors import UpstreamUnavailable

log = logging.getLogger("serve_app")
KST = ZoneInfo("Asia/Seoul")
CALL_TIMEOUT_S = 5.0
_TRADE_FIELDS = ("price", "size", "side", "cum_volume", "cum_value", "open", "high", "low", "change",
                 "change_rate", "ask1", "bid1", "session", "halted")


def _iso(ts_ns: int | None) -> str | None:
    if ts_ns is None:
        return None
    return datetime.fromtimestamp(ts_ns / 1e9, timezone.utc).astimezone(KST).isoformat()


def trade_json(row: dict) -> dict[str, Any]:
    """A router trade row (ingest_batch TRADE_COLUMNS) in the API's shape."""
    out = {"time": _iso(row.get("ts_ns"))}
    out.update({k: row[k] for k in _TRADE_FIELDS if k in row})
    return out


def book_json(row: dict) -> dict[str, Any]:
    """A router book row (ingest_batch BOOK_COLUMNS): levels best first as {price, size}."""
    def levels(px, sz):
        return [{"price": p, "size": s} for p, s in zip(px or [], sz or [])]
    return {"time": _iso(row.get("ts_ns")), "asks": levels(row.get("ask_px"), row.get("ask_sz")),
            "bids": levels(row.get("bid_px"), row.get("bid_sz")),
            "total_ask_size": row.get("total_ask_size"), "total_bid_size": row.get("total_bid_size"),
            "cum_volume": row.get("cum_volume")}


class RayLiveSource:
    def __init__(self, settings: Settings | None = None, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self._settings = settings or Settings.from_env()
        self.timeout_s = timeout_s

    def _actor(self, name: str):
        if not ray.is_initialized():
            return None
        try:
            return ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:  # no such actor
            return None

    async def _call(self, method, *args):
        try:
            return await within(method.remote(*args), self.timeout_s)
        except asyncio.TimeoutError:
            raise UpstreamUnavailable("the live actor did not answer in time") from None
        except ray.exceptions.RayError as exc:  # restarting, dead, lost
            raise UpstreamUnavailable(f"the live actor is unavailable ({type(exc).__name__})") from None

    async def _latest(self, symbol: str) -> dict | None:
        router = self._actor(router_name(symbol))
        if router is None:
            return None
        return await self._call(router.latest)

    async def latest_trade(self, symbol: str) -> dict[str, Any] | None:
        latest = await self._latest(symbol)
        row = latest and latest.get("trade")
        return trade_json(row) if row else None

    async def latest_book(self, symbol: str) -> dict[str, Any] | None:
        latest = await self._latest(symbol)
        row = latest and latest.get("book")
        return book_json(row) if row else None

    def _socket(self):
        owner = self._actor(socket_actor_name(self._settings))
        if owner is None:
            owner = self._only_socket_owner()
        if owner is None:
            raise UpstreamUnavailable("the KIS socket owner is not running")
        return owner

    def _only_socket_owner(self):
        """The one socket owner in the namespace, when this replica's environment lacks the app
        key that names it (e.g. replicas on a cluster started without KIS_APP_KEY)."""
        if not ray.is_initialized():
            return None
        names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                 if a.get("namespace") == NAMESPACE and a["name"].startswith(SOCKET_PREFIX)]
        return self._actor(names[0]) if len(names) == 1 else None

    async def rest_quote(self, symbol: str) -> dict[str, Any]:
        result = await self._call(self._socket().rest_current_price, symbol)
        if isinstance(result, dict) and "error" in result:
            err = result["error"]
            raise UpstreamUnavailable(f"KIS REST error {err.get('code')}: {err.get('message')}")
        return result

    async def rest_book(self, symbol: str) -> dict[str, Any]:
        raise UpstreamUnavailable("the REST order book is not offered by the socket owner; "
                                  "use channel=websocket for a streamed symbol")

    async def upstream_status(self) -> dict[str, Any]:
        owner = self._socket()
        status = await self._call(owner.status)
        feeds = {}
        if ray.is_initialized():
            names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                     if a.get("namespace") == NAMESPACE and a["name"].startswith(ROUTER_PREFIX)]
            results = await asyncio.gather(
                *(self._call(self._actor(n).status) for n in names if self._actor(n) is not None),
                return_exceptions=True)
            for name, res in zip(names, results):
                feeds[name[len(ROUTER_PREFIX):]] = res if isinstance(res, dict) else \
                    {"state": "unavailable", "detail": str(res)}
        return {"socket": status, "feeds": feeds}
