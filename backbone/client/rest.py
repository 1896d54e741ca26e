"""HTTP side of the SDK: httpx with retries (429/503 with backoff, Retry-After honoured), the
circuit breaker, and the API's error bodies turned into typed exceptions."""
from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx

from .breaker import CircuitBreaker
from .errors import BackboneError, ConnectionFailed, from_response

log = logging.getLogger("backbone.client")
RETRY_STATUSES = (429, 503)


class RestClient:
    def __init__(self, base_url: str, api_key: str | None = None, *, breaker: CircuitBreaker | None = None,
                 max_retries: int = 3, retry_base_s: float = 0.2, retry_cap_s: float = 3.0,
                 timeout_s: float = 10.0) -> None:
        headers = {"x-api-key": api_key} if api_key else {}
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)
        self.breaker = breaker or CircuitBreaker()
        self.max_retries = max_retries
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.retries = 0  # total retried attempts (observable)

    def _delay(self, attempt: int, resp: httpx.Response | None) -> float:
        ra = resp.headers.get("retry-after") if resp is not None else None
        if ra:
            try:
                return min(self.retry_cap_s, max(0.0, float(ra)))
            except ValueError:
                pass
        nominal = min(self.retry_cap_s, self.retry_base_s * 2 ** attempt)
        return nominal / 2 + random.uniform(0, nominal / 2)

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET -> parsed JSON; typed BackboneError on an error answer, CircuitOpen when open.

        Failures that count for the breaker: unreachable server, 5xx (after retries). A 4xx is the
        caller's problem and counts as a success of the server."""
        attempt = 0
        while True:
            self.breaker.before_call()
            try:
                resp = await self.http.get(path, params=params)
            except httpx.TransportError as exc:
                self.breaker.record_failure()
                raise ConnectionFailed(f"{type(exc).__name__} talking to {self.http.base_url}") from None
            if resp.status_code in RETRY_STATUSES and attempt < self.max_retries:
                # a probe call of a half-open breaker must report before the next one goes out
                self.breaker.record_success() if resp.status_code == 429 else self.breaker.record_failure()
                delay = self._delay(attempt, resp)
                attempt += 1
                self.retries += 1
                log.info("GET %s answered %d; retry %d in %.2f s", path, resp.status_code, attempt, delay)
                await asyncio.sleep(delay)
                continue
            body = _json(resp)
            if resp.status_code >= 500:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
            if resp.status_code >= 400:
                raise from_response(resp.status_code, body)
            if body is None:
                raise BackboneError("the server answered with a body that is not JSON", status=resp.status_code)
            return body

    async def aclose(self) -> None:
        await self.http.aclose()


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None
