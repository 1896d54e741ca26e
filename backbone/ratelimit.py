"""Token bucket for KIS REST calls (20/s real, 2/s paper), pure with an injectable clock.

One bucket per app key, shared by every REST caller of that key. `try_acquire` never blocks: it
either takes a token or says how long to wait, so async callers sleep outside the bucket and
tests drive the clock by hand.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(slots=True)
class TokenBucket:
    rate_per_s: float
    burst: float | None = None  # bucket size; default: one second of rate (at least 1)
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _last: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0")
        if self.burst is None:
            self.burst = max(1.0, self.rate_per_s)
        if self.burst < 1:
            raise ValueError("burst must be >= 1")
        self._tokens = float(self.burst)
        self._last = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._last)  # a clock that goes backwards adds nothing
        self._last = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)

    def try_acquire(self, n: float = 1.0) -> float:
        """Take `n` tokens if available and return 0.0; otherwise take nothing and return the wait in s."""
        if n > self.burst:
            raise ValueError("cannot acquire more than the burst size at once")
        self._refill()
        if self._tokens >= n - 1e-9:  # float dust must not cost a wait
            self._tokens -= n
            return 0.0
        return (n - self._tokens) / self.rate_per_s

    def reserve(self, n: float = 1.0) -> float:
        """Take `n` tokens now, going into debt if needed; return how long the caller must wait.

        Callers that reserve are served strictly in order (each waits for its own slot), which keeps
        many concurrent async callers fair without a queue.
        """
        self._refill()
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate_per_s

    def penalize(self, seconds: float) -> None:
        """The server said we were too fast (EGW00201): pause the whole bucket for `seconds`."""
        self._refill()
        self._tokens = min(self._tokens, 0.0) - seconds * self.rate_per_s

    @property
    def available(self) -> float:
        self._refill()
        return self._tokens
