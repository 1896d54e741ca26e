"""KIS REST client: one rate limiter per app key, retries, token handling. Secrets never logged.

- Every /uapi call waits for the shared token bucket (20/s real, 2/s paper).
- EGW00201 (too many requests, any HTTP status) -> pause the bucket and retry with backoff.
- EGW00123 / EGW00121 (expired / invalid token) -> invalidate it at the keeper, one retry.
- Network errors -> a `RestError` with code NETWORK (after a couple of retries), never an exception.
"""
from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Callable

import httpx
from pydantic import SecretStr

from backbone.kis import rest
from backbone.kis.rest import EGW_RATE_LIMIT, EGW_TOKEN_EXPIRED, EGW_TOKEN_INVALID, RestError, RestRequest
from backbone.ratelimit import TokenBucket

log = logging.getLogger(__name__)
AUTH_FAILURES = (EGW_TOKEN_EXPIRED, EGW_TOKEN_INVALID, "IGW00221")


class KisRestClient:
    def __init__(self, base_url: str, app_key: SecretStr, app_secret: SecretStr, bucket: TokenBucket, *,
                 timeout_s: float = 10.0, rate_retries: int = 5, retry_base_s: float = 0.2,
                 custtype: str = "P") -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self._key = app_key
        self._secret = app_secret
        self.bucket = bucket
        self.tokens = None  # a TokenKeeper, set by the owner (it needs this client to issue tokens)
        self._rate_retries = rate_retries
        self._retry_base = retry_base_s
        self._custtype = custtype
        self.calls = 0
        self.rate_limited = 0  # EGW00201 answers seen
        self.auth_retries = 0

    def __repr__(self) -> str:
        return f"KisRestClient({self._http.base_url})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- oauth (no token, not rate limited by the quotation bucket)
    async def _oauth(self, req: RestRequest, body: dict[str, Any], parse: Callable) -> Any:
        try:
            r = await self._http.request(req.method, req.path, headers=dict(req.headers), json=body)
        except httpx.HTTPError as exc:
            return RestError(0, "NETWORK", type(exc).__name__)
        return parse(r.status_code, r.content)

    async def issue_token(self) -> rest.TokenResponse | RestError:
        req = rest.token_request()
        body = {**(req.body or {}), "appkey": self._key.get_secret_value(),
                "appsecret": self._secret.get_secret_value()}
        return await self._oauth(req, body, rest.parse_token)

    async def approval_key(self) -> rest.ApprovalResponse | RestError:
        req = rest.approval_request()
        body = {**(req.body or {}), "appkey": self._key.get_secret_value(),
                "secretkey": self._secret.get_secret_value()}
        return await self._oauth(req, body, rest.parse_approval)

    # ---- quotations
    async def _wait_rate(self) -> None:
        wait = self.bucket.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    async def call(self, req: RestRequest, parse: Callable[[int, bytes], Any]) -> Any:
        """Send a /uapi request with rate limiting, auth headers and the retry policy."""
        rate_tries = net_tries = 0
        auth_retried = False
        while True:
            await self._wait_rate()
            token = await self.tokens.get()
            headers = {**req.headers, "authorization": f"Bearer {token}",
                       "appkey": self._key.get_secret_value(), "appsecret": self._secret.get_secret_value()}
            self.calls += 1
            try:
                r = await self._http.request(req.method, req.path, headers=headers, params=dict(req.params),
                                             json=req.body if req.body is not None else None)
            except httpx.HTTPError as exc:
                net_tries += 1
                if net_tries > 2:
                    return RestError(0, "NETWORK", type(exc).__name__)
                await asyncio.sleep(self._retry_base * net_tries)
                continue
            result = parse(r.status_code, r.content)
            if not isinstance(result, RestError):
                return result
            if result.code == EGW_RATE_LIMIT and rate_tries < self._rate_retries:
                rate_tries += 1
                self.rate_limited += 1
                delay = self._retry_base * (2 ** (rate_tries - 1)) * (0.5 + random.random() / 2)
                self.bucket.penalize(delay)
                continue
            if result.code in AUTH_FAILURES and not auth_retried:
                auth_retried = True
                self.auth_retries += 1
                await self.tokens.invalidate(token)
                continue
            return result

    async def current_price(self, symbol: str) -> rest.CurrentPrice | RestError:
        return await self.call(rest.current_price_request(symbol), rest.parse_current_price)

    async def minute_bars(self, symbol: str, until_hhmmss: str) -> list | RestError:
        return await self.call(rest.minute_chart_request(symbol, until_hhmmss),
                               lambda status, body: rest.parse_minute_chart(status, body, symbol))
