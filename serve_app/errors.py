"""The HTTP error contract: `{"error": {"code", "message", "request_id"}}` with a fitting status.

Every error path of the app ends here: typed `ApiError`s raised by routes, FastAPI's own request
validation (422 -> the contract's 400 codes), Starlette's 404/405, and unexpected exceptions
(500 INTERNAL_ERROR, whose stack trace goes to the log with the request id, never to the body).
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

STATUS = {
    "INVALID_SYMBOL": 400,
    "INVALID_INTERVAL": 400,
    "INVALID_RANGE": 400,
    "UNAUTHORIZED": 401,
    "NO_DATA_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "INTERNAL_ERROR": 500,
    "DB_CONNECTION_ERROR": 503,
    "UPSTREAM_UNAVAILABLE": 503,
}
# Which contract code a FastAPI validation failure on a given parameter becomes.
_PARAM_CODES = {"symbol": "INVALID_SYMBOL", "interval": "INVALID_INTERVAL"}

log = logging.getLogger("serve_app")


class ApiError(Exception):
    """Raise from a route to answer with the error contract."""

    def __init__(self, code: str, message: str) -> None:
        if code not in STATUS:
            raise ValueError(f"unknown error code {code}")
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return STATUS[self.code]


class DbUnavailable(Exception):
    """The database cannot be reached (connection refused, lost, timed out, shutting down)."""


class UpstreamUnavailable(Exception):
    """KIS (or the actor holding the upstream socket) cannot answer now."""


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", None) or request.scope.get("request_id", "-")


def error_response(code: str, message: str, request_id: str, headers: dict | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "request_id": request_id}}
    return JSONResponse(body, status_code=STATUS[code], headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.code, exc.message, request_id_of(request))

    @app.exception_handler(DbUnavailable)
    async def _db_down(request: Request, exc: DbUnavailable) -> JSONResponse:
        log.warning("request %s: database unavailable: %s", request_id_of(request), exc)
        return error_response("DB_CONNECTION_ERROR", "the database is unavailable; retry shortly",
                              request_id_of(request), {"Retry-After": "1"})

    @app.exception_handler(UpstreamUnavailable)
    async def _upstream_down(request: Request, exc: UpstreamUnavailable) -> JSONResponse:
        log.warning("request %s: upstream unavailable: %s", request_id_of(request), exc)
        return error_response("UPSTREAM_UNAVAILABLE", f"upstream unavailable: {exc}",
                              request_id_of(request), {"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = validation_code(exc.errors())
        return error_response(code, message, request_id_of(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return error_response("METHOD_NOT_ALLOWED", "method not allowed", request_id_of(request),
                                  dict(exc.headers or {}))
        if exc.status_code == 404:
            return error_response("NO_DATA_FOUND", "no such route", request_id_of(request))
        if exc.status_code == 401:
            return error_response("UNAUTHORIZED", "missing or wrong API key", request_id_of(request))
        if exc.status_code < 500:
            return error_response("INVALID_RANGE", str(exc.detail)[:200], request_id_of(request))
        return error_response("INTERNAL_ERROR", "internal error", request_id_of(request))


def validation_code(errors: list[dict]) -> tuple[str, str]:
    """Map FastAPI's validation errors to (contract code, message) by the offending parameter."""
    first = errors[0] if errors else {}
    loc = first.get("loc") or ()
    name = str(loc[-1]) if loc else ""
    code = _PARAM_CODES.get(name, "INVALID_RANGE")
    message = f"invalid parameter {name or '?'}: {first.get('msg', 'invalid')}"
    return code, message[:300]
