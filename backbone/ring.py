"""Sequence-numbered ring buffer of recent events, for long-poll and resume.

A router appends every outgoing event; gateways ask for "everything after seq N". The pair
(epoch, seq) identifies an event: seqs restart at 1 in a new epoch, so a client that presents an
unknown epoch, a seq from the future, or a seq the ring no longer reaches back to must resync from a
snapshot (`since` answers None).
"""
from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def new_epoch() -> str:
    """A short random identifier (12 hex chars) that tells router incarnations apart."""
    return uuid.uuid4().hex[:12]


class SeqRing(Generic[T]):
    """Keeps at most `max_events` events, and none older than `max_age_s` (relative to the newest).

    `ts` is any monotonic float clock in seconds (e.g. time.monotonic() or an exchange timestamp);
    age eviction compares timestamps only, so the ring never reads a clock itself.
    """

    __slots__ = ("max_events", "max_age_s", "epoch", "_items", "_head", "_first_seq", "_last_seq")

    def __init__(self, max_events: int, max_age_s: float | None = None) -> None:
        if max_events < 1:
            raise ValueError("max_events must be >= 1")
        if max_age_s is not None and max_age_s <= 0:
            raise ValueError("max_age_s must be > 0 or None")
        self.max_events = max_events
        self.max_age_s = max_age_s
        self.reset()

    def reset(self) -> None:
        """Drop everything and start a new epoch; seqs restart at 1."""
        self.epoch: str = new_epoch()
        # A list with a moving head gives O(1) indexing by seq; compacted when the head passes half.
        self._items: list[tuple[int, float, T]] = []
        self._head = 0
        self._first_seq = 1
        self._last_seq = 0

    @property
    def last_seq(self) -> int:
        """Seq of the newest event ever appended in this epoch (0 before the first)."""
        return self._last_seq

    @property
    def first_seq(self) -> int:
        """Seq of the oldest event still held (last_seq + 1 when empty)."""
        return self._first_seq

    def __len__(self) -> int:
        return len(self._items) - self._head

    def append(self, payload: T, ts: float) -> int:
        """Store `payload`, return its seq (1, 2, 3, ...)."""
        self._last_seq += 1
        self._items.append((self._last_seq, ts, payload))
        self._evict(ts)
        return self._last_seq

    def evict(self, now: float) -> None:
        """Drop events older than max_age_s relative to `now` (call on idle ticks)."""
        self._evict(now)

    def since(self, after_seq: int, limit: int | None = None) -> list[tuple[int, T]] | None:
        """Events with seq > after_seq, oldest first (at most `limit`).

        [] when the caller is up to date; None when the ring cannot answer exactly: after_seq is
        older than what is held (after_seq < first_seq - 1), or newer than anything appended
        (a seq from another epoch).
        """
        if after_seq > self._last_seq or after_seq < self._first_seq - 1:
            return None
        start = self._head + (after_seq - self._first_seq + 1)
        stop = len(self._items) if limit is None else min(len(self._items), start + max(limit, 0))
        return [(seq, payload) for seq, _, payload in self._items[start:stop]]

    def snapshot_state(self) -> dict[str, Any]:
        """Cursor info for status pages and resume answers."""
        return {"epoch": self.epoch, "first_seq": self._first_seq, "last_seq": self._last_seq,
                "size": len(self)}

    def _evict(self, now: float) -> None:
        items = self._items
        head = self._head
        excess = len(items) - head - self.max_events
        if excess > 0:
            head += excess
        if self.max_age_s is not None:
            cutoff = now - self.max_age_s
            while head < len(items) and items[head][1] < cutoff:
                head += 1
        if head != self._head:
            self._first_seq = items[head][0] if head < len(items) else self._last_seq + 1
            if head > 64 and head * 2 > len(items):
                del items[:head]
                head = 0
            self._head = head
