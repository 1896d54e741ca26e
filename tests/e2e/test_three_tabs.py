"""TICKET-002 acceptance: three browser tabs, one KIS socket, every tab live.

Real headless Chromium (Debian's /usr/bin/chromium via Playwright; never `playwright install`) opens
three tabs of /streams served by the gateway: once as the stream app under uvicorn in this process,
once as the project's Ray Serve deployment (both talk to the real Ray actors: socket actor + routers). Each tab subscribes to trades and books of two symbols and
rebuilds the books from snapshot + deltas, verifying the CRC32 checksum in JavaScript.
"""
from __future__ import annotations

import json
import os
import socket
import time

import pytest
import ray

from actors.router import router_name
from backbone.settings import NAMESPACE
from tests.integration.stream_env import start_stack

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SYMS = ("005930", "000660")

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium missing (make deps-browser)")


def router_book(sym: str) -> tuple[int, int]:
    seq, text = ray.get(ray.get_actor(router_name(sym), namespace=NAMESPACE).snapshot.remote("book"))
    return seq, json.loads(text)["data"]["checksum"]


async def check_three_tabs(env, base_url: str) -> None:
    """Three tabs on `base_url`/streams: one upstream socket, all live, books equal the routers'."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ctx = await browser.new_context()
            pages = []
            for _ in range(3):
                p = await ctx.new_page()
                await p.goto(f"{base_url}/streams?symbols={','.join(SYMS)}")
                pages.append(p)

            async def states():
                return [await p.evaluate("window.streamState") for p in pages]

            deadline = time.monotonic() + 90
            while True:
                st = await states()
                live = all(s["trades"].get(sym, 0) >= 3 and s["deltas"].get(sym, 0) >= 3
                           for s in st for sym in SYMS)
                if live:
                    break
                assert time.monotonic() < deadline, f"tabs not live: {[(s['trades'], s['deltas']) for s in st]}"
                await pages[0].wait_for_timeout(200)
            sim = env.stats()
            assert sim["connections"]["open"] == 1 and sim["connections"]["total"] == 1
            # Freeze the market, then each tab's rebuilt book must equal the router's.
            env.fault("stall", 6.0)
            deadline = time.monotonic() + 5
            while True:
                st = await states()
                want = {s: router_book(s) for s in SYMS}
                got = [{sym: (s["seq"].get(f"book:{sym}"), s["books"][sym]["checksum"], s["books"][sym]["ok"])
                        for sym in SYMS} for s in st]
                if all(g[sym] == (*want[sym], True) for g in got for sym in SYMS):
                    break
                assert time.monotonic() < deadline, f"books differ: router {want}, tabs {got}"
                await pages[0].wait_for_timeout(100)
            for s in st:
                assert s["mismatches"] == 0 and s["gaps"] == 0 and s["errors"] == []
                assert s["status"] is not None and s["status"]["state"] == "connected"
            assert env.stats()["connections"]["total"] == 1
        finally:
            await browser.close()


async def test_three_tabs_uvicorn_gateway(ray_env, make_env):
    """Gateway = the stream app under uvicorn in this process, talking to the real Ray actors."""
    env = make_env(symbols=SYMS + ("035420",), rate=15.0, book_rate=8.0)
    _actor, gw = start_stack(env)
    try:
        await check_three_tabs(env, gw.http_url)
    finally:
        gw.stop()


async def test_three_tabs_ray_serve(ray_env, make_env, pg_dsn, tmp_path):
    """Gateway = the project's Serve deployment (serve_app.deployment: HTTP API + /ws) via serve.run."""
    from ray import serve

    from actors.kis_socket import get_or_create_socket_actor
    from serve_app.deployment import ApiDeployment

    env = make_env(symbols=SYMS + ("035420",), rate=15.0, book_rate=8.0)
    get_or_create_socket_actor(env.settings, env.options())
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env_vars = {"KIS_APP_KEY": env.app_key, "KIS_APP_SECRET": env.app_secret,
                "SIM_REST_PORT": str(env.settings.sim_rest_port), "SIM_WS_PORT": str(env.settings.sim_ws_port),
                "BACKBONE_DATA_DIR": str(tmp_path)}
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        app = ApiDeployment.options(ray_actor_options={"num_cpus": 0, "runtime_env": {"env_vars": env_vars}}
                                    ).bind({"dsn": pg_dsn})
        serve.run(app, name="streams-e2e", route_prefix="/")
        await check_three_tabs(env, f"http://127.0.0.1:{port}")
    finally:
        serve.shutdown()
