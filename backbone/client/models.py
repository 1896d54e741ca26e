"""Typed results of the SDK (pydantic): one TickerData whatever the source, the order book, resyncs."""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChannelChoice(str, Enum):
    """Where `get_ticker` may take its answer from (seed 004's ChannelDecision)."""

    AUTO = "auto"  # this client's live stream when subscribed, else the HTTP API (REST)
    REST_ONLY = "rest_only"  # the HTTP API with channel=rest (KIS REST behind it)
    WEBSOCKET_ONLY = "websocket_only"  # this client's live stream (subscribes when needed)


AUTO, REST_ONLY, WEBSOCKET_ONLY = ChannelChoice.AUTO, ChannelChoice.REST_ONLY, ChannelChoice.WEBSOCKET_ONLY


class TickerData(BaseModel):
    """A price observation, the same shape from the stream, the API's live state or REST.

    `suspicious` / `flags`: the unifier's consistency checks failed (price outside the day's
    limits, cumulative volume going backwards, ...); the data is passed on, never silently.
    """

    model_config = ConfigDict(frozen=True)

    symbol: str
    current_price: float
    change_price: float | None = None  # vs the previous close
    change_rate: float | None = None  # percent
    volume: int | None = None  # cumulative volume of the day
    trade_volume: int | None = None  # size of this print (stream only)
    trade_value: int | None = None  # cumulative traded value of the day
    time: datetime | None = None  # exchange time of the print, when known
    source: Literal["websocket", "rest"]
    via: Literal["stream", "http"]  # this client's socket, or an HTTP request
    cached: bool = False
    seq: int | None = None  # stream position (channel trade:<symbol>)
    epoch: str | None = None
    received_ns: int | None = None  # wall clock when this client received it
    suspicious: bool = False
    flags: tuple[str, ...] = ()


class Level(BaseModel):
    model_config = ConfigDict(frozen=True)
    price: float
    size: int


class OrderBookData(BaseModel):
    """The full reconstructed book (top `depth` levels), checksum-verified against the server's."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    asks: tuple[Level, ...]  # best (lowest) first
    bids: tuple[Level, ...]  # best (highest) first
    checksum: int
    time: datetime | None = None
    seq: int
    epoch: str
    received_ns: int | None = None

    @property
    def best_ask(self) -> Level | None:
        return self.asks[0] if self.asks else None

    @property
    def best_bid(self) -> Level | None:
        return self.bids[0] if self.bids else None


class Resync(BaseModel):
    """Continuity broke on a channel: events between `from_seq` and `to_seq` were not delivered.

    reason: "not_recoverable" (the server no longer had them), "epoch_changed" (the source
    restarted), "gap" (the server skipped ahead, e.g. slow consumer), "checksum_mismatch" (the
    rebuilt book did not match; a fresh snapshot replaced it), "slow_consumer" (this consumer fell
    too far behind; its backlog was dropped).
    """

    model_config = ConfigDict(frozen=True)

    channel: str
    reason: str
    from_seq: int | None = None  # last seq held before
    to_seq: int | None = None  # seq of the snapshot that restarted the channel
    epoch: str | None = None


class StreamStats(BaseModel):
    connects: int = 0
    reconnects: int = 0
    last_reconnect_s: float | None = None  # disconnect -> resubscribed, of the last reconnect
    messages: int = 0
    duplicates_dropped: int = 0
    gaps: int = 0
    resyncs: int = 0
    checksum_mismatches: int = 0
    consumer_overflows: int = 0  # a consumer fell too far behind and was resynced
    server_errors: list[dict] = Field(default_factory=list)
