"""Every error code of the contract, each from a request that causes it; the body is exactly
{"error": {"code", "message", "request_id"}} and never carries a stack trace."""
import logging
from datetime import date, datetime, timezone

import pytest

from serve_app.app import ApiConfig, create_app

from .conftest import insert_rows, serve, session_rows

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


class ExplodingLive:
    """A live source with a bug: the API must answer 500 INTERNAL_ERROR, not crash or leak."""

    async def latest_trade(self, symbol):
        raise RuntimeError("boom in latest_trade")

    latest_book = latest_trade

    async def rest_quote(self, symbol):
        raise RuntimeError("boom")

    rest_book = rest_quote

    async def upstream_status(self):
        return {"state": "up"}


def assert_error(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == r.headers["x-request-id"]
    assert "Traceback" not in r.text and "File \"" not in r.text
    return body["error"]


@pytest.mark.parametrize("url, status, code", [
    ("/api/candles/%21%21%21", 400, "INVALID_SYMBOL"),
    ("/api/candles", 400, "INVALID_SYMBOL"),
    ("/api/candles/" + "9" * 70, 400, "INVALID_SYMBOL"),  # FastAPI's own 422 -> the contract
    ("/api/candles/005930?interval=2m", 400, "INVALID_INTERVAL"),
    ("/api/candles/005930?interval=" + "x" * 40, 400, "INVALID_INTERVAL"),
    ("/api/candles/005930?from=yesterday", 400, "INVALID_RANGE"),
    ("/api/candles/005930?from=2026-11-20&to=2026-11-19", 400, "INVALID_RANGE"),
    ("/api/candles/005930?from=2015-01-01&to=2026-11-20&interval=1m", 400, "INVALID_RANGE"),
    ("/api/candles/005930?fill=perhaps", 400, "INVALID_RANGE"),
    ("/api/candles/005930?from=2026-11-20&to=2026-11-20", 404, "NO_DATA_FOUND"),
    ("/api/market/sectors", 404, "NO_DATA_FOUND"),
    ("/api/related/005930", 404, "NO_DATA_FOUND"),
    ("/api/no/such/route", 404, "NO_DATA_FOUND"),
    ("/api/ticker/005930?channel=rest", 503, "UPSTREAM_UNAVAILABLE"),
    ("/api/ticker/005930?channel=websocket", 404, "NO_DATA_FOUND"),
    ("/api/orderbook/005930", 503, "UPSTREAM_UNAVAILABLE"),
    ("/api/ticker/005930?channel=pigeon", 400, "INVALID_RANGE"),
])
async def test_error_codes(pg, db, url, status, code):
    async with serve(create_app(ApiConfig(dsn=pg.dsn), clock=lambda: NOW)) as client:
        assert_error(await client.get(url), status, code)


async def test_unauthorized_without_the_key_and_healthz_stays_open(pg, db):
    await insert_rows(db, session_rows("005930", date(2026, 11, 20)))
    app = create_app(ApiConfig(dsn=pg.dsn, api_key="k-123456"), clock=lambda: NOW)
    async with serve(app) as client:
        for path in ("/api/candles/005930", "/api/status", "/metrics", "/openapi.json"):
            assert_error(await client.get(path), 401, "UNAUTHORIZED")
        assert_error(await client.get("/api/status", headers={"X-API-Key": "wrong"}), 401, "UNAUTHORIZED")
        assert_error(await client.get("/api/status?api_key=wrong"), 401, "UNAUTHORIZED")
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/status", headers={"X-API-Key": "k-123456"})).status_code == 200
        r = await client.get("/api/candles/005930?from=2026-11-20&to=2026-11-20&api_key=k-123456")
        assert r.status_code == 200 and len(r.json()["candles"]) == 390


async def test_internal_error_logs_the_trace_with_the_request_id_not_in_the_body(pg, db, tmp_path, caplog):
    log_file = tmp_path / "api.log"
    app = create_app(ApiConfig(dsn=pg.dsn, log_file=str(log_file)), live=ExplodingLive())
    caplog.set_level(logging.INFO, logger="serve_app")
    async with serve(app) as client:
        r = await client.get("/api/ticker/005930")
    err = assert_error(r, 500, "INTERNAL_ERROR")
    assert "boom" not in r.text
    text = log_file.read_text()
    assert err["request_id"] in text
    assert "Traceback" in text and "boom in latest_trade" in text


async def test_method_not_allowed_keeps_the_error_shape(pg):
    async with serve(create_app(ApiConfig(dsn=pg.dsn, change_feed=False))) as client:
        r = await client.post("/api/candles/005930")
    assert_error(r, 405, "METHOD_NOT_ALLOWED")


async def test_incoming_request_id_is_kept(pg):
    async with serve(create_app(ApiConfig(dsn=pg.dsn, change_feed=False))) as client:
        r = await client.get("/api/candles/!!", headers={"X-Request-ID": "client-req-0001"})
    assert r.json()["error"]["request_id"] == "client-req-0001"
