"""Processes of bench/fanout.py: the load generator (N WebSocket clients), the no-Ray baseline server,
the gateway process, and the simulator frame source. Run by bench/fanout.py; not a test.

Frames carry their send time (wall clock ns) in ACML_TR_PBMN, which reaches clients as the trade
message's `cum_value`: latency = client receipt - simulator send, on one machine's clock.
"""
from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

T, B = "H0STCNT0", "H0STASP0"


# ------------------------------------------------------------------ frame source (simulator loop)
class FrameSource:
    """Trades with consistent ACML_VOL (the tick-loss check passes) and books whose sizes move."""

    def __init__(self, codes: list[str], seed: int = 7) -> None:
        self.codes = codes
        self.rng = random.Random(seed)
        self.cum = {c: 0 for c in codes}

    def trade(self, code: str) -> str:
        from simulator import frames
        size = self.rng.randint(1, 50)
        self.cum[code] += size
        price = 70000 + 100 * self.rng.randint(-5, 5)
        v = {"MKSC_SHRN_ISCD": code, "STCK_CNTG_HOUR": time.strftime("%H%M%S"), "STCK_PRPR": str(price),
             "PRDY_VRSS_SIGN": "2", "PRDY_VRSS": "500", "PRDY_CTRT": "0.72", "STCK_OPRC": "69500",
             "STCK_HGPR": "70600", "STCK_LWPR": "69400", "ASKP1": str(price + 100), "BIDP1": str(price),
             "CNTG_VOL": str(size), "ACML_VOL": str(self.cum[code]), "ACML_TR_PBMN": str(time.time_ns()),
             "CCLD_DVSN": self.rng.choice("15"), "BSOP_DATE": time.strftime("%Y%m%d"), "NEW_MKOP_CLS_CODE": "20",
             "TRHT_YN": "N", "HOUR_CLS_CODE": "0", "MARKET_CLS_CODE": "2"}
        return frames.data_frame(T, [frames.record(T, v)])

    def book(self, code: str) -> str:
        from simulator import frames
        bv = {"MKSC_SHRN_ISCD": code, "BSOP_HOUR": time.strftime("%H%M%S"), "HOUR_CLS_CODE": "0",
              "ACML_VOL": str(self.cum[code]), "TOTAL_ASKP_RSQN": "1000", "TOTAL_BIDP_RSQN": "1000",
              "MARKET_CLS_CODE": "2"}
        for i in range(10):
            bv[f"ASKP{i + 1}"], bv[f"ASKP_RSQN{i + 1}"] = str(70100 + 100 * i), str(self.rng.randint(1, 500))
            bv[f"BIDP{i + 1}"], bv[f"BIDP_RSQN{i + 1}"] = str(70000 - 100 * i), str(self.rng.randint(1, 500))
        return frames.data_frame(B, [frames.record(B, bv)])

    async def send(self, sim, rate: float, seconds: float) -> int:
        """On the simulator's loop: `rate` frames/s, alternating trade/book round-robin over the codes."""
        regs = [(tr, c) for c in self.codes for tr in (T, B)]
        sent, i, start = 0, 0, time.monotonic()
        while (now := time.monotonic()) - start < seconds:
            for _ in range(max(0, int((now - start) * rate) - sent)):
                tr, code = regs[i % len(regs)]
                sim.send_raw(tr, code, self.trade(code) if tr == T else self.book(code))
                sent += 1
                i += 1
            await asyncio.sleep(0.002)
        return sent


def kill_bench_actors(ray, codes: list[str], settings) -> None:
    """Remove the benchmark's detached actors (routers of `codes`, the socket owner), then leave Ray."""
    from actors.kis_socket import socket_actor_name
    from actors.router import router_name
    from backbone.settings import NAMESPACE
    for name in [router_name(c) for c in codes] + [socket_actor_name(settings)]:
        try:
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
        except ValueError:
            pass
    ray.shutdown()


# ------------------------------------------------------------------ load generator (own process)
async def run_clients(url: str, n: int, per_client: int, codes: list[str], warm_s: float, measure_s: float,
                      seed: int = 1) -> dict:
    import websockets
    rng = random.Random(seed)
    counts = {"msgs": 0, "trades": 0, "errors": 0}
    lat: list[float] = []
    window = [0.0, 0.0]

    async def one(i: int) -> None:
        syms = rng.sample(codes, per_client)
        chans = [f"{k}:{s}" for s in syms for k in ("trade", "book")]
        async with websockets.connect(url, open_timeout=60, max_size=None, ping_interval=None,
                                      compression=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channels": chans}))
            async for raw in ws:
                now = time.time()
                if window[0] <= now < window[1]:
                    counts["msgs"] += 1
                    if '"type":"trade"' in raw:
                        m = json.loads(raw)
                        counts["trades"] += 1
                        lat.append((time.time_ns() - m["data"]["cum_value"]) / 1e6)
                    elif '"type":"error"' in raw:
                        counts["errors"] += 1
                elif now >= window[1]:
                    return

    window[0] = time.time() + warm_s
    window[1] = window[0] + measure_s
    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await asyncio.wait(tasks, timeout=warm_s + measure_s + 30)
    failed = sum(1 for t in tasks if t.done() and t.exception() is not None)
    for t in tasks:
        t.cancel()
    lat.sort()
    pick = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan"))
    return {"msgs_per_s": counts["msgs"] / measure_s, "trades": counts["trades"], "errors": counts["errors"],
            "p50_ms": pick(0.5), "p99_ms": pick(0.99), "failed_clients": failed}


# ------------------------------------------------------------------ no-Ray baseline server (own process)
async def baseline_server(ws_url: str, approval: str, codes: list[str], port_file: str) -> None:
    """One asyncio process: KIS socket -> decode -> the same router core -> websockets.broadcast."""
    import websockets
    from backbone.kis.codec import DataFrame, parse_message
    from backbone.kis.control import PingPong
    from backbone.kis.normalize import to_event
    from backbone.kis.requests import subscribe_message
    from backbone.router_core import RouterCore
    from backbone.stream_protocol import Subscribe, parse_client_message

    cores = {c: RouterCore(c) for c in codes}
    subs: dict[str, set] = {}
    seen = {c: {"trade": 0, "book": 0} for c in codes}

    async def handler(ws) -> None:
        mine: list[str] = []
        try:
            async for raw in ws:
                op = parse_client_message(raw)
                if isinstance(op, Subscribe):
                    for ch in op.channels:
                        subs.setdefault(ch.name, set()).add(ws)
                        mine.append(ch.name)
                        if ch.symbol in cores and ch.kind in ("trade", "book"):
                            await ws.send(cores[ch.symbol].snapshot(ch.kind)[1])
        finally:
            for name in mine:
                subs.get(name, set()).discard(ws)

    def fan_out(code: str) -> None:
        core = cores[code]
        for kind in ("trade", "book"):
            r = core.poll(kind, seen[code][kind])
            seen[code][kind] = r["last_seq"]
            targets = subs.get(f"{kind}:{code}")
            for _seq, _t, text in r["events"]:
                if targets:
                    websockets.broadcast(targets, text)

    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, compression=None,
                                ping_interval=None) as server:
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        async with websockets.connect(ws_url, ping_interval=None, compression=None, max_size=None) as up:
            for c in codes:
                for tr in (T, B):
                    await up.send(subscribe_message(approval, tr, c))
            seq = {c: 0 for c in codes}  # per symbol, like the socket owner's batcher: the router
            # core's reorder buffer holds a batch whose seq skips one until the gap is filled
            async for raw in up:
                msg = parse_message(raw, None)
                if isinstance(msg, DataFrame):
                    from upstream.ingest_batch import build_batch
                    evs = [to_event(r) for r in msg.records]
                    by: dict[str, list] = {}
                    for ev in evs:
                        if hasattr(ev, "symbol") and ev.symbol in cores:
                            by.setdefault(ev.symbol, []).append(ev)
                    for code, group in by.items():
                        seq[code] += 1
                        cores[code].ingest(build_batch(code, "baseline", seq[code], group,
                                                       [time.time_ns()] * len(group)))
                        fan_out(code)
                elif isinstance(msg, PingPong):
                    await up.send(msg.raw)


def gateway_process(ray_address: str, port_file: str) -> None:
    """The stream gateway app (what a Serve replica runs) under uvicorn, attached to the Ray cluster."""
    import os

    import ray
    import uvicorn

    from backbone.settings import NAMESPACE, Settings
    from serve_app.stream import create_stream_app
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address=ray_address, namespace=NAMESPACE, log_to_driver=False)
    settings = Settings(**json.loads(os.environ.pop("BENCH_SETTINGS")))  # env, not argv: keys stay out of ps
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    Path(port_file).write_text(str(sock.getsockname()[1]))
    uvicorn.Server(uvicorn.Config(create_stream_app(settings), log_level="warning", lifespan="off",
                                  ws_ping_interval=None)).run(sockets=[sock])


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "clients":
        url, n, k, warm, measure = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
        codes = sys.argv[7].split(",")
        print(json.dumps(asyncio.run(run_clients(url, n, k, codes, warm, measure))))
    elif what == "baseline":
        asyncio.run(baseline_server(sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5]))
    elif what == "gateway":
        gateway_process(sys.argv[2], sys.argv[3])
