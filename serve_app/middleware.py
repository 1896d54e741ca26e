"""One pure-ASGI middleware for every request: request id, API-key check, latency metrics,
an access log line without the query string (it may carry `api_key`), and the last line of
defence that turns an unexpected exception into 500 INTERNAL_ERROR with the trace in the log.

Pure ASGI rather than BaseHTTPMiddleware: cheaper per request, and exceptions are seen here
before Starlette's ServerErrorMiddleware would re-raise them into the server.
"""
from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from urllib.parse import parse_qsl

from .errors import STATUS
from .metrics import ApiMetrics

log = logging.getLogger("serve_app")
access_log = logging.getLogger("serve_app.access")
OPEN_PATHS = frozenset({"/healthz"})
OPEN_PREFIXES = ("/static/",)  # dashboard JS/CSS/vendor files: code, no data (serve_app.dashboard)
# Metric labels stay bounded whatever clients send (fuzzers send QUERY, TRACE, made-up verbs).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_GOOD_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _error_bytes(code: str, message: str, request_id: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "request_id": request_id}}).encode()


class RequestContextMiddleware:
    def __init__(self, app, *, metrics: ApiMetrics, api_key: str | None) -> None:
        self.app = app
        self.metrics = metrics
        self._api_key = api_key.encode() if api_key else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or ())
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _GOOD_INCOMING_ID.match(incoming) else uuid.uuid4().hex
        scope["request_id"] = request_id
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = {"status": 500, "started": False, "code": None}

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if self._api_key is not None and scope["path"] not in OPEN_PATHS \
                    and not scope["path"].startswith(OPEN_PREFIXES) \
                    and not self._authorized(scope, headers):
                await self._send_error(send_wrapper, "UNAUTHORIZED", "missing or wrong API key",
                                       request_id, {b"www-authenticate": b"ApiKey"})
            else:
                await self.app(scope, receive, send_wrapper)
        except Exception:  # noqa: BLE001 - the contract: never a stack trace to the client
            log.exception("request %s %s %s failed: internal error", request_id, scope.get("method"),
                          scope.get("path"))
            if not status_holder["started"]:
                await self._send_error(send_wrapper, "INTERNAL_ERROR",
                                       f"internal error (request id {request_id})", request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "?")
            self.metrics.observe(method if method in KNOWN_METHODS else "OTHER", route_path,
                                 status_holder["status"], elapsed)
            access_log.info("%s %s %s %d %.1fms", request_id, scope.get("method"), scope.get("path"),
                            status_holder["status"], elapsed * 1000)

    def _authorized(self, scope, headers: dict) -> bool:
        given = headers.get(b"x-api-key")
        if given is None and scope.get("query_string"):
            for k, v in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
                if k == "api_key":
                    given = v.encode("latin-1", "replace")
                    break
        return given is not None and hmac.compare_digest(given, self._api_key)

    async def _send_error(self, send, code: str, message: str, request_id: str,
                          extra: dict[bytes, bytes] | None = None) -> None:
        self.metrics.errors.labels(code).inc()
        body = _error_bytes(code, message, request_id)
        hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        hdrs += list((extra or {}).items())
        await send({"type": "http.response.start", "status": STATUS[code], "headers": hdrs})
        await send({"type": "http.response.body", "body": body})
