"""Credentials, access tokens, approval keys and the REST rate limit, as KIS enforces them.

All times are real (time.monotonic for rules, wall clock for the printed expiry). Thread-safe,
since SimulatorThread callers may read it from another thread.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from .clock import KST
from .config import SimulatorConfig


def app_key_id(app_key: str) -> str:
    """Non-reversible name for an app key (same as backbone.settings.Settings.app_key_id)."""
    return hashlib.sha256(app_key.encode()).hexdigest()[:16]


@dataclass
class Token:
    value: str
    app_key: str
    issued: float  # monotonic
    expires: float  # monotonic
    expires_wall: datetime


class TokenError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def _jwt_like(app_key_hash: str, iat: int, exp: int) -> str:
    head = _b64({"typ": "JWT", "alg": "HS512"})
    body = _b64({"sub": "token", "aud": app_key_hash, "iss": "unogw", "exp": exp, "iat": iat,
                 "jti": secrets.token_urlsafe(30)})
    return f"{head}.{body}.{secrets.token_urlsafe(64)}"


class AuthState:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self.tokens: dict[str, Token] = {}  # value -> token (expired ones kept to answer EGW00123)
        self.current: dict[str, Token] = {}  # app key -> latest token
        self.last_new: dict[str, float] = {}  # app key -> monotonic time of the last NEW issuance
        self.approvals: dict[str, str] = {}  # approval key -> app key
        self.rest_hits: dict[str, deque[float]] = {}
        self.tokens_issued = 0  # new tokens
        self.approvals_issued = 0
        self.fail = False  # auth fault

    def check_credentials(self, app_key: str | None, secret: str | None) -> bool:
        return app_key is not None and self.config.credentials.get(app_key) == secret and secret is not None

    def issue_token(self, app_key: str, now: float | None = None) -> tuple[Token, bool]:
        """The app key's token: the same one within the reuse window, else a new one (1 per interval)."""
        now = time.monotonic() if now is None else now
        cfg = self.config
        with self._lock:
            cur = self.current.get(app_key)
            if cur is not None and now - cur.issued < cfg.token_reuse_s and now < cur.expires:
                return cur, False
            last = self.last_new.get(app_key)
            if last is not None and now - last < cfg.token_issue_interval_s:
                raise TokenError("EGW00133", "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)")
            wall = datetime.now(KST)
            exp_wall = wall + timedelta(seconds=cfg.token_validity_s)
            value = _jwt_like(app_key_id(app_key), int(wall.timestamp()), int(exp_wall.timestamp()))
            tok = Token(value, app_key, now, now + cfg.token_validity_s, exp_wall)
            self.tokens[value] = tok
            self.current[app_key] = tok
            self.last_new[app_key] = now
            self.tokens_issued += 1
            return tok, True

    def revoke(self, value: str) -> bool:
        with self._lock:
            tok = self.tokens.pop(value, None)
            if tok is not None and self.current.get(tok.app_key) is tok:
                del self.current[tok.app_key]
            return tok is not None

    def check_token(self, value: str, app_key: str | None, now: float | None = None) -> str | None:
        """None if valid for this app key, else the EGW code."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tok = self.tokens.get(value)
        if tok is None or (app_key is not None and tok.app_key != app_key):
            return "EGW00121"
        if now >= tok.expires:
            return "EGW00123"
        return None

    def issue_approval(self, app_key: str) -> str:
        key = str(uuid.uuid4())
        with self._lock:
            self.approvals[key] = app_key
            self.approvals_issued += 1
        return key

    def approval_app_key(self, approval_key: object) -> str | None:
        if self.fail or not isinstance(approval_key, str):
            return None
        with self._lock:
            return self.approvals.get(approval_key)

    def rest_allowed(self, app_key: str, now: float | None = None) -> bool:
        """Sliding one-second window of at most rest_rate_per_s requests per app key."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self.rest_hits.setdefault(app_key, deque())
            while hits and now - hits[0] >= 1.0:
                hits.popleft()
            if len(hits) >= self.config.rest_rate_per_s:
                return False
            hits.append(now)
            return True
