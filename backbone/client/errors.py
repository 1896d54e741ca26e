"""Typed exceptions for the API's error codes ({"error": {"code", "message", "request_id"}})."""
from __future__ import annotations


class BackboneError(Exception):
    """Base of every SDK error. `code` is the API's error code (or the SDK's own)."""

    code = "BACKBONE_ERROR"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        rid = f" (request_id {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.message}{rid}"


class InvalidSymbol(BackboneError):
    code = "INVALID_SYMBOL"


class InvalidInterval(BackboneError):
    code = "INVALID_INTERVAL"


class InvalidRange(BackboneError):
    code = "INVALID_RANGE"


class Unauthorized(BackboneError):
    code = "UNAUTHORIZED"


class NoDataFound(BackboneError):
    code = "NO_DATA_FOUND"


class DatabaseUnavailable(BackboneError):
    code = "DB_CONNECTION_ERROR"


class UpstreamUnavailable(BackboneError):
    code = "UPSTREAM_UNAVAILABLE"


class InternalServerError(BackboneError):
    code = "INTERNAL_ERROR"


class RateLimited(BackboneError):
    """429 still answered after every retry."""

    code = "RATE_LIMITED"


class ConnectionFailed(BackboneError):
    """The server could not be reached (refused, reset, timed out)."""

    code = "CONNECTION_FAILED"


class CircuitOpen(BackboneError):
    """The circuit breaker is open: calls fail fast until it half-opens."""

    code = "CIRCUIT_OPEN"


class StreamTimeout(BackboneError):
    code = "STREAM_TIMEOUT"


BY_CODE: dict[str, type[BackboneError]] = {c.code: c for c in (
    InvalidSymbol, InvalidInterval, InvalidRange, Unauthorized, NoDataFound, DatabaseUnavailable,
    UpstreamUnavailable, InternalServerError, RateLimited)}


def from_response(status: int, body: object) -> BackboneError:
    """The typed exception for an error answer (the contract's body, or anything else)."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("code"), str):
        code = err["code"]
        cls = BY_CODE.get(code, BackboneError)
        return cls(str(err.get("message", "")), code=code, status=status, request_id=err.get("request_id"))
    if status == 429:
        return RateLimited("too many requests", status=status)
    if status == 401:
        return Unauthorized("missing or wrong API key", status=status)
    if status == 404:
        return NoDataFound("not found", status=status)
    if status >= 500:
        return InternalServerError(f"HTTP {status}", status=status)
    return BackboneError(f"HTTP {status}", status=status)
