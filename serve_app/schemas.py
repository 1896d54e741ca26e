"""Response shapes for the OpenAPI document (what the SDK, the dashboard and schemathesis read).

Routes build their JSON directly (no response validation on the hot path); these models only
document it, and the fuzz test checks real responses against them.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: Literal["INVALID_SYMBOL", "INVALID_INTERVAL", "INVALID_RANGE", "UNAUTHORIZED", "NO_DATA_FOUND",
                  "METHOD_NOT_ALLOWED", "INTERNAL_ERROR", "DB_CONNECTION_ERROR", "UPSTREAM_UNAVAILABLE"]
    message: str
    request_id: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class CandleOut(BaseModel):
    time: str = Field(description="bucket start, ISO 8601 with the market's offset (+09:00 for KRX); "
                                  "daily candles at local midnight of their trading date")
    open: float
    high: float
    low: float
    close: float
    volume: int
    is_filled: bool = Field(description="true: no trade in this in-session bucket; O=H=L=C=previous close")


class CandlesOut(BaseModel):
    symbol: str
    interval: Literal["1m", "5m", "15m", "1h", "1d"]
    candles: list[CandleOut]


class LiveOut(BaseModel):
    symbol: str
    source: Literal["websocket", "rest"]
    data: dict[str, Any]


class HealthOut(BaseModel):
    status: str
    db_up: bool


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "invalid parameter", 401: "missing or wrong API key", 404: "no data / no route",
            500: "internal error (trace in the log under the request id)",
            503: "database or upstream unavailable"}
    return {s: {"model": ErrorBody, "description": text[s]} for s in statuses}


COMMON = errors(401, 500)
DB = errors(503)
