"""Subscription book: ref-counted demand and the scheduling of KIS's 41-registration budget.

One KIS socket carries at most `budget` registrations, each a (tr_id, tr_key) pair. Many
requesters (stream gateways, jobs, the watchlist) want pairs; this book decides which pairs hold a
registration, and tells the connection loop what to send:

- Demand is counted per pair and per requester; a pair nobody wants lingers for `grace_s` before it
  is unsubscribed (a browser refresh must not churn KIS).
- The budget is scheduled by priority (a pair's priority is the highest of its requesters'), ties
  by who asked first. A registered pair is evicted only by a strictly higher priority and only
  after it has been held `min_hold_s` (no subscribe/unsubscribe loops); lingering pairs go first.
- A wanted pair without a registration is POLLED when its TR can be replaced by REST polling of the
  current price (`pollable`), otherwise REFUSED (SUBSCRIPTION_BUDGET_EXHAUSTED). OPSP0008 from the
  server refuses the pair for `min_hold_s` even when our own count had room.
- Error policy on replies: OPSP0002 (already subscribed) -> unsubscribe then subscribe again;
  OPSP0007 / other errors -> retry after `retry_s`; OPSP0011 -> retry after the approval key
  refresh the connection loop performs.

Pure: no I/O, time is passed in. The connection loop calls `plan()` and sends what it returns,
feeds replies to `on_reply()`, and calls `on_disconnect()` when the socket goes away.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Mapping

from backbone.kis.control import ReplyKind

Key = tuple[str, str]  # (tr_id, tr_key)

BUDGET_EXHAUSTED = "SUBSCRIPTION_BUDGET_EXHAUSTED"

# Priorities (higher wins a registration). Suggested values for the known requesters.
PRIORITY_VIEWER = 10  # a browser/stream client is looking at it now
PRIORITY_JOB = 5
PRIORITY_WATCHLIST = 0  # the default watchlist: first to fall back to polling


class SlotState(str, Enum):
    QUEUED = "queued"  # holds a slot, subscribe not sent yet
    SUBSCRIBING = "subscribing"  # subscribe sent, waiting for the reply
    LIVE = "live"  # acknowledged by the server
    UNSUBSCRIBING = "unsubscribing"  # unsubscribe sent (still counts against the budget)
    REQUEUE_UNSUB = "requeue_unsub"  # OPSP0002: unsubscribe queued, then subscribe again


class Availability(str, Enum):
    """What a requester sees for one pair."""

    LIVE = "live"
    PENDING = "pending"  # has a slot, waiting for the server
    POLLED = "polled"  # no slot: REST polling of the current price stands in
    REFUSED = "refused"  # no slot and no fallback (SUBSCRIPTION_BUDGET_EXHAUSTED or OPSP0008)


@dataclass(slots=True)
class _Demand:
    requesters: dict[str, int] = field(default_factory=dict)  # requester -> priority
    first_at: float = 0.0
    released_at: float | None = None  # when the last requester left (grace timer)

    @property
    def priority(self) -> int:
        return max(self.requesters.values()) if self.requesters else -(10**9)


@dataclass(slots=True)
class _Slot:
    state: SlotState
    granted_at: float
    retry_at: float = 0.0  # QUEUED: do not send before this
    resubscribe: bool = False  # on UNSUBSCRIBED: go back to QUEUED instead of freeing the slot
    sent_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Plan:
    """Messages the connection loop should send now, in this order (unsubscribes free slots first)."""

    unsubscribe: tuple[Key, ...] = ()
    subscribe: tuple[Key, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.unsubscribe or self.subscribe)


@dataclass(frozen=True, slots=True)
class Config:
    budget: int = 41
    min_hold_s: float = 60.0
    grace_s: float = 10.0
    retry_s: float = 5.0  # after OPSP0007 / unknown errors / OPSP0011
    refused_s: float = 60.0  # after OPSP0008 the pair is not retried for this long
    reply_timeout_s: float = 15.0  # a subscribe without a reply is sent again after this
    pollable: frozenset[str] = frozenset({"H0STCNT0"})


class SubscriptionBook:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self._demand: dict[Key, _Demand] = {}
        self._slots: dict[Key, _Slot] = {}
        self._server_refused: dict[Key, float] = {}  # key -> until
        self.counters: dict[str, int] = {"subscribe_sent": 0, "unsubscribe_sent": 0, "evictions": 0,
                                         "already_subscribed": 0, "max_subscribe_over": 0, "errors": 0}

    # ---------------------------------------------------------------- demand
    def acquire(self, requester: str, keys: Iterable[Key], priority: int, now: float) -> dict[Key, Availability]:
        keys = [tuple(k) for k in keys]
        for key in keys:
            d = self._demand.get(key)
            if d is None:
                d = self._demand[key] = _Demand(first_at=now)
            d.requesters[requester] = priority
            d.released_at = None
        self.schedule(now)
        return {k: self.availability(k, now) for k in keys}

    def release(self, requester: str, keys: Iterable[Key] | None, now: float) -> None:
        """Drop `requester`'s demand for `keys` (all of its keys when None)."""
        targets = list(self._demand) if keys is None else [tuple(k) for k in keys]
        for key in targets:
            d = self._demand.get(key)
            if d is None or requester not in d.requesters:
                continue
            del d.requesters[requester]
            if not d.requesters:
                d.released_at = now
        self.schedule(now)

    def wanted(self) -> dict[Key, dict[str, int]]:
        """Demand with at least one requester (what is persisted and restored after a restart)."""
        return {k: dict(d.requesters) for k, d in self._demand.items() if d.requesters}

    def restore(self, wanted: Mapping[Key, Mapping[str, int]], now: float) -> None:
        for key, reqs in wanted.items():
            for requester, prio in reqs.items():
                self.acquire(requester, [key], prio, now)

    # ---------------------------------------------------------------- scheduling
    def _rank(self, key: Key) -> tuple[int, float, Key]:
        d = self._demand[key]
        return (-d.priority, d.first_at, key)

    def schedule(self, now: float) -> None:
        """Recompute which pairs hold slots (grants, evictions, grace expiry). Idempotent."""
        cfg = self.config
        # Grace expired: drop demand and free the slot.
        for key, d in list(self._demand.items()):
            if not d.requesters and d.released_at is not None and now - d.released_at >= cfg.grace_s:
                del self._demand[key]
                self._drop_slot(key)
        for key, until in list(self._server_refused.items()):
            if now >= until:
                del self._server_refused[key]
        waiting = sorted((k for k, d in self._demand.items()
                          if d.requesters and k not in self._slots and k not in self._server_refused),
                         key=self._rank)
        for key in waiting:
            if self.used < cfg.budget:
                self._slots[key] = _Slot(SlotState.QUEUED, granted_at=now)
                continue
            victim = self._victim_for(key, now)
            if victim is None:
                continue  # stays POLLED/REFUSED; lower-ranked waiters cannot do better
            self.counters["evictions"] += 1
            self._drop_slot(victim)
            self._slots[key] = _Slot(SlotState.QUEUED, granted_at=now)

    def _victim_for(self, key: Key, now: float) -> Key | None:
        prio = self._demand[key].priority
        best: tuple | None = None
        best_key = None
        for k, s in self._slots.items():
            if s.state in (SlotState.UNSUBSCRIBING, SlotState.REQUEUE_UNSUB):
                continue
            d = self._demand.get(k)
            lingering = d is None or not d.requesters
            if not lingering:
                if d.priority >= prio or now - s.granted_at < self.config.min_hold_s:
                    continue
            rank = (0 if lingering else 1, d.priority if d else 0, -s.granted_at)
            if best is None or rank < best:
                best, best_key = rank, k
        return best_key

    def _drop_slot(self, key: Key) -> None:
        """Give up a slot: unsent -> gone now; sent or live -> unsubscribe (slot freed on reply)."""
        s = self._slots.get(key)
        if s is None:
            return
        if s.state is SlotState.QUEUED:
            del self._slots[key]
        elif s.state in (SlotState.SUBSCRIBING, SlotState.LIVE):
            s.state = SlotState.REQUEUE_UNSUB
            s.resubscribe = False
        else:
            s.resubscribe = False

    def plan(self, now: float) -> Plan:
        """What to send now; marks the returned pairs as sent. Call only while connected."""
        self.schedule(now)
        unsub, sub = [], []
        for key, s in self._slots.items():
            if s.state is SlotState.REQUEUE_UNSUB:
                s.state, s.sent_at = SlotState.UNSUBSCRIBING, now
                unsub.append(key)
            elif s.state is SlotState.QUEUED and now >= s.retry_at:
                s.state, s.sent_at = SlotState.SUBSCRIBING, now
                sub.append(key)
            elif s.state is SlotState.SUBSCRIBING and now - s.sent_at >= self.config.reply_timeout_s:
                s.sent_at = now  # no reply: ask again (OPSP0002 would sort out a duplicate)
                sub.append(key)
        self.counters["subscribe_sent"] += len(sub)
        self.counters["unsubscribe_sent"] += len(unsub)
        return Plan(tuple(unsub), tuple(sub))

    def next_wakeup(self, now: float) -> float | None:
        """Earliest future time at which `plan` could produce something new (grace, retries, hold)."""
        times = [d.released_at + self.config.grace_s for d in self._demand.values()
                 if not d.requesters and d.released_at is not None]
        times += [s.retry_at for s in self._slots.values() if s.state is SlotState.QUEUED and s.retry_at > now]
        times += [s.sent_at + self.config.reply_timeout_s for s in self._slots.values()
                  if s.state is SlotState.SUBSCRIBING]
        times += list(self._server_refused.values())
        if self.used >= self.config.budget and any(
                d.requesters and k not in self._slots for k, d in self._demand.items()):
            times += [s.granted_at + self.config.min_hold_s for s in self._slots.values()]
        future = [t for t in times if t > now]
        return min(future) if future else None

    # ---------------------------------------------------------------- server replies
    def on_reply(self, key: Key, kind: ReplyKind, now: float) -> None:
        s = self._slots.get(key)
        if kind is ReplyKind.SUBSCRIBED:
            if s is None:
                return  # late reply for a pair we gave up: an unsubscribe is not pending, ignore
            if s.state in (SlotState.SUBSCRIBING, SlotState.QUEUED):
                s.state = SlotState.LIVE
        elif kind in (ReplyKind.UNSUBSCRIBED, ReplyKind.NOT_SUBSCRIBED):
            if s is None:
                return
            if s.state is SlotState.UNSUBSCRIBING:
                if s.resubscribe:
                    s.state, s.resubscribe, s.retry_at = SlotState.QUEUED, False, now
                else:
                    del self._slots[key]
        elif kind is ReplyKind.ALREADY_SUBSCRIBED:
            self.counters["already_subscribed"] += 1
            if s is not None and s.state in (SlotState.SUBSCRIBING, SlotState.LIVE):
                s.state, s.resubscribe = SlotState.REQUEUE_UNSUB, True
        elif kind is ReplyKind.MAX_SUBSCRIBE_OVER:
            self.counters["max_subscribe_over"] += 1
            if s is not None and s.state is SlotState.SUBSCRIBING:
                del self._slots[key]
            self._server_refused[key] = now + self.config.refused_s
        else:  # OPSP0007, OPSP0011, parsing errors...: try again later
            self.counters["errors"] += 1
            if s is not None and s.state is SlotState.SUBSCRIBING:
                s.state, s.retry_at = SlotState.QUEUED, now + self.config.retry_s
            elif s is not None and s.state is SlotState.UNSUBSCRIBING:
                s.state = SlotState.REQUEUE_UNSUB  # resend the unsubscribe on the next plan

    def refuse(self, key: Key, now: float) -> None:
        """The server rejected the pair for good (invalid tr_id/tr_key, parsing error): free its slot
        and do not ask again for `refused_s` (never a subscribe/error loop against KIS)."""
        self.counters["errors"] += 1
        s = self._slots.get(key)
        if s is not None and s.state in (SlotState.SUBSCRIBING, SlotState.QUEUED):
            del self._slots[key]
        self._server_refused[key] = now + self.config.refused_s

    def in_flight_subscribe(self) -> list[Key]:
        """Pairs whose subscribe awaits a reply (to attribute replies that carry no tr_key)."""
        return [k for k, s in self._slots.items() if s.state is SlotState.SUBSCRIBING]

    def on_disconnect(self, now: float) -> None:
        """The server forgot everything: every held slot must be subscribed again on the next socket."""
        for key, s in list(self._slots.items()):
            if s.state is SlotState.UNSUBSCRIBING or (s.state is SlotState.REQUEUE_UNSUB and not s.resubscribe):
                del self._slots[key]
            else:
                s.state, s.retry_at, s.resubscribe = SlotState.QUEUED, now, False

    # ---------------------------------------------------------------- views
    def availability(self, key: Key, now: float) -> Availability:
        s = self._slots.get(key)
        if s is not None and not self._leaving(s):
            return Availability.LIVE if s.state is SlotState.LIVE else Availability.PENDING
        return Availability.POLLED if key[0] in self.config.pollable else Availability.REFUSED

    def polled(self, now: float) -> list[Key]:
        """Wanted pairs that must be served by REST polling."""
        return [k for k, d in self._demand.items()
                if d.requesters and self.availability(k, now) is Availability.POLLED]

    def view_for(self, requester: str, now: float) -> dict[Key, Availability]:
        return {k: self.availability(k, now) for k, d in self._demand.items() if requester in d.requesters}

    @staticmethod
    def _leaving(s: _Slot) -> bool:
        return s.state in (SlotState.UNSUBSCRIBING, SlotState.REQUEUE_UNSUB) and not s.resubscribe

    @property
    def used(self) -> int:
        """Slots held. A pair being unsubscribed no longer counts: its unsubscribe is sent before any
        new subscribe on the same ordered socket, so the server frees it first."""
        return sum(1 for s in self._slots.values() if not self._leaving(s))

    def live_keys(self) -> list[Key]:
        return [k for k, s in self._slots.items() if s.state is SlotState.LIVE]

    def snapshot(self, now: float) -> list[dict]:
        """Per-pair state for status(): no secrets here, only ids and requester names."""
        rows = []
        for key in sorted(set(self._demand) | set(self._slots)):
            d, s = self._demand.get(key), self._slots.get(key)
            rows.append({
                "tr_id": key[0], "tr_key": key[1],
                "state": self.availability(key, now).value,
                "slot": s.state.value if s else None,
                "held_s": round(now - s.granted_at, 3) if s else None,
                "priority": d.priority if d and d.requesters else None,
                "requesters": sorted(d.requesters) if d else [],
                "lingering": bool(d is None or not d.requesters),
                "server_refused": key in self._server_refused,
            })
        return rows
