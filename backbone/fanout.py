"""Per-client bounded outgoing queue with channel-aware overflow policy (pure, no I/O).

One queue per WebSocket; the gateway's pull loops `push` pre-encoded texts into every subscriber's
queue (never awaiting), and one writer task per socket `pop`s and sends. A socket that stops
reading therefore only fills its own queue, and the queue is bounded:

- Book channels (`book:*`) merge: when a client holds more than `book_backlog` undelivered book
  messages of one channel, or the queue is full, those messages are dropped and the channel is
  marked as needing a fresh snapshot; the next snapshot `offer_snapshot` gives replaces the whole
  backlog. A slow book reader gets the current state, not a growing history.
- Every other channel (trades, whales, status) is lossless up to `max_messages` in total. Past that
  the channel's queued messages are dropped, the client gets one SLOW_CONSUMER error for it and
  the channel resyncs from a snapshot.
While a channel waits for its snapshot, its new events are dropped (the snapshot will cover them);
a snapshot older than what the client already has queued is still a valid reset point because
it replaces every queued message of that channel.
"""
from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

CONTROL_SLACK = 64  # room for error messages beyond max_messages


class Push(enum.Enum):
    QUEUED = "queued"
    DROPPED = "dropped"  # channel waits for a snapshot; this event is covered by it
    MERGED = "merged"  # book backlog collapsed: a snapshot is needed
    SLOW_CONSUMER = "slow_consumer"  # lossless channel overflowed: send the error, then a snapshot


@dataclass
class QueueStats:
    queued: int = 0
    sent: int = 0
    dropped: int = 0
    merges: int = 0
    slow_consumer: int = 0
    max_depth: int = 0


def is_mergeable(channel: str) -> bool:
    return channel.startswith("book:")


class ClientQueue:
    def __init__(self, max_messages: int = 2000, book_backlog: int = 64) -> None:
        if max_messages < 2 or book_backlog < 1:
            raise ValueError("max_messages >= 2 and book_backlog >= 1 required")
        self.max_messages = max_messages
        self.book_backlog = book_backlog
        self._q: deque[tuple[str | None, str]] = deque()
        self._count: dict[str, int] = {}
        self._awaiting: set[str] = set()
        self.stats = QueueStats()

    def __len__(self) -> int:
        return len(self._q)

    def awaiting_snapshot(self) -> frozenset[str]:
        """Channels whose next delivery must be a snapshot."""
        return frozenset(self._awaiting)

    def push(self, channel: str, text: str) -> Push:
        """Queue one event of `channel` (never blocks)."""
        if channel in self._awaiting:
            self.stats.dropped += 1
            return Push.DROPPED
        n = self._count.get(channel, 0)
        full = len(self._q) >= self.max_messages
        if is_mergeable(channel):
            if full or n >= self.book_backlog:
                self._drop_channel(channel)
                self._awaiting.add(channel)
                self.stats.merges += 1
                return Push.MERGED
        elif full:
            self._drop_channel(channel)
            self._awaiting.add(channel)
            self.stats.slow_consumer += 1
            return Push.SLOW_CONSUMER
        self._append(channel, text)
        return Push.QUEUED

    def offer_snapshot(self, channel: str, text: str) -> bool:
        """Reset `channel` to this snapshot: drop its queued events, queue the snapshot, resume it.

        Always accepted (it replaces the channel's backlog); returns False when the channel was
        not awaiting one (a plain subscribe or resume answer).
        """
        was = channel in self._awaiting
        self._awaiting.discard(channel)
        self._drop_channel(channel)
        self._append(channel, text)  # may exceed max_messages by at most one per channel
        return was

    def push_control(self, text: str) -> bool:
        """Errors and acks; dropped (False) only when the queue is over its bound by CONTROL_SLACK."""
        if len(self._q) >= self.max_messages + CONTROL_SLACK:
            self.stats.dropped += 1
            return False
        self._q.append((None, text))
        self._note_depth()
        return True

    def pop(self) -> str | None:
        if not self._q:
            return None
        channel, text = self._q.popleft()
        if channel is not None:
            left = self._count[channel] - 1
            if left:
                self._count[channel] = left
            else:
                del self._count[channel]
        self.stats.sent += 1
        return text

    def await_snapshot(self, channel: str) -> None:
        """Drop the channel's backlog; its next delivery will be a snapshot (resync on demand)."""
        self._drop_channel(channel)
        self._awaiting.add(channel)

    def forget(self, channel: str) -> None:
        """The client unsubscribed: drop what is queued for the channel."""
        self._awaiting.discard(channel)
        self._drop_channel(channel)

    def depth(self, channel: str) -> int:
        return self._count.get(channel, 0)

    def _append(self, channel: str, text: str) -> None:
        self._q.append((channel, text))
        self._count[channel] = self._count.get(channel, 0) + 1
        self.stats.queued += 1
        self._note_depth()

    def _note_depth(self) -> None:
        if len(self._q) > self.stats.max_depth:
            self.stats.max_depth = len(self._q)

    def _drop_channel(self, channel: str) -> None:
        n = self._count.pop(channel, 0)
        if n:
            self._q = deque(item for item in self._q if item[0] != channel)
            self.stats.dropped += n
