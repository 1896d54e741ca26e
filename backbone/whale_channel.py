"""The global `whale` channel: every symbol's alerts in one sequence (held by the alert sender).

Same poll contract as a router channel (backbone.router_core.RouterCore.poll), so the gateway's
feeds treat it alike: events after a seq of an epoch, or a snapshot (recent alerts) with
recovered=false when the ring cannot answer.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable

from backbone.ring import SeqRing
from backbone.stream_protocol import encode, message, snapshot_message

CHANNEL = "whale"


class WhaleChannel:
    def __init__(self, max_events: int = 10_000, max_age_s: float | None = 3600.0, recent: int = 50,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ring: SeqRing[tuple[str, str]] = SeqRing(max_events, max_age_s)
        self.recent: deque[dict] = deque(maxlen=recent)
        self.clock = clock

    @property
    def epoch(self) -> str:
        return self.ring.epoch

    def seed(self, alerts: list[dict]) -> None:
        """Recent alerts from storage after a restart: snapshot content only (not replayable)."""
        self.recent.extend(alerts[-self.recent.maxlen:])

    def append(self, alert: dict) -> int:
        self.recent.append(alert)
        seq = self.ring.last_seq + 1
        return self.ring.append(("whale", encode(message("whale", CHANNEL, seq, self.epoch, alert))), self.clock())

    def snapshot(self, recovered: bool | None = None) -> tuple[int, str]:
        seq = self.ring.last_seq
        return seq, encode(snapshot_message(CHANNEL, seq, self.epoch, {"recent": list(self.recent)}, recovered))

    def poll(self, after_seq: int | None, epoch: str | None = None, limit: int | None = None,
             with_snapshot: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"epoch": self.epoch, "last_seq": self.ring.last_seq, "events": [],
                               "snapshot": None, "recovered": None}
        if after_seq is None:
            out["snapshot"] = self.snapshot()
            return out
        got = None if (epoch is not None and epoch != self.epoch) else self.ring.since(after_seq, limit)
        if got is None:
            out["snapshot"], out["recovered"] = self.snapshot(recovered=False), False
            return out
        out["events"] = [(seq, t, text) for seq, (t, text) in got]
        if got:
            out["last_seq"] = got[-1][0]
        if with_snapshot:
            out["snapshot"] = self.snapshot()
        return out
