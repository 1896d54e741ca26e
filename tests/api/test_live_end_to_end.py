"""Ticker / order book / status end to end: the simulator (real KIS protocol over real sockets),
the real KISSocketActor and RouterActors on real Ray, and the API's RayLiveSource. A streamed
symbol answers from the router (`websocket`); another symbol answers through the socket owner's
REST current price (`rest`, same token and rate limiter)."""
import asyncio
import uuid
from urllib.parse import urlparse

import pytest

from serve_app.app import ApiConfig, create_app

from .conftest import serve

T, B = "H0STCNT0", "H0STASP0"


@pytest.fixture
def socket_env(pg, ray_session):
    from actors.kis_socket import get_or_create_socket_actor
    from backbone.settings import Settings
    from simulator.testing import SimulatorThread
    from upstream.options import SocketOptions

    key, secret = f"TEST-{uuid.uuid4().hex[:12]}", "secret-" + uuid.uuid4().hex[:8]
    sim = SimulatorThread(clock="always-open", symbols=("005930", "000660"),
                          credentials={key: secret}).start()
    try:
        settings = Settings(kis_app_key=key, kis_app_secret=secret,
                            sim_rest_port=urlparse(sim.rest_url).port, sim_ws_port=urlparse(sim.ws_url).port)
        owner = get_or_create_socket_actor(settings, SocketOptions.from_settings(
            settings, database_dsn=pg.dsn, poll_interval_s=60.0, send_interval_s=0.005, flush_ms=5))
        yield settings, owner
    finally:
        from tests.integration.conftest import kill_detached
        kill_detached()
        sim.stop()


async def test_live_and_rest_answers_through_the_real_actors(pg, socket_env):
    from serve_app.live_ray import RayLiveSource

    settings, owner = socket_env
    await owner.acquire.remote("api-test", [(T, "005930"), (B, "005930")], 1)
    app = create_app(ApiConfig(dsn=pg.dsn, change_feed=False), live=RayLiveSource(settings))
    async with serve(app) as client:
        got: dict = {}

        async def streamed() -> bool:
            r = await client.get("/api/ticker/005930?channel=websocket")
            got["ticker"] = r
            return r.status_code == 200
        for _ in range(300):  # the first trade reaches the router within seconds
            if await streamed():
                break
            await asyncio.sleep(0.1)
        body = got["ticker"].json()
        assert body["source"] == "websocket" and body["data"]["price"] > 0, body

        r = await client.get("/api/ticker/000660")  # not subscribed: auto falls back to REST
        assert r.status_code == 200, r.text
        assert r.json()["source"] == "rest"

        for _ in range(300):
            r = await client.get("/api/orderbook/005930?channel=websocket")
            if r.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert r.json()["data"]["asks"] and r.json()["data"]["bids"]

        status = (await client.get("/api/status")).json()["upstream"]
        assert status["socket"]["registrations"]["budget"] == 41
        assert "005930" in status["feeds"]
        text = (await client.get("/metrics")).text
        assert 'api_upstream_value{field="socket.registrations.used"}' in text
