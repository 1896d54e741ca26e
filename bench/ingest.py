"""Ingest benchmark: simulator -> KISSocketActor -> RouterActors, next to a plain asyncio decoder.

The simulator (its own sessions and socket writer, market generator quietened) sends R frames/s
round-robin over 40 registrations (20 symbols x trade + book). Every trade frame carries its send
time (wall clock ns) in ACML_TR_PBMN. The bench registers a `TracingRouter` under each
"router:<symbol>" name before the socket actor starts (the actor attaches to existing routers by
name): it does the real router's ingest work (RouterState + RouterCore) and also records the delay
from frame sent to router ingest. Reported per R:
  - frames/s sustained into routers (events counted by the routers over the send window + drain),
  - the socket actor's CPU share (psutil on its process),
  - delay sent -> router ingest, p50 / p99 (trade frames),
and, in the same run, the limit: one plain asyncio loop (no Ray) on its own app key receiving and
decoding the same frames (parse_message + to_event), with its delay sent -> decoded.

Usage: .venv/bin/python bench/ingest.py [--rates 500,2000,4000] [--seconds 5]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import httpx  # noqa: E402
import psutil  # noqa: E402
import ray  # noqa: E402
import websockets  # noqa: E402

from backbone import symbols as universe  # noqa: E402
from backbone.backoff import BackoffConfig  # noqa: E402
from backbone.kis.codec import DataFrame, parse_message  # noqa: E402
from backbone.kis.control import PingPong  # noqa: E402
from backbone.kis.layouts import LAYOUTS  # noqa: E402
from backbone.kis.normalize import to_event  # noqa: E402
from backbone.kis.requests import subscribe_message  # noqa: E402
from backbone.settings import NAMESPACE, Settings  # noqa: E402
from simulator import frames  # noqa: E402
from simulator.testing import SimulatorThread  # noqa: E402
from upstream.options import SocketOptions  # noqa: E402

T, B = "H0STCNT0", "H0STASP0"
ACTOR_KEY, ACTOR_SECRET = "BENCH-ACTOR-KEY", "bench-actor-secret"
PLAIN_KEY, PLAIN_SECRET = "BENCH-PLAIN-KEY", "bench-plain-secret"


def templates(codes: list[str]) -> dict[tuple[str, str], tuple[str, str]]:
    """Per registration: (prefix, suffix) of a one-record frame; the send time goes between them."""
    out = {}
    cnt_names = LAYOUTS[T]
    cut = cnt_names.index("ACML_TR_PBMN")
    for c in codes:
        v = {"MKSC_SHRN_ISCD": c, "STCK_CNTG_HOUR": "100000", "STCK_PRPR": "70000", "PRDY_VRSS_SIGN": "2",
             "PRDY_VRSS": "500", "PRDY_CTRT": "0.72", "WGHN_AVRG_STCK_PRC": "69900.00", "STCK_OPRC": "69500",
             "STCK_HGPR": "70100", "STCK_LWPR": "69400", "ASKP1": "70100", "BIDP1": "70000", "CNTG_VOL": "10",
             "ACML_VOL": "123456", "ACML_TR_PBMN": "0", "CCLD_DVSN": "1", "BSOP_DATE": "20261120",
             "NEW_MKOP_CLS_CODE": "20", "TRHT_YN": "N", "SELN_CNTG_CSNU": "1", "SHNU_CNTG_CSNU": "1",
             "NTBY_CNTG_CSNU": "0", "CTTR": "100.00", "SELN_CNTG_SMTN": "1", "SHNU_CNTG_SMTN": "1",
             "SHNU_RATE": "0.50", "PRDY_VOL_VRSS_ACML_VOL_RATE": "50.00", "HOUR_CLS_CODE": "0",
             "MARKET_CLS_CODE": "2", "VI_STND_PRC": "69500"}
        rec = frames.record(T, v)
        out[(T, c)] = (f"0|{T}|001|" + "^".join(rec[:cut]) + "^", "^" + "^".join(rec[cut + 1:]))
        bv = {"MKSC_SHRN_ISCD": c, "BSOP_HOUR": "100000", "HOUR_CLS_CODE": "0", "ACML_VOL": "123456",
              "TOTAL_ASKP_RSQN": "1000", "TOTAL_BIDP_RSQN": "1000", "MARKET_CLS_CODE": "2"}
        for i in range(10):
            bv[f"ASKP{i + 1}"], bv[f"ASKP_RSQN{i + 1}"] = str(70100 + 100 * i), "50"
            bv[f"BIDP{i + 1}"], bv[f"BIDP_RSQN{i + 1}"] = str(70000 - 100 * i), "50"
        out[(B, c)] = (frames.data_frame(B, [frames.record(B, bv)]), "")
    return out


async def send_at_rate(sim, regs: list[tuple[str, str]], tpl: dict, rate: float, seconds: float) -> int:
    """Runs on the simulator's loop: sends `rate` frames/s round-robin over `regs` via its sessions."""
    sent, i = 0, 0
    start = time.monotonic()
    while (now := time.monotonic()) - start < seconds:
        due = int((now - start) * rate) - sent
        for _ in range(max(0, due)):
            tr, code = regs[i % len(regs)]
            pre, suf = tpl[(tr, code)]
            frame = pre + str(time.time_ns()) + suf if tr == T else pre
            sim.send_raw(tr, code, frame)
            sent += 1
            i += 1
        await asyncio.sleep(0.001)
    return sent


@ray.remote(num_cpus=0)
class TracingRouter:
    """The real router ingest (RouterState + RouterCore) plus send-time tracing (bench only)."""

    def __init__(self, symbol: str) -> None:
        from actors.router import RouterState
        from backbone.router_core import RouterCore

        self._s = RouterState(symbol)
        self._core = RouterCore(symbol, None)
        self._sent: list[int] = []
        self.last_ns = 0

    def ingest(self, batch: dict) -> int:
        now = self.last_ns = time.time_ns()
        n = self._s.ingest(batch)
        self._core.ingest(batch)
        trades = batch.get("trades")
        if trades and len(self._sent) < 500_000:
            self._sent.extend(now - v for v in trades["cum_value"])
        return n

    def stats(self, reset: bool = False) -> dict:
        out = {**self._s.stats(reset), "sent_lag_samples_ns": list(self._sent), "last_ns": self.last_ns}
        if reset:
            self._sent = []
        return out


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


# ------------------------------------------------------------------ plain asyncio baseline
async def plain_loop(sim_thread, codes, rate: float, seconds: float, tpl) -> dict:
    rest = sim_thread.rest_url
    async with httpx.AsyncClient() as c:
        approval = (await c.post(rest + "/oauth2/Approval", json={
            "grant_type": "client_credentials", "appkey": PLAIN_KEY, "secretkey": PLAIN_SECRET})).json()["approval_key"]
    regs = [(tr, c) for c in codes for tr in (T, B)]
    delays: list[int] = []
    events = 0
    async with websockets.connect(sim_thread.ws_url, ping_interval=None, compression=None) as ws:
        for tr, code in regs:
            await ws.send(subscribe_message(approval, tr, code))
        acked = 0
        while acked < len(regs):
            if '"OPSP0000"' in await ws.recv():
                acked += 1
        fut = asyncio.get_running_loop().run_in_executor(
            None, lambda: sim_thread.call(lambda: send_at_rate(sim_thread.sim, regs, tpl, rate, seconds),
                                          timeout=seconds + 60))
        t0 = last_event = time.monotonic()
        idle_deadline = None
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), timeout=0.5)
            except asyncio.TimeoutError:
                if fut.done():
                    break
                continue
            now = time.time_ns()
            msg = parse_message(raw, None)
            if isinstance(msg, DataFrame):
                last_event = time.monotonic()
                for r in msg.records:
                    ev = to_event(r)
                    events += 1
                    if msg.tr_id == T:
                        delays.append(now - ev.cum_value)
            elif isinstance(msg, PingPong):
                await ws.send(msg.raw)
            if fut.done() and idle_deadline is None:
                idle_deadline = time.monotonic() + 5
            if idle_deadline and time.monotonic() > idle_deadline:
                break
        elapsed = last_event - t0
        sent = fut.result()
    return {"sent": sent, "events": events, "elapsed": elapsed, "delays_ms": [d / 1e6 for d in delays]}


# ------------------------------------------------------------------ through Ray
def actor_run(sim_thread, actor, routers, codes, rate: float, seconds: float, tpl, pid: int) -> dict:
    regs = [(tr, c) for c in codes for tr in (T, B)]
    for r in routers.values():
        ray.get(r.stats.remote(True))  # reset samples
    ev0 = sum(s["events"] for s in ray.get([r.stats.remote() for r in routers.values()]))
    proc = psutil.Process(pid)
    cpu0 = sum(proc.cpu_times()[:2])
    t0 = time.monotonic()
    t0_ns = time.time_ns()
    sent = sim_thread.call(lambda: send_at_rate(sim_thread.sim, regs, tpl, rate, seconds), timeout=seconds + 60)
    # drain: wait until the routers stop growing
    last, stable = -1, 0
    while stable < 3:
        time.sleep(0.2)
        ev = sum(s["events"] for s in ray.get([r.stats.remote() for r in routers.values()]))
        stable = stable + 1 if ev == last else 0
        last = ev
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    cpu_elapsed = time.monotonic() - t0
    stats = ray.get([r.stats.remote() for r in routers.values()])
    elapsed = (max(s["last_ns"] for s in stats) - t0_ns) / 1e9  # first send -> last event at a router
    sent_lags = [x / 1e6 for s in stats for x in s.get("sent_lag_samples_ns", [])]
    recv_lags = [x / 1e6 for s in stats for x in s["lag_samples_ns"]]
    return {"sent": sent, "events": last - ev0, "elapsed": elapsed, "cpu_share": cpu / cpu_elapsed,
            "delays_ms": sent_lags, "recv_delays_ms": recv_lags}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="500,2000,4000")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--flush-ms", type=float, default=5.0)
    ap.add_argument("--max-calls", type=float, default=300.0, help="router calls/s budget of the owner")
    args = ap.parse_args()
    rates = [float(x) for x in args.rates.split(",")]
    codes = [s if isinstance(s, str) else s.code for s in list(universe.SYMBOLS)[:20]]
    tpl = templates(codes)

    sim = SimulatorThread(symbols=tuple(codes), rate=0.01, book_rate=0.0, index_rate=0.0, clock="always-open",
                          credentials={ACTOR_KEY: ACTOR_SECRET, PLAIN_KEY: PLAIN_SECRET},
                          send_queue_limit=1_000_000).start()
    r, w = urlparse(sim.rest_url), urlparse(sim.ws_url)
    settings = Settings(kis_app_key=ACTOR_KEY, kis_app_secret=ACTOR_SECRET, sim_rest_port=r.port,
                        sim_ws_port=w.port)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 1024 * 1024,
             namespace=NAMESPACE)
    from actors.kis_socket import get_or_create_socket_actor
    from actors.router import router_name

    try:
        # Routers first, with send-time tracing; the socket actor then finds them by name.
        routers = {c: TracingRouter.options(name=router_name(c), namespace=NAMESPACE, lifetime="detached",
                                            get_if_exists=True).remote(c) for c in codes}
        ray.get([h.stats.remote() for h in routers.values()])
        opts = SocketOptions.from_settings(settings, flush_ms=args.flush_ms, send_interval_s=0.005,
                                           max_router_calls_per_s=args.max_calls,
                                           backoff=BackoffConfig(base_s=0.5, cap_s=5, min_delay_s=0.5))
        actor = get_or_create_socket_actor(settings, opts)
        ray.get(actor.acquire.remote("bench", [(tr, c) for c in codes for tr in (T, B)], 1))
        while ray.get(actor.status.remote())["registrations"]["live"] < 40:
            time.sleep(0.1)
        pid = ray.get(actor.status.remote())["pid"]
        print(f"ingest benchmark: 40 registrations (20 symbols x {T}+{B}), {args.seconds:g} s per rate, "
              f"flush {args.flush_ms:g} ms, router calls <= {args.max_calls:g}/s, {os.cpu_count()} CPUs")
        print("CPU = socket actor process, share of one core; delays = frame sent -> router ingest "
              "(plain: -> decoded), trade frames")
        print(f"{'R (frames/s)':>12} | {'path':<26} | {'sustained/s':>11} | {'CPU':>5} | "
              f"{'p50 ms':>7} | {'p99 ms':>7}")
        for rate in rates:
            a = actor_run(sim, actor, routers, codes, rate, args.seconds, tpl, pid)
            p = asyncio.run(plain_loop(sim, codes, rate, args.seconds, tpl))
            print(f"{rate:>12.0f} | {'sim -> actor -> routers':<26} | {a['events'] / a['elapsed']:>11.0f} | "
                  f"{a['cpu_share'] * 100:>4.0f}% | {pct(a['delays_ms'], .5):>7.2f} | {pct(a['delays_ms'], .99):>7.2f}")
            print(f"{'':>12} | {'  (owner recv -> router)':<26} | {'':>11} | {'':>5} | "
                  f"{pct(a['recv_delays_ms'], .5):>7.2f} | {pct(a['recv_delays_ms'], .99):>7.2f}")
            print(f"{'':>12} | {'plain asyncio decode (limit)':<26} | {p['events'] / p['elapsed']:>11.0f} | "
                  f"{'':>5} | {pct(p['delays_ms'], .5):>7.2f} | {pct(p['delays_ms'], .99):>7.2f}")
            if a["sent"] and a["events"] < a["sent"]:
                print(f"{'':>12}   note: {a['sent'] - a['events']} of {a['sent']} frames not at routers")
        st = ray.get(actor.status.remote())["routing"]
        print(f"routing: {st['batches_out']} batches for {st['events_out']} events "
              f"({st['events_out'] / max(1, st['batches_out']):.1f} events/call), dropped {st['dropped']}")
    finally:
        for name in [router_name(c) for c in codes]:
            try:
                ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
            except ValueError:
                pass
        from actors.kis_socket import socket_actor_name
        try:
            ray.kill(ray.get_actor(socket_actor_name(settings), namespace=NAMESPACE), no_restart=True)
        except ValueError:
            pass
        ray.shutdown()
        sim.stop()


if __name__ == "__main__":
    main()
