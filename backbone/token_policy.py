"""When to issue a KIS access token (/oauth2/tokenP).

Rules (kis-protocol.md §1.3): a token lives 24 h; we refresh `refresh_before_s` (30 min) before it
expires; KIS allows one issuance per minute (EGW00133 otherwise), so we never ask twice within
`min_issue_interval_s`, and after EGW00133 we wait a full interval. Pure: time is passed in.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Action(str, Enum):
    USE = "use"  # the current token is good
    ISSUE = "issue"  # ask KIS for a new token now
    WAIT = "wait"  # must not ask yet and have nothing usable: wait until `at`


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    at: float = 0.0  # for WAIT: the time the next issuance is allowed


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    refresh_before_s: float = 1800.0
    # KIS allows 1/min, counted from when *it* saw the request: keep a margin for latency and skew,
    # or an issuance at exactly +60 s can meet EGW00133 and cost another full minute.
    min_issue_interval_s: float = 61.0
    # A token this close to expiry is not handed out at all (a call might outlive it).
    min_remaining_s: float = 5.0
    # After EGW00133 ("1 per minute") do not ask again for this long, whatever min_issue_interval_s says.
    throttled_wait_s: float = 61.0

    def needs_refresh(self, now: float, expires_at: float | None) -> bool:
        return expires_at is None or now >= expires_at - self.refresh_before_s

    def usable(self, now: float, expires_at: float | None) -> bool:
        return expires_at is not None and now < expires_at - self.min_remaining_s

    def next_issue_at(self, last_issue_attempt_at: float | None) -> float:
        if last_issue_attempt_at is None:
            return float("-inf")
        return last_issue_attempt_at + self.min_issue_interval_s

    def decide(self, now: float, expires_at: float | None, last_issue_attempt_at: float | None,
               invalid: bool = False, not_before: float | None = None) -> Decision:
        """What to do for a caller that wants a token now.

        `invalid`: KIS rejected the current token (EGW00121/EGW00123), so it is not usable
        whatever its expiry says. `not_before`: no issuance before this time (set after EGW00133). When a refresh is due but issuing is not yet allowed, a still
        usable token keeps being served; only a caller with nothing usable waits.
        """
        has_usable = not invalid and self.usable(now, expires_at)
        if has_usable and not self.needs_refresh(now, expires_at):
            return Decision(Action.USE)
        allowed_at = self.next_issue_at(last_issue_attempt_at)
        if not_before is not None:
            allowed_at = max(allowed_at, not_before)
        if now >= allowed_at:
            return Decision(Action.ISSUE)
        if has_usable:
            return Decision(Action.USE)
        return Decision(Action.WAIT, allowed_at)
