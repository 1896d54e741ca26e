"""Requester leases: demand that ends unless it is renewed.

A stream gateway replica that dies (crash, OOM kill, redeploy) never calls `release`; without a
lease its demand would hold KIS registrations (41 per socket) until someone noticed. A requester
that asks for a lease renews it well within its length (the gateway: every third of it); when a
lease runs out the socket owner releases all of that requester's demand, and the usual grace
period applies before KIS is unsubscribed. Requesters without a lease (jobs, the watchlist) keep
their demand until they release it.

Pure: time is passed in. Lengths are persisted with the wanted set, so a restarted owner gives
every restored leased requester a fresh full lease (a live one renews; a dead one runs out).
"""
from __future__ import annotations

from typing import Mapping

MIN_LEASE_S = 1.0


class LeaseTable:
    def __init__(self) -> None:
        self._length: dict[str, float] = {}
        self._until: dict[str, float] = {}
        self.expired_total = 0

    def grant(self, requester: str, length_s: float, now: float) -> None:
        """Start (or extend, with a new length) `requester`'s lease."""
        length = max(MIN_LEASE_S, float(length_s))
        self._length[requester] = length
        self._until[requester] = now + length

    def renew(self, requester: str, now: float) -> bool:
        """Push the lease's end out by its length; False when there is no lease (it ran out, or the
        owner restarted without it): the requester must acquire its demand again."""
        length = self._length.get(requester)
        if length is None:
            return False
        self._until[requester] = now + length
        return True

    def forget(self, requester: str) -> None:
        """The requester released everything itself."""
        self._length.pop(requester, None)
        self._until.pop(requester, None)

    def expired(self, now: float) -> list[str]:
        """Requesters whose lease ran out (removed from the table): release their demand."""
        out = [r for r, until in self._until.items() if until <= now]
        for r in out:
            self.forget(r)
        self.expired_total += len(out)
        return out

    def lengths(self) -> dict[str, float]:
        """requester -> lease length (what is persisted)."""
        return dict(self._length)

    def restore(self, lengths: Mapping[str, float], now: float) -> None:
        for requester, length in lengths.items():
            self.grant(requester, length, now)

    def remaining(self, requester: str, now: float) -> float | None:
        until = self._until.get(requester)
        return None if until is None else max(0.0, until - now)

    def __len__(self) -> int:
        return len(self._length)
