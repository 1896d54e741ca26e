"""What the ticker, order-book and status routes need from the live side, as a small interface.

`LiveSource` is implemented over Ray handles (the socket actor and the `router:<symbol>` actors)
by `serve_app.live_ray.RayLiveSource`; `NoLiveSource` answers when nothing live is wired (the API
then reports UPSTREAM_UNAVAILABLE for live data and still serves candles).

Channel selection (seed 004): `auto` takes the router's live state when the symbol is streamed,
else the REST current price through the socket actor (its token and rate limiter); `websocket`
only the live state (NO_DATA_FOUND when not streamed); `rest` only REST.
"""
from __future__ import annotations

from typing import Any, Literal, Protocol

from .errors import ApiError, UpstreamUnavailable

Channel = Literal["auto", "websocket", "rest"]
CHANNELS = ("auto", "websocket", "rest")


class LiveSource(Protocol):
    async def latest_trade(self, symbol: str) -> dict[str, Any] | None:
        """The router's last trade as JSON-ready data; None when the symbol is not streamed."""

    async def latest_book(self, symbol: str) -> dict[str, Any] | None:
        """The router's current book (asks/bids best first); None when not streamed."""

    async def rest_quote(self, symbol: str) -> dict[str, Any]:
        """Current price from KIS REST; raises UpstreamUnavailable when KIS cannot answer."""

    async def rest_book(self, symbol: str) -> dict[str, Any]:
        """Order book from KIS REST; raises UpstreamUnavailable when KIS cannot answer."""

    async def upstream_status(self) -> dict[str, Any]:
        """Upstream state, registrations used / budget, feed health per symbol."""


class NoLiveSource:
    """Nothing live is wired into this app (e.g. candles-only deployments, tests)."""

    reason = "no live source is connected to this API"

    async def latest_trade(self, symbol: str) -> None:
        return None

    async def latest_book(self, symbol: str) -> None:
        return None

    async def rest_quote(self, symbol: str) -> dict[str, Any]:
        raise UpstreamUnavailable(self.reason)

    async def rest_book(self, symbol: str) -> dict[str, Any]:
        raise UpstreamUnavailable(self.reason)

    async def upstream_status(self) -> dict[str, Any]:
        return {"state": "not_connected", "detail": self.reason}


async def pick(kind: Literal["ticker", "orderbook"], live: LiveSource, symbol: str,
               channel: str) -> dict[str, Any]:
    """Answer a ticker / orderbook request by the channel rule; says which source answered."""
    if channel not in CHANNELS:
        raise ApiError("INVALID_RANGE", f"channel must be one of {', '.join(CHANNELS)}")
    if channel in ("auto", "websocket"):
        data = await (live.latest_trade(symbol) if kind == "ticker" else live.latest_book(symbol))
        if data is not None:
            return {"symbol": symbol, "source": "websocket", "data": data}
        if channel == "websocket":
            raise ApiError("NO_DATA_FOUND", f"{symbol} is not streamed; try channel=rest or auto")
    data = await (live.rest_quote(symbol) if kind == "ticker" else live.rest_book(symbol))
    return {"symbol": symbol, "source": "rest", "data": data}
