"""SDK benchmark: end-to-end latency simulator send -> SDK consumer (p50, p99), events/s for one
consumer over 40 subscriptions (20 symbols x trade + book), reconnection time after a server-side
drop. Seed 004's targets: latency < 1 s, reconnection < 5 s.

Path: simulator (frames carry their send time, wall clock ns, in ACML_TR_PBMN -> the trade's
`cum_value` -> TickerData.trade_value) -> KISSocketActor -> RouterActors -> stream gateway (its own
process under uvicorn, attached to Ray) -> MarketDataBackbone.stream_ticker / stream_orderbook.
Baseline, same run, same gateway and load: a bare websockets client that only parses JSON.

Usage: .venv/bin/python bench/sdk.py [--rate 400] [--seconds 10] [--drops 3]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

KEY, SECRET = "BENCH-SDK-ACTOR", "bench-sdk-actor-secret"
TARGET_LATENCY_MS, TARGET_RECONNECT_S = 1000.0, 5.0


# ------------------------------------------------------------------ gateway process
def gateway_process(ray_address: str, port: int) -> None:
    """The stream app under uvicorn on `port`, plus POST /bench/drop: close every client socket
    from the server side (what a gateway restart or a load balancer does to the SDK)."""
    import ray
    import uvicorn

    from backbone.settings import NAMESPACE, Settings
    from serve_app.stream import create_stream_app
    ray.init(address=ray_address, namespace=NAMESPACE, log_to_driver=False)
    app = create_stream_app(Settings(**json.loads(os.environ.pop("BENCH_SETTINGS"))))

    @app.post("/bench/drop")
    async def drop() -> dict:
        hub = app.state.stream_hub
        return {"dropped": await hub.close_clients() if hub is not None else 0}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws_ping_interval=None)


# ------------------------------------------------------------------ consumers
def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def raw_consumer(url: str, codes: list[str], seconds: float) -> dict:
    import websockets
    lat, n = [], 0
    async with websockets.connect(url + "/ws", max_size=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": [f"{k}:{c}" for c in codes for k in ("trade", "book")]}))
        t0 = time.monotonic()
        while (left := seconds - (time.monotonic() - t0)) > 0:
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), left))
            except asyncio.TimeoutError:
                break
            n += 1
            if m.get("type") == "trade":
                lat.append((time.time_ns() - m["data"]["cum_value"]) / 1e6)
    return {"events_s": n / seconds, "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "trades": len(lat)}


async def sdk_consumer(url: str, codes: list[str], seconds: float, drops: int, drop_url: str) -> dict:
    import httpx

    from backbone.client import MarketDataBackbone, Resync, TickerData
    lat: list[float] = []
    counts = {"events": 0, "resyncs": 0}
    last_event = [0.0]

    async def consume(gen) -> None:
        async for item in gen:
            now = time.time_ns()
            last_event[0] = time.monotonic()
            if isinstance(item, Resync):
                counts["resyncs"] += 1
                continue
            counts["events"] += 1
            if isinstance(item, TickerData) and item.trade_value and measuring[0]:
                lat.append((now - item.trade_value) / 1e6)

    measuring = [False]
    async with MarketDataBackbone(url) as bb:
        tasks = [asyncio.create_task(consume(bb.stream_ticker(codes))),
                 asyncio.create_task(consume(bb.stream_orderbook(codes)))]
        await asyncio.sleep(3.0)  # snapshots in, steady state
        measuring[0], counts["events"] = True, 0
        await asyncio.sleep(seconds)
        measuring[0] = False
        rate = counts["events"] / seconds
        recon = []
        async with httpx.AsyncClient() as http:
            for _ in range(drops):
                before = bb.stream_stats.reconnects
                t_drop = time.monotonic()
                await http.post(drop_url)
                while bb.stream_stats.reconnects == before and time.monotonic() - t_drop < 30:
                    await asyncio.sleep(0.005)
                t_back = time.monotonic()  # first event after this (conservative by the poll step)
                while last_event[0] < t_back and time.monotonic() - t_drop < 30:
                    await asyncio.sleep(0.005)
                recon.append((last_event[0] - t_drop, bb.stream_stats.last_reconnect_s))
                await asyncio.sleep(1.0)
        st = bb.stream_stats
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"events_s": rate, "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "trades": len(lat), "reconnect": recon,
            "resyncs": counts["resyncs"], "gaps": st.gaps, "dups": st.duplicates_dropped,
            "mismatches": st.checksum_mismatches}


# ------------------------------------------------------------------ driver
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=400.0, help="simulator frames/s over the 40 registrations")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--drops", type=int, default=3)
    args = ap.parse_args()

    import ray

    from actors.kis_socket import get_or_create_socket_actor
    from actors.router import router_name
    from backbone import symbols as universe
    from backbone.settings import NAMESPACE, Settings
    from fanout import _router_ready
    from fanout_parts import FrameSource, kill_bench_actors
    from simulator.testing import SimulatorThread
    from upstream.options import SocketOptions

    codes = [s if isinstance(s, str) else s.code for s in list(universe.SYMBOLS)[:20]]
    sim = SimulatorThread(symbols=tuple(codes), rate=0.01, book_rate=0.0, index_rate=0.0, clock="always-open",
                          credentials={KEY: SECRET}, send_queue_limit=1_000_000).start()
    src = FrameSource(codes)
    r, w = urlparse(sim.rest_url), urlparse(sim.ws_url)
    settings = Settings(kis_app_key=KEY, kis_app_secret=SECRET, sim_rest_port=r.port, sim_ws_port=w.port)
    ctx = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                   object_store_memory=200 * 1024 * 1024, namespace=NAMESPACE)
    actor = get_or_create_socket_actor(settings, SocketOptions.from_settings(settings, send_interval_s=0.005))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, BENCH_SETTINGS=json.dumps({"kis_app_key": KEY, "kis_app_secret": SECRET,
                                                      "sim_rest_port": r.port, "sim_ws_port": w.port}))
    gw = subprocess.Popen([sys.executable, __file__, "gateway", ctx.address_info["address"], str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()[0]
    try:
        regs = [(tr, c) for c in codes for tr in ("H0STCNT0", "H0STASP0")]
        ray.get(actor.acquire.remote("bench-warm", regs, 1))
        while ray.get(actor.status.remote())["registrations"]["live"] < len(regs):
            time.sleep(0.1)
        missing = list(codes)
        while missing:
            sim.call(lambda: src.send(sim.sim, 100, 1.0), timeout=60)
            missing = [c for c in missing if not _router_ready(ray, router_name(c))]
        import httpx
        for _ in range(300):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        total = 2 * args.seconds + 3 + args.drops * 4 + 40
        sender = threading.Thread(target=lambda: sim.call(lambda: src.send(sim.sim, args.rate, total),
                                                          timeout=total + 60), daemon=True)
        sender.start()
        time.sleep(1.0)
        base = asyncio.run(raw_consumer("ws" + url[4:], codes, args.seconds))
        sdk = asyncio.run(sdk_consumer(url, codes, args.seconds, args.drops, url + "/bench/drop"))
    finally:
        gw.terminate()
        gw.wait(10)
        kill_bench_actors(ray, codes, settings)
        sim.stop()

    print(f"SDK benchmark: {args.rate:g} frames/s over 40 subscriptions (20 symbols x trade+book), one consumer, "
          f"{args.seconds:g} s window, {os.cpu_count()} CPUs, load avg {load_before:.1f} -> "
          f"{os.getloadavg()[0]:.1f} (machine shared)")
    print(f"{'consumer':<30} | {'events/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | trades")
    for name, res in (("MarketDataBackbone (SDK)", sdk), ("bare websockets (baseline)", base)):
        print(f"{name:<30} | {res['events_s']:>8.0f} | {res['p50']:>7.1f} | {res['p99']:>7.1f} | {res['trades']}")
    recon = sdk["reconnect"]
    first = [a for a, _ in recon]
    print(f"reconnection after a server-side drop ({len(recon)} drops): drop -> first event again "
          + ", ".join(f"{a:.2f} s" for a in first) + "; disconnect -> resubscribed "
          + ", ".join(f"{b:.2f} s" for _, b in recon if b is not None))
    print(f"continuity over the drops: resyncs {sdk['resyncs']}, gaps {sdk['gaps']}, duplicates dropped "
          f"{sdk['dups']}, checksum mismatches {sdk['mismatches']}")
    ok_lat = sdk["p99"] < TARGET_LATENCY_MS
    ok_rec = bool(first) and max(first) < TARGET_RECONNECT_S
    print(f"targets (seed 004): latency < {TARGET_LATENCY_MS:.0f} ms: p99 {sdk['p99']:.1f} ms -> "
          f"{'met' if ok_lat else 'MISSED'}; reconnection < {TARGET_RECONNECT_S:g} s: worst "
          f"{max(first) if first else float('nan'):.2f} s -> {'met' if ok_rec else 'MISSED'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "gateway":
        gateway_process(sys.argv[2], int(sys.argv[3]))
    else:
        main()
