"""The `/ws` stream protocol: client ops in, server messages out (pure, no I/O).

Client -> server (one JSON object per text frame):
    {"op": "subscribe",   "channels": ["trade:005930", "book:005930", "whale", "status"]}
    {"op": "unsubscribe", "channels": [...]}
    {"op": "resume", "channel": "book:005930", "epoch": "3f9c0a1b2c4d", "from_seq": 1234}
`from_seq` is the LAST seq the client holds: the server replays every event with seq > from_seq of
that epoch, or, when it cannot (other epoch, too old, from the future), answers with a `snapshot`
carrying `"recovered": false`. A resume implies a subscribe.

Server -> client: {"type", "channel", "seq", "epoch", "data"} with type one of snapshot, delta,
trade, whale, sector, status, error. A `snapshot` is the full state of its channel as of `seq`
(book: levels + checksum; trade: the last print; whale: recent alerts); the client applies only
later events (seq > snapshot seq). `error` messages carry {"code", "message"} in data and, when
they concern a channel, that channel; the socket stays open.

Channels: trade:<symbol>, book:<symbol>, whale (every symbol), whale:<symbol>, sectors, status.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

MAX_CHANNELS_PER_OP = 100
MAX_MESSAGE_CHARS = 16_384
SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,15}$")
SYMBOL_KINDS = ("trade", "book", "whale")
GLOBAL_CHANNELS = ("whale", "sectors", "status")

# error codes sent in `error` messages
BAD_JSON = "BAD_JSON"
BAD_OP = "BAD_OP"
BAD_CHANNEL = "BAD_CHANNEL"
BAD_RESUME = "BAD_RESUME"
TOO_MANY_CHANNELS = "TOO_MANY_CHANNELS"
SLOW_CONSUMER = "SLOW_CONSUMER"
UPSTREAM_REFUSED = "SUBSCRIPTION_BUDGET_EXHAUSTED"
UNAVAILABLE = "CHANNEL_UNAVAILABLE"

MessageType = Literal["snapshot", "delta", "trade", "whale", "sector", "status", "error"]


@dataclass(frozen=True, slots=True)
class Channel:
    """A parsed channel name: kind ("trade", "book", "whale", "sectors", "status") + symbol."""

    kind: str
    symbol: str | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.symbol}" if self.symbol else self.kind

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Subscribe:
    channels: tuple[Channel, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    channels: tuple[Channel, ...]


@dataclass(frozen=True, slots=True)
class Resume:
    channel: Channel
    epoch: str
    from_seq: int


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """A client message the server rejects; sent back as an `error` message."""

    code: str
    message: str
    channel: str | None = None


ClientOp = Subscribe | Unsubscribe | Resume


def _clip(value: Any, n: int = 40) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= n else text[:n] + "..."


def parse_channel(raw: Any) -> Channel | ProtocolError:
    if not isinstance(raw, str) or not raw or len(raw) > 40:
        return ProtocolError(BAD_CHANNEL, f"channel must be a short string, got {_clip(raw)}")
    if raw in GLOBAL_CHANNELS:
        return Channel(raw)
    kind, sep, symbol = raw.partition(":")
    if not sep or kind not in SYMBOL_KINDS:
        return ProtocolError(BAD_CHANNEL, f"unknown channel {_clip(raw)!r}", _clip(raw))
    symbol = symbol.strip().upper()
    if not SYMBOL_RE.match(symbol):
        return ProtocolError(BAD_CHANNEL, f"malformed symbol in channel {_clip(raw)!r}", _clip(raw))
    return Channel(kind, symbol)


def _channel_list(msg: dict) -> tuple[Channel, ...] | ProtocolError:
    raw = msg.get("channels")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        return ProtocolError(BAD_OP, "`channels` must be a non-empty list of channel names")
    if len(raw) > MAX_CHANNELS_PER_OP:
        return ProtocolError(TOO_MANY_CHANNELS, f"at most {MAX_CHANNELS_PER_OP} channels per message")
    out: list[Channel] = []
    for item in raw:
        ch = parse_channel(item)
        if isinstance(ch, ProtocolError):
            return ch
        if ch not in out:
            out.append(ch)
    return tuple(out)


def parse_client_message(text: Any) -> ClientOp | ProtocolError:
    """One client frame -> a typed op, or a ProtocolError (never raises)."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            return ProtocolError(BAD_JSON, "binary frames must be UTF-8 JSON")
    if not isinstance(text, str):
        return ProtocolError(BAD_JSON, "expected a JSON text frame")
    if len(text) > MAX_MESSAGE_CHARS:
        return ProtocolError(BAD_JSON, f"message longer than {MAX_MESSAGE_CHARS} characters")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        return ProtocolError(BAD_JSON, "message is not valid JSON")
    if not isinstance(msg, dict):
        return ProtocolError(BAD_OP, "message must be a JSON object with an `op`")
    op = msg.get("op")
    if op in ("subscribe", "unsubscribe"):
        chans = _channel_list(msg)
        if isinstance(chans, ProtocolError):
            return chans
        return Subscribe(chans) if op == "subscribe" else Unsubscribe(chans)
    if op == "resume":
        ch = parse_channel(msg.get("channel"))
        if isinstance(ch, ProtocolError):
            return ch
        epoch, seq = msg.get("epoch"), msg.get("from_seq")
        if not isinstance(epoch, str) or not epoch or len(epoch) > 64:
            return ProtocolError(BAD_RESUME, "`epoch` must be the epoch string the server sent", ch.name)
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            return ProtocolError(BAD_RESUME, "`from_seq` must be a non-negative integer", ch.name)
        return Resume(ch, epoch, seq)
    return ProtocolError(BAD_OP, f"unknown op {_clip(op)!r}; use subscribe, unsubscribe or resume")


# --- server messages ----------------------------------------------------------------------------

def message(type_: MessageType, channel: str | None, seq: int | None, epoch: str | None,
            data: Any, **extra: Any) -> dict[str, Any]:
    out = {"type": type_, "channel": channel, "seq": seq, "epoch": epoch, "data": data}
    out.update(extra)
    return out


def encode(msg: dict[str, Any]) -> str:
    """Compact JSON text (one serialization, sent to every subscriber as is)."""
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False, default=str)


def snapshot_message(channel: str, seq: int, epoch: str, data: Any,
                     recovered: bool | None = None) -> dict[str, Any]:
    """Full channel state as of `seq`; `recovered` is set only on resume answers."""
    if recovered is None:
        return message("snapshot", channel, seq, epoch, data)
    return message("snapshot", channel, seq, epoch, data, recovered=recovered)


def error_message(err: ProtocolError | str, message_text: str | None = None,
                  channel: str | None = None) -> dict[str, Any]:
    if isinstance(err, ProtocolError):
        code, text, channel = err.code, err.message, err.channel
    else:
        code, text = err, message_text or err
    return message("error", channel, None, None, {"code": code, "message": text})


def status_message(seq: int, epoch: str, data: dict[str, Any]) -> dict[str, Any]:
    return message("status", "status", seq, epoch, data)
