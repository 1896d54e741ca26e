"""Stream gateway end to end: simulator -> socket actor -> routers -> gateway (FastAPI under uvicorn,
real Ray actors) -> WebSocket clients."""
from __future__ import annotations

import json

import ray

from backbone.book import apply_delta, delta_from_dict, snapshot_from_dict
from backbone.settings import NAMESPACE
from actors.router import router_name

from .conftest import wait_for
from .stream_env import WsClient, start_stack

SYM = "005930"


def router_status(sym: str) -> dict:
    return ray.get(ray.get_actor(router_name(sym), namespace=NAMESPACE).status.remote())


class BookClient:
    """Rebuilds a book from snapshot + deltas like the browser page does, checking seq continuity."""

    def __init__(self) -> None:
        self.book = None
        self.seq = None
        self.deltas = 0
        self.snapshots = 0

    def on(self, m: dict) -> None:
        if m["type"] == "snapshot":
            self.book, self.seq = snapshot_from_dict(m["data"]), m["seq"]
            self.snapshots += 1
        elif m["type"] == "delta":
            assert m["seq"] == self.seq + 1, (m["seq"], self.seq)
            self.book = apply_delta(self.book, delta_from_dict(m["data"]))  # raises on checksum mismatch
            self.seq = m["seq"]
            self.deltas += 1


async def test_subscribe_trades_and_book_match_router(ray_env, make_env):
    env = make_env(rate=30.0, book_rate=10.0)
    _actor, gw = start_stack(env)
    try:
        c = await WsClient.connect(gw.ws_url)
        await c.send({"op": "subscribe", "channels": [f"trade:{SYM}", f"book:{SYM}", "status"]})
        bc = BookClient()
        trade_seqs = []

        def see(m):  # every message goes through here: the book copy never misses a delta
            if m["channel"] == f"book:{SYM}":
                bc.on(m)
            if m["type"] == "trade":
                trade_seqs.append(m["seq"])
            return m

        await c.until(lambda m: see(m) and bc.deltas >= 20 and len(trade_seqs) >= 20, 60, "20 trades and 20 deltas")
        assert trade_seqs == list(range(trade_seqs[0], trade_seqs[0] + len(trade_seqs)))
        # Invalid messages get an error and the socket carries on.
        await c.send("not json")
        err = await c.until(lambda m: see(m)["type"] == "error", 10, "an error")
        assert err["data"]["code"] == "BAD_JSON"
        await c.send({"op": "subscribe", "channels": ["bogus:1"]})
        err = await c.until(lambda m: see(m)["type"] == "error", 10, "an error")
        assert err["data"]["code"] == "BAD_CHANNEL"
        n = len(trade_seqs)
        await c.until(lambda m: see(m) and len(trade_seqs) > n, 10, "trades after errors")
        assert trade_seqs == list(range(trade_seqs[0], trade_seqs[0] + len(trade_seqs)))
        # Freeze the market: the book rebuilt from snapshot + deltas equals the router's at the same seq.
        env.fault("stall", 5.0)
        router = ray.get_actor(router_name(SYM), namespace=NAMESPACE)
        for _ in range(20):  # frames already in flight may still land: compare once the router is still
            seq, text = await router.snapshot.remote("book")
            if (bc.seq or 0) < seq:
                await c.until(lambda m: see(m) and (bc.seq or 0) >= seq, 30, "book caught up to the router")
            if bc.seq == seq and (await router.snapshot.remote("book"))[0] == seq:
                break
        assert bc.seq == seq
        assert bc.book.checksum == json.loads(text)["data"]["checksum"] != 0
        await c.close()
    finally:
        gw.stop()


async def test_resume_exact_replay_and_too_old(ray_env, make_env):
    env = make_env(rate=40.0)
    _actor, gw = start_stack(env)
    try:
        c = await WsClient.connect(gw.ws_url)
        await c.send({"op": "subscribe", "channels": [f"trade:{SYM}"]})
        snap = await c.until(lambda m: m["type"] == "snapshot", 20, "snapshot")
        epoch = snap["epoch"]
        seen = []
        await c.until(lambda m: m["type"] == "trade" and (seen.append(m["seq"]) or len(seen) >= 5), 30, "trades")
        last = seen[-1]
        await c.close()
        router = ray.get_actor(router_name(SYM), namespace=NAMESPACE)
        wait_for(lambda: ray.get(router.status.remote())["rings"]["trade"]["last_seq"] >= last + 10,
                 what="10 more trades while disconnected")
        c2 = await WsClient.connect(gw.ws_url)
        await c2.send({"op": "resume", "channel": f"trade:{SYM}", "epoch": epoch, "from_seq": last})
        got = []
        await c2.until(lambda m: m["type"] == "trade" and (got.append(m["seq"]) or len(got) >= 15), 30, "replay")
        assert got == list(range(last + 1, last + 16))  # exactly the missed events, then live, no gap
        assert not [m for m in c2.messages if m["type"] == "snapshot"]
        # Too old (another epoch): a snapshot with recovered=false, then live events.
        await c2.send({"op": "resume", "channel": f"trade:{SYM}", "epoch": "0000dead0000", "from_seq": 3})
        s = await c2.until(lambda m: m["type"] == "snapshot", 20, "recovery snapshot")
        assert s["recovered"] is False and s["epoch"] == epoch and s["data"]["last"] is not None
        nxt = await c2.until(lambda m: m["type"] == "trade", 20, "live after snapshot")
        assert nxt["seq"] == s["seq"] + 1
        await c2.close()
    finally:
        gw.stop()


def test_api_key_close_4401_and_errors_without_ray():
    import pytest
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from serve_app.stream import create_stream_app
    app = create_stream_app(None, api_key="s3cret")
    with TestClient(app) as tc:
        for path, headers in (("/ws", {}), ("/ws?api_key=wrong", {}), ("/ws", {"x-api-key": "nope"})):
            with tc.websocket_connect(path, headers=headers) as ws:
                with pytest.raises(WebSocketDisconnect) as exc:
                    ws.receive_text()
                assert exc.value.code == 4401
        for path, headers in (("/ws?api_key=s3cret", {}), ("/ws", {"x-api-key": "s3cret"})):
            with tc.websocket_connect(path, headers=headers) as ws:
                ws.send_text('{"op":"subscribe","channels":["nope"]}')
                assert ws.receive_json()["data"]["code"] == "BAD_CHANNEL"
                ws.send_bytes(b"\xff")
                assert ws.receive_json()["data"]["code"] == "BAD_JSON"
                ws.send_text('{"op":"resume","channel":"trade:005930","epoch":"e","from_seq":-5}')
                assert ws.receive_json()["data"]["code"] == "BAD_RESUME"


def test_api_app_mounts_ws_and_streams_page():
    from serve_app.app import ApiConfig, create_app
    app = create_app(ApiConfig(dsn="postgresql://unused@127.0.0.1:1/x", change_feed=False))
    paths = {getattr(r, "path", None) for r in app.routes}
    assert {"/ws", "/streams", "/api/status"} <= paths


async def test_demand_declared_and_released_after_grace(ray_env, make_env):
    import asyncio

    from .conftest import wait_for
    env = make_env(rate=10.0)
    actor, gw = start_stack(env, gateway={"grace_s": 1.0})
    try:
        c1 = await WsClient.connect(gw.ws_url)
        c2 = await WsClient.connect(gw.ws_url)
        for c in (c1, c2):
            await c.send({"op": "subscribe", "channels": [f"trade:{SYM}", f"book:{SYM}"]})
            try:  # a print arrives (the socket carries the demand all the way to the client)
                await c.until(lambda m: m.get("channel") == f"trade:{SYM}" and m["type"] == "trade", 30, "a print")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; router: {router_status(SYM)}") from None
        requester = gw.hub.requester
        view = await actor.view.remote(requester)
        assert set(view) == {f"H0STCNT0:{SYM}", f"H0STASP0:{SYM}"}
        await c1.close()
        await asyncio.sleep(1.5)  # past the grace: c2 still holds the channels
        assert set(await actor.view.remote(requester)) == set(view)
        await c2.close()  # the last client leaves: released after the grace
        await asyncio.to_thread(wait_for, lambda: not ray.get(actor.view.remote(requester)), 30, 0.1,
                                "demand released")
    finally:
        gw.stop()
