"""Circuit breaker: closed -> open after `failure_threshold` consecutive failures; open fails fast
for `reset_timeout_s`, then half-open lets one probe through: success closes, failure re-opens.
Pure (injectable clock); state changes are logged and reported to `on_change`."""
from __future__ import annotations

import logging
import time
from enum import Enum
from typing import Callable

from .errors import CircuitOpen

log = logging.getLogger("backbone.client")


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, reset_timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[BreakerState, BreakerState], None] | None = None) -> None:
        if failure_threshold < 1 or reset_timeout_s < 0:
            raise ValueError("failure_threshold >= 1 and reset_timeout_s >= 0")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.clock = clock
        self.on_change = on_change
        self._state = BreakerState.CLOSED
        self.failures = 0  # consecutive
        self.opened_at: float | None = None
        self.times_opened = 0
        self._probe_out = False

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose timeout passed reads as half-open)."""
        if self._state is BreakerState.OPEN and self.clock() - (self.opened_at or 0) >= self.reset_timeout_s:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go out now (one probe at a time when half-open)."""
        st = self.state
        if st is BreakerState.OPEN:
            left = self.reset_timeout_s - (self.clock() - (self.opened_at or 0))
            raise CircuitOpen(f"circuit open after {self.failures} consecutive failures; "
                              f"next probe in {max(0.0, left):.1f} s")
        if st is BreakerState.HALF_OPEN:
            if self._probe_out:
                raise CircuitOpen("circuit half-open: a probe call is in flight")
            self._probe_out = True

    def record_success(self) -> None:
        self._probe_out = False
        self.failures = 0
        if self._state is not BreakerState.CLOSED:
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._probe_out = False
        self.failures += 1
        if self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED and self.failures >= self.failure_threshold):
            self.opened_at = self.clock()
            self.times_opened += 1
            self._set(BreakerState.OPEN)

    def _set(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if old is new:
            return
        log.warning("circuit breaker %s -> %s (consecutive failures: %d)", old.value, new.value, self.failures)
        if self.on_change is not None:
            self.on_change(old, new)
