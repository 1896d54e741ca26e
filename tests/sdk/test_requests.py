"""get_ticker channel selection, the REST cache, typed errors, retries and the circuit breaker,
against the running backend (and, for retries, a small real HTTP server that answers 503 first)."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from backbone.client import (AUTO, REST_ONLY, WEBSOCKET_ONLY, BreakerState, CircuitBreaker, CircuitOpen,
                             ConnectionFailed, InvalidSymbol, MarketDataBackbone, NoDataFound, TickerData,
                             UpstreamUnavailable)
from tests.integration.stream_env import GatewayServer

from .conftest import SYMS, Backend, free_port


async def wait_until(pred, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        got = await pred()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_auto_vs_forced_channels(backend):
    sym = SYMS[1]
    async with MarketDataBackbone(backend.url) as bb:
        rest = await bb.get_ticker(sym, REST_ONLY)
        assert isinstance(rest, TickerData) and rest.source == "rest" and rest.via == "http"
        assert rest.current_price > 0 and not rest.suspicious

        auto = await bb.get_ticker(sym, AUTO)  # not subscribed here: the API answers
        assert auto.via == "http" and auto.seq is None

        ws = await bb.get_ticker(sym, WEBSOCKET_ONLY)  # subscribes for the call, waits for a trade
        assert ws.source == "websocket" and ws.via == "stream" and ws.seq is not None

        got: list = []

        async def consume():
            async for t in bb.stream_ticker([sym]):
                got.append(t)
        task = asyncio.create_task(consume())
        try:
            await wait_until(lambda: asyncio.sleep(0, len(got) >= 2), 30, "streamed trades")
            auto = await bb.get_ticker(sym, AUTO)  # subscribed now: the live stream answers
            assert auto.via == "stream" and auto.source == "websocket" and auto.seq is not None
            forced = await bb.get_ticker(sym, REST_ONLY)
            assert forced.source == "rest" and forced.via == "http"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        with pytest.raises(InvalidSymbol):
            await bb.get_ticker("bad symbol!")


async def test_cache_hit_rate_over_80_percent_and_invalidation(backend):
    sym = SYMS[2]
    async with MarketDataBackbone(backend.url, ticker_ttl_s=30.0) as bb:
        assert await bb.warm_cache([sym]) == 1
        answers = [await bb.get_ticker(sym, REST_ONLY) for _ in range(50)]
        assert bb.cache_hit_rate > 0.8, bb.cache.stats()
        assert all(a.cached for a in answers)
        assert len({a.current_price for a in answers}) == 1

        # the stream shows a newer price: the cached REST answer of that symbol goes away
        async def consume():
            async for _t in bb.stream_ticker([sym]):
                pass
        task = asyncio.create_task(consume())
        try:
            await wait_until(lambda: asyncio.sleep(0, bb.cache.invalidations >= 1), 30, "invalidation")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        again = await bb.get_ticker(sym, REST_ONLY)
        assert again.cached is False


async def test_api_errors_are_typed_and_candles_are_a_polars_frame(backend):
    import asyncpg

    from backbone.client import InvalidInterval
    from backbone.models import Candle
    from storage.candle_rows import upsert_candles

    kst = ZoneInfo("Asia/Seoul")
    rows = [Candle("005380", "1m", datetime(2026, 11, 20, 9, m, tzinfo=kst), 100 + m, 110 + m, 90 + m, 105 + m, 10)
            for m in (0, 1, 3)]  # 09:02 has no trade: gap-filled by the API
    conn = await asyncpg.connect(backend.dsn)
    try:
        await upsert_candles(conn, rows)
    finally:
        await conn.close()
    async with MarketDataBackbone(backend.url) as bb:
        df = await bb.get_candles("005380", "1m", datetime(2026, 11, 20, 9, 0, tzinfo=kst),
                                  datetime(2026, 11, 20, 9, 4, tzinfo=kst))
        assert df.columns == ["time", "open", "high", "low", "close", "volume", "is_filled"]
        assert df["is_filled"].to_list() == [False, False, True, False]
        assert df["close"].to_list()[2] == df["close"].to_list()[1]  # filled at the previous close
        again = await bb.get_candles("005380", "1m", datetime(2026, 11, 20, 9, 0, tzinfo=kst),
                                     datetime(2026, 11, 20, 9, 4, tzinfo=kst))
        assert again.equals(df) and bb.cache.hits >= 1
        with pytest.raises(NoDataFound) as exc:
            await bb.rest.get_json("/api/ticker/999999", {"channel": "websocket"})
        assert exc.value.request_id and exc.value.status == 404
        with pytest.raises(InvalidInterval):
            await bb.get_candles("005380", "2m")
        assert bb.breaker_state is BreakerState.CLOSED  # 4xx answers are not server failures


async def test_circuit_breaker_opens_on_a_refusing_port_and_closes_on_the_live_server(
        ray_env, make_env, pg_dsn, monkeypatch):  # noqa: F811
    port = free_port()  # nothing listens here yet: connections are refused
    changes: list = []
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=0.5,
                             on_change=lambda old, new: changes.append(new))
    async with MarketDataBackbone(f"http://127.0.0.1:{port}", breaker=breaker) as bb:
        for _ in range(3):
            with pytest.raises(ConnectionFailed):
                await bb.get_ticker(SYMS[0], REST_ONLY)
        assert bb.breaker_state is BreakerState.OPEN
        with pytest.raises(CircuitOpen):  # fails fast, no connection attempt
            await bb.get_ticker(SYMS[0], REST_ONLY)

        env = make_env(symbols=SYMS, rate=5.0, book_rate=2.0)
        backend = await asyncio.to_thread(lambda: Backend(env, pg_dsn, monkeypatch, port=port).start())
        try:
            await wait_until(lambda: asyncio.sleep(0, bb.breaker_state is BreakerState.HALF_OPEN), 10, "half-open")
            t = await bb.get_ticker(SYMS[0], REST_ONLY)  # the probe succeeds
            assert t.current_price > 0
            assert bb.breaker_state is BreakerState.CLOSED
            assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]
        finally:
            await asyncio.to_thread(backend.stop)


async def test_503_and_429_are_retried_then_typed():
    app = FastAPI()
    calls = {"n": 0}

    @app.get("/api/ticker/{symbol}")
    async def ticker(symbol: str):
        calls["n"] += 1
        if calls["n"] == 1:
            return JSONResponse({"error": {"code": "UPSTREAM_UNAVAILABLE", "message": "x", "request_id": "r"}}, 503)
        if calls["n"] == 2:
            return JSONResponse({"detail": "slow down"}, 429, headers={"retry-after": "0"})
        if symbol == "000001":
            return JSONResponse({"error": {"code": "UPSTREAM_UNAVAILABLE", "message": "down", "request_id": "q"}},
                                503)
        return {"symbol": symbol, "source": "rest", "data": {"stck_prpr": "1000", "acml_vol": "5"}}

    server = await asyncio.to_thread(lambda: GatewayServer(app).start())
    try:
        async with MarketDataBackbone(server.http_url, max_retries=3) as bb:
            t = await bb.get_ticker("005930", REST_ONLY)
            assert t.current_price == 1000 and calls["n"] == 3 and bb.rest.retries == 2
            with pytest.raises(UpstreamUnavailable) as exc:
                await bb.get_ticker("000001", REST_ONLY)
            assert exc.value.status == 503 and exc.value.request_id == "q"
            assert calls["n"] == 3 + 4  # first try + 3 retries
    finally:
        await asyncio.to_thread(server.stop)


async def test_api_key_required_and_sent(ray_env, make_env, pg_dsn, monkeypatch):  # noqa: F811
    from backbone.client import Unauthorized
    env = make_env(symbols=SYMS, rate=10.0, book_rate=2.0)
    backend = await asyncio.to_thread(lambda: Backend(env, pg_dsn, monkeypatch, api_key="k-123").start())
    try:
        async with MarketDataBackbone(backend.url) as bb:
            with pytest.raises(Unauthorized):
                await bb.get_ticker(SYMS[0], REST_ONLY)
            with pytest.raises(Unauthorized):
                async for _ in bb.stream_ticker([SYMS[0]]):
                    pass
            assert "k-123" not in repr(bb)
        async with MarketDataBackbone(backend.url, api_key="k-123") as bb:
            assert (await bb.get_ticker(SYMS[0], REST_ONLY)).current_price > 0
            async for item in bb.stream_ticker([SYMS[0]]):
                assert isinstance(item, TickerData)
                break
    finally:
        await asyncio.to_thread(backend.stop)
