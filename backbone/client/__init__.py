"""Python SDK for the market-data backbone (seed 004): streams, tickers, candles over its HTTP API
and /ws gateway. Pure client: httpx + websockets, no Ray, no database."""
from .backbone import MarketDataBackbone
from .breaker import BreakerState, CircuitBreaker
from .cache import TTLCache
from .errors import (BackboneError, CircuitOpen, ConnectionFailed, DatabaseUnavailable, InternalServerError,
                     InvalidInterval, InvalidRange, InvalidSymbol, NoDataFound, RateLimited, StreamTimeout,
                     Unauthorized, UpstreamUnavailable)
from .models import (AUTO, REST_ONLY, WEBSOCKET_ONLY, ChannelChoice, Level, OrderBookData, Resync, StreamStats,
                     TickerData)
from .unifier import DataUnifier

__all__ = ["MarketDataBackbone", "ChannelChoice", "AUTO", "REST_ONLY", "WEBSOCKET_ONLY", "TickerData",
           "OrderBookData", "Level", "Resync", "StreamStats", "DataUnifier", "TTLCache", "CircuitBreaker",
           "BreakerState", "BackboneError", "CircuitOpen", "ConnectionFailed", "DatabaseUnavailable",
           "InternalServerError", "InvalidInterval", "InvalidRange", "InvalidSymbol", "NoDataFound", "RateLimited",
           "StreamTimeout", "Unauthorized", "UpstreamUnavailable"]
