"""The one owner of the KIS access token for an app key.

- Single flight: however many callers want a token at once, at most one /oauth2/tokenP request.
- Refreshes `refresh_before_s` (30 min) before expiry; never issues more than once per
  `min_issue_interval_s` (EGW00133 -> wait a full interval, never hammer).
- Persisted (token, expiry, last attempt) so a restarted owner reuses a valid token and still
  respects the 1/min rule.
- The token never appears in logs, reprs or errors; `TokenUnavailable` carries only a code.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from backbone.kis.rest import EGW_TOKEN_THROTTLED, RestError, TokenResponse
from backbone.token_policy import Action, TokenPolicy

from .state_store import StateStore, StoredToken

log = logging.getLogger(__name__)


class TokenUnavailable(RuntimeError):
    """No usable token could be obtained (message holds the KIS error code, never a token)."""


class TokenKeeper:
    def __init__(self, issue: Callable[[], Awaitable[TokenResponse | RestError]], store: StateStore,
                 policy: TokenPolicy | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._issue = issue
        self._store = store
        self.policy = policy or TokenPolicy()
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at: float | None = None
        self._last_attempt: float | None = None
        self._invalid = False
        self._not_before: float | None = None  # after EGW00133
        self._loaded = False
        self.issued = 0  # tokens obtained by this process
        self.throttled = 0  # EGW00133 answers seen
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"TokenKeeper(expires_at={self._expires_at}, issued={self.issued})"

    @property
    def expires_at(self) -> float | None:
        return self._expires_at

    async def get(self) -> str:
        """A usable access token (fast path without the lock when nothing is due)."""
        now = self._clock()
        if (self._token and not self._invalid and self.policy.usable(now, self._expires_at)
                and not self.policy.needs_refresh(now, self._expires_at)):
            return self._token
        async with self._lock:
            return await self._get_locked()

    async def invalidate(self, token: str) -> None:
        """KIS rejected `token` (EGW00121/EGW00123): the next `get` issues a new one (within the rules)."""
        async with self._lock:
            if token == self._token:
                self._invalid = True

    async def _load(self) -> None:
        stored = await self._store.load_token()
        self._loaded = True
        if stored is None:
            return
        if stored.last_attempt_at is not None:
            self._last_attempt = max(self._last_attempt or 0.0, stored.last_attempt_at)
        # Adopt a token another incarnation or process stored, never the one we hold (it may be marked
        # invalid; its expiry comes back from the database rounded to microseconds).
        if stored.access_token and stored.access_token != self._token and (
                self._expires_at is None or (stored.expires_at or 0) > self._expires_at):
            self._token, self._expires_at, self._invalid = stored.access_token, stored.expires_at, False

    async def _get_locked(self) -> str:
        if not self._loaded:
            await self._load()
        while True:
            now = self._clock()
            d = self.policy.decide(now, self._expires_at if self._token else None, self._last_attempt,
                                   invalid=self._invalid, not_before=self._not_before)
            if d.action is Action.USE:
                return self._token  # type: ignore[return-value]
            if d.action is Action.WAIT:
                await self._sleep(max(0.0, d.at - now))
                continue
            await self._load()  # another process may have refreshed it meanwhile (shared database)
            d2 = self.policy.decide(self._clock(), self._expires_at if self._token else None,
                                    self._last_attempt, invalid=self._invalid, not_before=self._not_before)
            if d2.action is not Action.ISSUE:
                continue
            await self._issue_once(now)

    async def _issue_once(self, now: float) -> None:
        self._last_attempt = now
        await self._store.record_attempt(now)
        resp = await self._issue()
        if isinstance(resp, RestError):
            self.last_error = resp.code
            if resp.code == EGW_TOKEN_THROTTLED:
                self.throttled += 1
                self._not_before = now + self.policy.throttled_wait_s
                log.warning("token issuance throttled by KIS (%s); waiting", resp.code)
                return  # the policy now says WAIT (or USE a still-valid token)
            log.warning("token issuance failed: %s", resp.code)
            if not (self._token and not self._invalid and self.policy.usable(self._clock(), self._expires_at)):
                raise TokenUnavailable(f"token issuance failed: {resp.code}")
            return
        expires_at = now + float(resp.expires_in)
        self._token, self._expires_at, self._invalid = resp.access_token, expires_at, False
        self.issued += 1
        self.last_error = None
        await self._store.save_token(StoredToken(resp.access_token, expires_at, now, now))
        log.info("access token issued; expires in %.0f s", resp.expires_in)
