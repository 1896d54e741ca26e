"""The dashboard at `GET /` against a live backend, in headless Chromium.

Backend: the project's API app (serve_app.app.create_app: HTTP API + /ws gateway + dashboard) under
uvicorn in this process, with an API key, talking to the real Ray actors (socket actor, routers,
alert sender) fed by the simulator, and a throwaway PostgreSQL. One 1m session of history is written
with a gap in the middle, so the chart must show real and gap-filled candles. The page must render
candles, receive trades (and draw the forming candle from them), rebuild the book from snapshot +
deltas with a verified checksum equal to the router's, show the upstream status and budget, resume
after its socket drops, and switch intervals. The screenshot goes to test-output/dashboard.png.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import ray

from actors.router import router_name
from backbone.settings import NAMESPACE
from tests.integration.stream_env import GatewayServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SYM = "005930"
OUT = Path(__file__).resolve().parents[2] / "test-output"
VENDOR = Path(__file__).resolve().parents[2] / "serve_app/static/vendor/lightweight-charts.standalone.production.js"
GAP = (60, 75)  # minutes after the open without rows: filled candles

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium missing (make deps-browser)"),
    pytest.mark.skipif(not VENDOR.is_file(), reason="chart bundle missing (make deps-dashboard)"),
]


def session_history(symbol: str, now: datetime):
    """1m candles over the latest XKRX session up to now, minus the GAP minutes (a random walk)."""
    from backbone import symbols
    from backbone.api_params import latest_session
    from backbone.calendars import calendar_for
    from backbone.models import Candle
    from simulator.clock import previous_trading_day
    from simulator.history import daily_bar

    open_, close = latest_session(calendar_for(symbol), now)
    rng = random.Random(7)
    price = int(symbols.get(symbol).ref_price)
    out, t, i = [], open_, 0
    while t < min(close, now - timedelta(minutes=2)):
        o = price
        price = max(100, round(price * (1 + rng.gauss(0, 0.0012)) / 100) * 100)
        hi, lo = max(o, price) + 100 * rng.randint(0, 2), min(o, price) - 100 * rng.randint(0, 2)
        if not GAP[0] <= i < GAP[1]:
            out.append(Candle(symbol, "1m", t, o, hi, lo, price, rng.randint(2_000, 40_000), source="import"))
        t, i = t + timedelta(minutes=1), i + 1
    # end at the simulator's previous close (where its walk starts), so live candles continue the line
    today = datetime.now(ZoneInfo("Asia/Seoul")).date()
    shift = daily_bar(1, symbols.get(symbol), previous_trading_day(today))[3] - price
    return [replace(c, open=c.open + shift, high=c.high + shift, low=c.low + shift, close=c.close + shift)
            for c in out]


async def write_history(dsn: str, candles) -> None:
    import asyncpg

    from storage.candle_rows import upsert_candles
    conn = await asyncpg.connect(dsn)
    try:
        await upsert_candles(conn, candles)
    finally:
        await conn.close()


async def delete_history(dsn: str, candles) -> None:
    import asyncpg
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM market_candles WHERE symbol = $1 AND source = 'import' AND time >= $2 "
                           "AND time <= $3", candles[0].symbol, candles[0].time, candles[-1].time)
    finally:
        await conn.close()


def router_book(sym: str) -> tuple[int, int]:
    seq, text = ray.get(ray.get_actor(router_name(sym), namespace=NAMESPACE).snapshot.remote("book"))
    return seq, json.loads(text)["data"]["checksum"]


async def until(page, predicate_js: str, what: str, timeout: float = 60.0):
    """Poll window.dashboard until `predicate_js` (a JS expression over `d`) holds; fail with the state."""
    deadline = time.monotonic() + timeout
    while True:
        if await page.evaluate(f"(() => {{ const d = window.dashboard; return !!d && !!({predicate_js}); }})()"):
            return await page.evaluate("window.dashboard")
        if time.monotonic() > deadline:
            state = await page.evaluate("window.dashboard")
            brief = {k: state.get(k) for k in ("connected", "tradeCount", "deltas", "mismatches", "resyncs",
                                               "candles", "chart", "status", "errors", "bookSeq")} if state else None
            raise AssertionError(f"dashboard: timed out waiting for {what}; state {brief}")
        await page.wait_for_timeout(150)


async def run_sector_cycle(dsn: str) -> None:
    from jobs.sectors import RouterLatestPrices, SectorCycle, load_groups
    cycle = SectorCycle(load_groups([]), RouterLatestPrices(NAMESPACE), dsn=dsn, use_ray=False)
    try:
        await cycle.run_once()
    finally:
        await cycle.close()


async def test_dashboard_live(ray_env, make_env, pg_dsn, tmp_path, monkeypatch):
    from playwright.async_api import async_playwright

    from actors.alert_sender import get_or_create_alert_sender
    from actors.kis_socket import get_or_create_socket_actor, socket_actor_name
    from serve_app.app import ApiConfig, create_app
    from serve_app.live_ray import RayLiveSource

    env = make_env(symbols=(SYM, "000660", "035420"), rate=12.0, book_rate=6.0,
                   large_print_prob=0.03)  # whale prints within seconds
    for k, v in {"KIS_APP_KEY": env.app_key, "KIS_APP_SECRET": env.app_secret,
                 "SIM_REST_PORT": str(env.settings.sim_rest_port),
                 "SIM_WS_PORT": str(env.settings.sim_ws_port)}.items():
        monkeypatch.setenv(k, v)  # the gateway inside create_app finds the socket actor by app key
    alerts = get_or_create_alert_sender(pg_dsn, [], socket_actor_name(env.settings))
    get_or_create_socket_actor(env.settings, env.options())
    history = session_history(SYM, datetime.now(timezone.utc))
    await write_history(pg_dsn, history)

    api_key = "dash-" + uuid.uuid4().hex[:10]
    app = create_app(ApiConfig(dsn=pg_dsn, api_key=api_key, log_file=str(tmp_path / "api.log")),
                     live=RayLiveSource(env.settings))
    gw = GatewayServer(app).start()
    OUT.mkdir(exist_ok=True)
    try:
        async with httpx.AsyncClient(base_url=gw.http_url, timeout=10) as http:
            assert (await http.get("/")).status_code == 401  # the page needs the key like the API
            assert (await http.get("/static/dashboard/app.js")).status_code == 200  # code, no data
            page_res = await http.get("/", params={"api_key": api_key})
            assert page_res.status_code == 200 and "lightweight-charts" in page_res.text

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                ctx = await browser.new_context(viewport={"width": 1440, "height": 900}, offline=False)
                page = await ctx.new_page()
                failed: list[str] = []
                page.on("requestfailed", lambda r: failed.append(r.url))
                page.on("pageerror", lambda e: failed.append(f"page error: {e}"))
                requested: list[str] = []
                page.on("request", lambda r: requested.append(r.url))
                await page.goto(f"{gw.http_url}/?api_key={api_key}&symbol={SYM}")

                # history with filled candles, live trades drawing the forming candle, a verified book
                st = await until(page, "d.candles.interval === '1m' && d.candles.loaded > 0 && d.chart.filled >= 10 && d.tradeCount >= 5 "
                                       "&& d.chart.live >= 1 && d.deltas >= 5 && d.book && d.book.ok "
                                       "&& d.status && d.status.state === 'connected'", "a live dashboard")
                assert st["chart"]["filled"] >= GAP[1] - GAP[0]
                assert st["status"]["registrations_budget"] == 41 and st["status"]["registrations_used"] >= 2
                assert await page.locator("#chart canvas").count() > 0
                await until(page, "document.querySelector('#book-check').textContent.includes('checksum ok') "
                                  "&& document.querySelectorAll('#book tr.ask').length === 10 "
                                  "&& document.querySelectorAll('#book tr.bid').length === 10 "
                                  "&& document.querySelectorAll('#trades tbody tr').length >= 5", "the rendered panels")

                # sectors: one jobs.sectors cycle -> the `sectors` channel -> the table
                await run_sector_cycle(pg_dsn)
                await until(page, "d.sectors && d.sectors.sectors.length > 0 "
                                  "&& document.querySelectorAll('#sectors tbody tr').length > 0", "sectors", timeout=20)

                # whales: large prints -> router -> alert sender -> `whale` channel -> the feed
                await until(page, "d.whales.length >= 1 && document.querySelectorAll('#whales tbody tr').length >= 1",
                            "a whale print", timeout=30)

                # the socket drops: the page reconnects and resumes without a gap or a mismatch
                before = st["tradeCount"]
                await page.evaluate("window.dashboardStream.ws.close()")
                st = await until(page, f"d.connected && d.reconnects >= 1 && d.tradeCount >= {before + 5}",
                                 "resume after a drop")
                assert st["gaps"] == 0 and st["mismatches"] == 0

                # market frozen: the page's rebuilt book equals the router's (seq and checksum)
                env.fault("stall", 6.0)
                deadline = time.monotonic() + 5
                while True:
                    want = router_book(SYM)
                    st = await page.evaluate("window.dashboard")
                    got = (st["bookSeq"], st["book"]["checksum"], st["book"]["ok"])
                    if got == (*want, True):
                        break
                    assert time.monotonic() < deadline, f"book differs: router {want}, page {got}"
                    await page.wait_for_timeout(100)
                await page.screenshot(path=str(OUT / "dashboard.png"))

                # interval switch: 5m candles, the 15-minute gap is three filled 5m candles
                await page.click("#intervals button[data-ivl='5m']")
                st = await until(page, "d.candles.interval === '5m' && d.candles.loaded > 0 && d.chart.filled >= 3",
                                 "5m candles")
                assert st["mismatches"] == 0 and st["errors"] == []
                # 5m bars (history + the forming ones from buffered trades), not the 390 1m ones
                assert st["chart"]["bars"] <= st["candles"]["loaded"] + 5 < 200
                await page.wait_for_timeout(300)  # one render after the load
                await page.screenshot(path=str(OUT / "dashboard-5m.png"))

                # symbol switch: the old channels are dropped, the new book and trades arrive
                await page.select_option("#symbol", "000660")
                st = await until(page, "d.symbol === '000660' && d.book && d.book.ok && d.trades.length >= 3 "
                                       "&& d.trades.every(t => t.symbol === '000660')", "the switch to 000660")
                assert st["mismatches"] == 0
                assert failed == [], f"failed requests or page errors: {failed}"
                external = [u for u in requested if not u.startswith((gw.http_url, "data:"))]
                assert external == [], f"the page must work offline (no CDN): {external}"
            finally:
                await browser.close()
    finally:
        gw.stop()
        ray.kill(alerts, no_restart=True)
        await delete_history(pg_dsn, history)
