"""Fault injection state shared by the WebSocket and REST sides (see /_sim/faults/*)."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from .frames import MALFORMED_KINDS

# msg_cd -> (rt_cd, msg1) for replies a test can force with /_sim/faults/reply.
REPLY_CATALOGUE = {
    "OPSP0000": ("0", "SUBSCRIBE SUCCESS"),
    "OPSP0001": ("0", "UNSUBSCRIBE SUCCESS"),
    "OPSP0002": ("1", "ALREADY IN SUBSCRIBE"),
    "OPSP0003": ("1", "UNSUBSCRIBE ERROR(not found!)"),
    "OPSP0007": ("1", "SUBSCRIBE INTERNAL ERROR"),
    "OPSP0008": ("1", "MAX SUBSCRIBE OVER"),
    "OPSP0009": ("1", "SUBSCRIBE ERROR : mci send failed"),
    "OPSP0011": ("1", "invalid appkey : NOT FOUND"),
    "OPSP8991": ("1", "SUBSCRIBE ERROR : invalid tr_id"),
    "OPSP8996": ("9", "ALREADY IN USE appkey"),
    "OPSP8997": ("1", "JSON PARSING ERROR : invalid tr_type"),
    "OPSP8998": ("1", "JSON PARSING ERROR : invalid custtype"),
    "OPSP9990": ("1", "JSON PARSING ERROR : tr_key not found"),
    "OPSP9991": ("1", "JSON PARSING ERROR : input not found"),
    "OPSP9992": ("1", "JSON PARSING ERROR : body not found"),
    "OPSP9998": ("1", "JSON PARSING ERROR : header not found"),
    "OPSP9999": ("1", "JSON PARSING ERROR : invalid json format"),
}


@dataclass
class Faults:
    stall_until: float = 0.0  # monotonic
    refuse_until: float = 0.0
    malformed_left: int = 0
    malformed_next: int = 0  # index into MALFORMED_KINDS (cycles)
    loss_left: int = 0
    frames_lost: int = 0
    frames_malformed: int = 0
    replies: deque[str] = field(default_factory=deque)

    def stalled(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.stall_until

    def refusing(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.refuse_until

    def take_loss(self) -> bool:
        if self.loss_left > 0:
            self.loss_left -= 1
            self.frames_lost += 1
            return True
        return False

    def take_malformed(self) -> str | None:
        if self.malformed_left > 0:
            self.malformed_left -= 1
            self.frames_malformed += 1
            kind = MALFORMED_KINDS[self.malformed_next % len(MALFORMED_KINDS)]
            self.malformed_next += 1
            return kind
        return None

    def take_reply(self) -> str | None:
        return self.replies.popleft() if self.replies else None

    def describe(self, now: float | None = None) -> dict:
        now = time.monotonic() if now is None else now
        return {"stall_s_left": max(0.0, self.stall_until - now), "refuse_s_left": max(0.0, self.refuse_until - now),
                "malformed_left": self.malformed_left, "loss_left": self.loss_left,
                "frames_lost": self.frames_lost, "frames_malformed": self.frames_malformed,
                "replies_queued": list(self.replies)}
