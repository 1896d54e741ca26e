"""The same app as a Ray Serve deployment on real Ray: candles, the error contract, the API key,
and no API key in Serve's own request logs (the proxy and replica logs)."""
import asyncio
import glob
import os
from datetime import date

import httpx
import pytest

from storage.embedded import free_port

from .conftest import insert_rows, session_rows

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")


@pytest.fixture(scope="module")
def serve_url(pg, ray_session):
    from serve_app.deployment import build_app
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(build_app({"dsn": pg.dsn, "api_key": "serve-key-0451"}), name="api", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()


async def test_candles_and_errors_through_serve(serve_url, db):
    await insert_rows(db, session_rows("005930", date(2026, 11, 20)))
    key = {"X-API-Key": "serve-key-0451"}
    async with httpx.AsyncClient(base_url=serve_url, timeout=30) as client:
        assert (await client.get("/healthz")).status_code == 200
        r = await client.get("/api/candles/005930?from=2026-11-20&to=2026-11-20&api_key=serve-key-0451")
        assert r.status_code == 200, r.text
        assert len(r.json()["candles"]) == 390
        r = await client.get("/api/candles/005930?interval=7m", headers=key)
        assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_INTERVAL"
        r = await client.get("/api/candles/005930")
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    session_logs = ray._private.worker._global_node.get_logs_dir_path()
    for path in glob.glob(os.path.join(session_logs, "serve", "*")):
        with open(path, errors="replace") as f:
            assert "serve-key-0451" not in f.read(), path


async def test_the_stream_gateway_is_mounted_on_the_same_app(serve_url):
    pytest.importorskip("serve_app.stream")
    import websockets
    ws_url = serve_url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(ws_url, open_timeout=30) as ws:  # no API key
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 30)
    assert closed.value.rcvd.code == 4401
