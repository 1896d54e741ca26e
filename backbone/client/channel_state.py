"""Per-channel continuity on the client (pure): seq/epoch tracking, duplicates dropped, gaps and
lost history turned into explicit Resync events, the order book rebuilt and checksum-verified.

`ChannelState.on_message(msg)` returns (items for the consumers, ops to send). Rules:
- events (trade / delta / whale) with seq <= the last held are duplicates: dropped;
- seq == last + 1 is applied; seq > last + 1 is a gap: dropped, and one `resume` from the last
  seq is sent (the server replays what it still has, or answers with a recovered=false snapshot);
- a snapshot replaces the state; it yields a Resync when continuity broke (recovered=false, other
  epoch, seq beyond last + 1, or we asked for it after a checksum mismatch);
- a delta whose rebuilt book fails the checksum: the book is dropped (never yielded), and the
  channel is re-subscribed (unsubscribe + subscribe -> fresh snapshot); messages are ignored
  until that snapshot arrives.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from backbone.book import (BookError, BookSnapshot, ChecksumMismatch, apply_delta, delta_from_dict,
                           snapshot_from_dict)

from .models import Level, OrderBookData, Resync, StreamStats, TickerData
from .unifier import DataUnifier

log = logging.getLogger("backbone.client")
Item = TickerData | OrderBookData | Resync


class ChannelState:
    def __init__(self, channel: str, unifier: DataUnifier, stats: StreamStats | None = None) -> None:
        self.channel = channel
        self.kind, _, self.symbol = channel.partition(":")
        self.unifier = unifier
        self.stats = stats or StreamStats()
        self.epoch: str | None = None
        self.seq: int | None = None
        self.awaiting_snapshot = True  # until the first snapshot (or after a checksum resync)
        self.resync_reason: str | None = None
        self.resume_pending = False
        self.book: BookSnapshot | None = None
        self.last_ticker: TickerData | None = None

    # ------------------------------------------------------------------ ops
    def reconnect_ops(self) -> list[dict]:
        """What to send for this channel on a fresh socket: resume when we hold a position."""
        self.resume_pending = False
        if self.awaiting_snapshot or self.epoch is None or self.seq is None:
            self.awaiting_snapshot = True
            return [{"op": "subscribe", "channels": [self.channel]}]
        return [{"op": "resume", "channel": self.channel, "epoch": self.epoch, "from_seq": self.seq}]

    def request_resync(self, reason: str) -> list[dict]:
        """Drop the state and ask for a fresh snapshot (unsubscribe + subscribe)."""
        self.awaiting_snapshot = True
        self.resync_reason = reason
        self.book = None
        self.stats.resyncs += 1
        return [{"op": "unsubscribe", "channels": [self.channel]}, {"op": "subscribe", "channels": [self.channel]}]

    # ------------------------------------------------------------------ messages
    def on_message(self, msg: dict, received_ns: int | None = None) -> tuple[list[Item], list[dict]]:
        received_ns = received_ns or time.time_ns()
        seq, epoch, type_ = msg.get("seq"), msg.get("epoch"), msg.get("type")
        if not isinstance(seq, int) or not isinstance(epoch, str):
            return [], []
        if type_ == "snapshot":
            return self._on_snapshot(msg, seq, epoch, received_ns)
        if self.awaiting_snapshot:
            return [], []
        if epoch != self.epoch:  # events of a new epoch before its snapshot: get the snapshot
            return [], self._resume()
        if seq <= (self.seq or 0):
            self.stats.duplicates_dropped += 1
            return [], []
        if seq > (self.seq or 0) + 1:
            if self.resume_pending:
                return [], []
            self.stats.gaps += 1
            return [], self._resume()
        self.resume_pending = False
        self.seq = seq
        return self._apply_event(type_, msg.get("data"), received_ns)

    def _resume(self) -> list[dict]:
        self.resume_pending = True
        return [{"op": "resume", "channel": self.channel, "epoch": self.epoch or "", "from_seq": self.seq or 0}]

    def _on_snapshot(self, msg: dict, seq: int, epoch: str, received_ns: int) -> tuple[list[Item], list[dict]]:
        reason = None
        if self.awaiting_snapshot:
            reason = self.resync_reason  # None on the first subscribe
        elif msg.get("recovered") is False:
            reason = "not_recoverable"
        elif epoch != self.epoch:
            reason = "epoch_changed"
        elif seq <= (self.seq or 0):
            self.stats.duplicates_dropped += 1
            return [], []
        elif seq > (self.seq or 0) + 1:
            reason = "gap"
        items: list[Item] = []
        if reason is not None:
            if reason != "checksum_mismatch":
                self.stats.resyncs += 1
            items.append(Resync(channel=self.channel, reason=reason, from_seq=self.seq, to_seq=seq, epoch=epoch))
        data = msg.get("data")
        if self.kind == "book":
            try:
                self.book = snapshot_from_dict(data if isinstance(data, dict) else {})
            except BookError as exc:
                log.warning("malformed book snapshot on %s: %s", self.channel, exc)
                return [], self.request_resync("malformed_snapshot")
        self.epoch, self.seq = epoch, seq
        self.awaiting_snapshot, self.resync_reason, self.resume_pending = False, None, False
        if self.kind == "book":
            items.append(self._book_item(received_ns))
        elif self.kind == "trade":
            last = data.get("last") if isinstance(data, dict) else None
            if isinstance(last, dict):
                items.append(self._ticker(last, received_ns))
        return items, []

    def _apply_event(self, type_: Any, data: Any, received_ns: int) -> tuple[list[Item], list[dict]]:
        if self.kind == "book" and type_ == "delta":
            try:
                self.book = apply_delta(self.book or BookSnapshot.empty(self.symbol), delta_from_dict(data))
            except ChecksumMismatch as exc:
                self.stats.checksum_mismatches += 1
                log.warning("book %s checksum mismatch at seq %s (%s): resyncing", self.channel, self.seq, exc)
                return [], self.request_resync("checksum_mismatch")
            except BookError as exc:
                log.warning("malformed delta on %s: %s", self.channel, exc)
                return [], self.request_resync("malformed_delta")
            return [self._book_item(received_ns)], []
        if self.kind == "trade" and type_ == "trade" and isinstance(data, dict):
            return [self._ticker(data, received_ns)], []
        return [], []

    def _ticker(self, data: dict, received_ns: int) -> TickerData:
        t = self.unifier.from_stream_trade(data, seq=self.seq, epoch=self.epoch, received_ns=received_ns)
        self.last_ticker = t
        return t

    def _book_item(self, received_ns: int) -> OrderBookData:
        b = self.book
        assert b is not None
        return OrderBookData(symbol=b.symbol or self.symbol, checksum=b.checksum, time=b.time, seq=self.seq or 0,
                             epoch=self.epoch or "", received_ns=received_ns,
                             asks=tuple(Level(price=float(lv.price), size=lv.size) for lv in b.asks),
                             bids=tuple(Level(price=float(lv.price), size=lv.size) for lv in b.bids))

    def corrupt_book_for_test(self) -> bool:
        """Test hook: silently alter the held book (as a bug or a bit flip would) by adding a
        phantom best ask no server delta will ever touch; False when there is no book."""
        from backbone.kis.events import BookLevel
        b = self.book
        if b is None or not b.asks:
            return False
        phantom = BookLevel(b.asks[0].price - 1, 1)  # off-tick: never a real level
        self.book = BookSnapshot(b.symbol, b.time, ((phantom,) + b.asks)[:b.depth], b.bids, b.checksum, b.depth)
        return True
