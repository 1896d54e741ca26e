"""Ticker / order book / status over real Ray: a real RouterActor fed one ingest batch answers
`channel=auto|websocket`; a symbol without a router falls back to REST, and with no socket owner
running that is 503 UPSTREAM_UNAVAILABLE (never a 500)."""
import time
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from serve_app.app import ApiConfig, create_app

from .conftest import serve

KST = ZoneInfo("Asia/Seoul")
SYM = "005930"


@pytest.fixture
def router(ray_session):
    from actors.router import get_or_create_router
    handle = get_or_create_router(SYM)
    yield handle
    ray_session.kill(handle)


async def test_ticker_orderbook_and_status_from_live_actors(pg, router):
    from backbone.kis.events import BookLevel, OrderBook, Side, Trade
    from serve_app.live_ray import RayLiveSource
    from upstream.ingest_batch import build_batch

    t = datetime(2026, 11, 20, 10, 15, 3, tzinfo=KST)
    trade = Trade(SYM, t, 71_200, 30, Side.BUY, 1_000_030, 71_000_000_000, 70_900, 71_300, 70_800,
                  200, Decimal("0.28"), 71_300, 71_200, "20", False)
    book = OrderBook(SYM, t, tuple(BookLevel(71_300 + 100 * i, 10 + i) for i in range(10)),
                     tuple(BookLevel(71_200 - 100 * i, 20 + i) for i in range(10)), 145, 245, 1_000_030)
    now = time.time_ns()
    await router.ingest.remote(build_batch(SYM, "api-test", 1, [trade, book], [now, now]))

    app = create_app(ApiConfig(dsn=pg.dsn, change_feed=False), live=RayLiveSource())
    async with serve(app) as client:
        r = await client.get(f"/api/ticker/{SYM}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["source"] == "websocket"
        assert body["data"]["price"] == 71_200 and body["data"]["time"] == t.isoformat()

        r = await client.get(f"/api/orderbook/{SYM}?channel=websocket")
        levels = r.json()["data"]
        assert levels["asks"][0] == {"price": 71_300, "size": 10}
        assert levels["bids"][0] == {"price": 71_200, "size": 20}

        r = await client.get("/api/ticker/000660")  # not streamed -> REST -> no socket owner here
        assert r.status_code == 503 and r.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"

        r = await client.get("/api/status")
        assert r.status_code == 200
        assert r.json()["upstream"]["state"] == "unavailable"
