"""Reconnect delays: capped exponential backoff with jitter, a floor, and a long pause after OPSP8996.

KIS blocks IPs and app keys that loop connect/close, so every delay is at least `min_delay_s`
whatever the jitter draws, and the sequence only resets once a connection has proved stable
(the caller decides when: see `reset`). After OPSP8996 ("ALREADY IN USE appkey") a stale session
slot can linger on the server, so the next delay is at least `in_use_delay_s`.
Pure: the random source is injectable so tests are deterministic.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum


class Reason(str, Enum):
    """Why the previous connection ended (or failed to start)."""

    FAILED = "failed"  # connect refused, closed, stalled, protocol error
    IN_USE = "in_use"  # OPSP8996: another session holds the app key
    AUTH = "auth"  # approval key rejected (OPSP0011)


@dataclass(frozen=True, slots=True)
class BackoffConfig:
    base_s: float = 1.0
    cap_s: float = 30.0
    factor: float = 2.0
    min_delay_s: float = 1.0
    in_use_delay_s: float = 60.0
    jitter: float = 0.5  # fraction of the nominal delay that is randomized (0: none, 1: full jitter)

    def __post_init__(self) -> None:
        if not (0 < self.base_s <= self.cap_s) or self.factor < 1 or not (0 <= self.jitter <= 1):
            raise ValueError("backoff needs 0 < base <= cap, factor >= 1, 0 <= jitter <= 1")
        if self.min_delay_s < 0 or self.in_use_delay_s < 0:
            raise ValueError("backoff delays must be >= 0")


@dataclass(slots=True)
class Backoff:
    config: BackoffConfig = field(default_factory=BackoffConfig)
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0  # consecutive failures since the last reset

    def nominal(self) -> float:
        """The un-jittered delay for the current attempt."""
        c = self.config
        return min(c.cap_s, c.base_s * (c.factor ** self.attempt))

    def next_delay(self, reason: Reason = Reason.FAILED) -> float:
        """Delay before the next connect attempt; advances the sequence."""
        c = self.config
        nominal = self.nominal()
        self.attempt = min(self.attempt + 1, 64)  # no float overflow, ever
        # "equal jitter": keep (1 - jitter) of the delay, randomize the rest; never below the floor.
        delay = nominal * (1 - c.jitter) + self.rng.uniform(0, nominal * c.jitter)
        delay = max(c.min_delay_s, min(c.cap_s, delay))
        if reason is Reason.IN_USE:
            delay = max(delay, c.in_use_delay_s)
        return delay

    def reset(self) -> None:
        """Call once a connection has been healthy for a while, not merely opened."""
        self.attempt = 0
