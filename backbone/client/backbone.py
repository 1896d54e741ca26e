"""MarketDataBackbone: the SDK's entry point (seed 004), a client of this backbone's HTTP API and
its /ws stream gateway (never of KIS directly).

    async with MarketDataBackbone("http://127.0.0.1:8000") as bb:
        async for t in bb.stream_ticker(["005930"]):
            print(t.symbol, t.current_price)
"""
from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import AsyncIterator, Iterable
from urllib.parse import urlsplit, urlunsplit

import polars as pl

from backbone.backoff import BackoffConfig
from backbone.stream_protocol import SYMBOL_RE

from .breaker import BreakerState, CircuitBreaker
from .cache import TTLCache
from .candles_frame import candles_frame
from .errors import InvalidRange, InvalidSymbol, NoDataFound, StreamTimeout
from .models import ChannelChoice, OrderBookData, Resync, StreamStats, TickerData
from .rest import RestClient
from .stream import Closed, StreamConnection
from .unifier import DataUnifier

log = logging.getLogger("backbone.client")


def _ws_url(base_url: str) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + "/ws", "", ""))


def _symbols(symbols: Iterable[str] | str) -> list[str]:
    if isinstance(symbols, str):
        symbols = [symbols]
    out = []
    for s in symbols:
        sym = str(s).strip().upper()
        if not SYMBOL_RE.match(sym):
            raise InvalidSymbol(f"malformed symbol {str(s)[:20]!r}")
        if sym not in out:
            out.append(sym)
    if not out:
        raise InvalidSymbol("no symbols given")
    return out


class MarketDataBackbone:
    """Async context manager; one HTTP client and (on first stream use) one WebSocket."""

    def __init__(self, base_url: str, api_key: str | None = None, *, ticker_ttl_s: float = 2.0,
                 candles_ttl_s: float = 30.0, breaker: CircuitBreaker | None = None, max_retries: int = 3,
                 stream_backoff: BackoffConfig | None = None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.unifier = DataUnifier()
        self.cache = TTLCache(ttl_s=ticker_ttl_s)
        self.candles_ttl_s = candles_ttl_s
        self.rest = RestClient(self.base_url, api_key, breaker=breaker, max_retries=max_retries,
                               timeout_s=timeout_s)
        self.stream = StreamConnection(_ws_url(self.base_url), api_key, self.unifier, stream_backoff,
                                       on_ticker=self._on_stream_ticker)

    def __repr__(self) -> str:  # never the API key
        return f"MarketDataBackbone({self.base_url!r}, breaker={self.breaker_state.value})"

    async def __aenter__(self) -> "MarketDataBackbone":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.stream.aclose()
        await self.rest.aclose()

    # ------------------------------------------------------------------ observability
    @property
    def breaker(self) -> CircuitBreaker:
        return self.rest.breaker

    @property
    def breaker_state(self) -> BreakerState:
        return self.rest.breaker.state

    @property
    def cache_hit_rate(self) -> float:
        return self.cache.hit_rate

    @property
    def stream_stats(self) -> StreamStats:
        return self.stream.stats

    # ------------------------------------------------------------------ streams
    async def stream_ticker(self, symbols: Iterable[str] | str) -> AsyncIterator[TickerData | Resync]:
        """Trades of `symbols` as TickerData (source "websocket", via "stream"), in seq order per
        symbol, without duplicates across reconnects; a Resync item says when continuity broke."""
        async for item in self._stream([f"trade:{s}" for s in _symbols(symbols)]):
            yield item

    async def stream_orderbook(self, symbols: Iterable[str] | str) -> AsyncIterator[OrderBookData | Resync]:
        """The full reconstructed, checksum-verified book after each snapshot and delta."""
        async for item in self._stream([f"book:{s}" for s in _symbols(symbols)]):
            yield item

    async def _stream(self, channels: list[str]):
        q = await self.stream.open(channels)
        try:
            while True:
                item = await q.get()
                if isinstance(item, Closed):
                    raise item.error
                yield item
        finally:
            await self.stream.close_consumer(q)

    def _on_stream_ticker(self, t: TickerData) -> None:
        # the stream shows a price: cached REST answers of the symbol that differ are stale now
        self.cache.invalidate_symbol(t.symbol, keep=lambda v: isinstance(v, TickerData)
                                     and v.current_price == t.current_price and v.volume == t.volume)

    # ------------------------------------------------------------------ requests
    async def get_ticker(self, symbol: str, channel: ChannelChoice | str = ChannelChoice.AUTO,
                         timeout_s: float = 10.0) -> TickerData:
        """AUTO: this client's live stream when subscribed to the symbol's trades, else the API
        (REST). REST_ONLY: the API with channel=rest. WEBSOCKET_ONLY: the live stream (subscribes
        for the duration of the call when needed, waits up to `timeout_s` for a trade)."""
        sym = _symbols(symbol)[0]
        try:
            choice = ChannelChoice(channel)
        except ValueError:
            raise InvalidRange(f"channel must be one of {', '.join(c.value for c in ChannelChoice)}") from None
        st = self.stream.state(f"trade:{sym}")
        if choice is not ChannelChoice.REST_ONLY and st is not None and st.last_ticker is not None:
            return st.last_ticker
        if choice is ChannelChoice.WEBSOCKET_ONLY:
            return await self._first_streamed(sym, timeout_s)
        wire = "rest" if choice is ChannelChoice.REST_ONLY else "auto"
        key = ("ticker", sym, wire)
        hit = self.cache.get(key)
        if hit is not None:
            return hit.model_copy(update={"cached": True})
        body = await self.rest.get_json(f"/api/ticker/{sym}", {"channel": wire})
        t = self.unifier.from_api(body)
        self.cache.put(key, t, symbol=sym)
        return t

    async def warm_cache(self, symbols: Iterable[str] | str) -> int:
        """Fetch the REST ticker of `symbols` into the cache (seed 004); returns how many answered."""
        got = await asyncio.gather(*(self.get_ticker(s, ChannelChoice.REST_ONLY) for s in _symbols(symbols)),
                                   return_exceptions=True)
        return sum(1 for g in got if isinstance(g, TickerData))

    async def _first_streamed(self, sym: str, timeout_s: float) -> TickerData:
        async def first() -> TickerData:
            async for item in self.stream_ticker([sym]):
                if isinstance(item, TickerData):
                    return item
            raise NoDataFound(f"no trade of {sym} on the stream")
        try:
            return await asyncio.wait_for(first(), timeout_s)
        except asyncio.TimeoutError:
            raise StreamTimeout(f"no trade of {sym} on the stream within {timeout_s:g} s") from None

    async def get_candles(self, symbol: str, interval: str = "1m", start: datetime | date | str | None = None,
                          end: datetime | date | str | None = None, fill: bool = True) -> pl.DataFrame:
        """Candles as a polars DataFrame: time (Datetime, market tz), open, high, low, close,
        volume, is_filled. Cached for `candles_ttl_s`."""
        sym = _symbols(symbol)[0]
        params = {"interval": interval, "fill": "true" if fill else "false"}
        if start is not None:
            params["from"] = start.isoformat() if isinstance(start, (date, datetime)) else str(start)
        if end is not None:
            params["to"] = end.isoformat() if isinstance(end, (date, datetime)) else str(end)
        key = ("candles", sym, tuple(sorted(params.items())))
        hit = self.cache.get(key)
        if hit is None:
            hit = await self.rest.get_json(f"/api/candles/{sym}", params)
            self.cache.put(key, hit, ttl_s=self.candles_ttl_s)  # no symbol: a trade does not change history
        return candles_frame(hit)
