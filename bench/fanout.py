"""Fan-out benchmark: N WebSocket clients on the stream gateway (Ray path) next to a single-process
asyncio websockets server fanning out the same decoded stream without Ray, measured in the same run.

Path A (Ray): simulator -> KISSocketActor -> RouterActors -> gateway process (the stream app a Serve
replica runs, under uvicorn, attached to the Ray cluster; one pull loop per channel) -> clients.
Path B (baseline): simulator -> one asyncio process (decode + the same pure router core + the same
wire texts) -> websockets.broadcast -> clients.
The simulator sends R frames/s (trade and book frames alternating) round-robin over 40 registrations
= 20 symbols x (H0STCNT0 + H0STASP0): KIS allows 41 registrations per socket, so "40 symbols" of
trades and books cannot share one socket. Each client subscribes to trade:+book: of `--per-client`
random symbols. The load generator (all N clients in one process) shares the machine's CPUs with the
servers: its own limits show in the figures as well.

Reported per N: delivered messages/s (all clients), latency simulator send -> client receipt of
trade messages (p50, p99), server-side CPU (sum over the serving processes: gateway + socket actor +
routers for Ray; the one process for the baseline; 100 % = one core) and RSS. Ratios Ray/baseline.

Usage: .venv/bin/python bench/fanout.py [--rate 400] [--clients 100,500] [--seconds 10] [--per-client 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import httpx  # noqa: E402
import psutil  # noqa: E402

from backbone import symbols as universe  # noqa: E402
from backbone.settings import NAMESPACE, Settings  # noqa: E402
from simulator.testing import SimulatorThread  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from fanout_parts import FrameSource, kill_bench_actors  # noqa: E402

ACTOR_KEY, ACTOR_SECRET = "BENCH-FANOUT-ACTOR", "bench-fanout-actor-secret"
PLAIN_KEY, PLAIN_SECRET = "BENCH-FANOUT-PLAIN", "bench-fanout-plain-secret"
PARTS = str(ROOT / "bench" / "fanout_parts.py")
PY = sys.executable


def wait_file(path: str, proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and Path(path).read_text():
            return Path(path).read_text()
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[2]} exited early")
        time.sleep(0.1)
    raise TimeoutError(path)


class CpuMeter:
    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(p) for p in pids]

    def cpu(self) -> float:
        return sum(self.per_process())

    def per_process(self) -> list[float]:
        return [sum(p.cpu_times()[:2]) for p in self.procs]

    def rss_mb(self) -> float:
        return sum(p.memory_info().rss for p in self.procs) / 2**20


def run_load(sim, src, url: str, n: int, per_client: int, codes: list[str], rate: float, measure: float,
             pids_fn, lags_fn=None) -> dict:
    """`lags_fn(reset)`: the routers' ingest lags (socket receipt -> router, ms) since the last reset."""
    warm = 5.0 + n / 50
    clients = subprocess.Popen([PY, PARTS, "clients", url, str(n), str(per_client), str(warm), str(measure),
                                ",".join(codes)], stdout=subprocess.PIPE, text=True)
    sender = threading.Thread(target=lambda: sim.call(lambda: src.send(sim.sim, rate, warm + measure + 2),
                                                      timeout=warm + measure + 120), daemon=True)
    t0 = time.monotonic()
    sender.start()
    time.sleep(warm)
    meter = CpuMeter(pids_fn())
    if lags_fn:
        lags_fn(True)
    c0, w0 = meter.per_process(), time.monotonic()
    time.sleep(measure)
    parts = [(b - a) / (time.monotonic() - w0) for a, b in zip(c0, meter.per_process())]
    lags = sorted(lags_fn(False)) if lags_fn else []
    cpu = sum(parts)
    rss = meter.rss_mb()
    out, _ = clients.communicate(timeout=warm + measure + 120)
    sender.join(timeout=60)
    res = json.loads(out.strip().splitlines()[-1])
    res.update(cpu=cpu, cpu_parts=parts, rss_mb=rss, elapsed=time.monotonic() - t0)
    if lags:
        res.update(router_lag_p50=lags[len(lags) // 2], router_lag_p99=lags[min(len(lags) - 1, int(len(lags) * 0.99))])
    return res


def baseline_phase(sim, src, codes, args, ns) -> dict[int, dict]:
    approval = httpx.post(sim.rest_url + "/oauth2/Approval", json={
        "grant_type": "client_credentials", "appkey": PLAIN_KEY, "secretkey": PLAIN_SECRET}).json()["approval_key"]
    port_file = tempfile.mktemp(prefix="fanout-baseline-")
    proc = subprocess.Popen([PY, PARTS, "baseline", sim.ws_url, approval, ",".join(codes), port_file])
    try:
        url = f"ws://127.0.0.1:{wait_file(port_file, proc)}"
        time.sleep(2)  # registrations acked
        return {n: run_load(sim, src, url, n, args.per_client, codes, args.rate, args.seconds,
                            lambda: [proc.pid]) for n in ns}
    finally:
        proc.terminate()
        proc.wait(10)


def _router_ready(ray, name: str) -> bool:
    try:
        return ray.get(ray.get_actor(name, namespace=NAMESPACE).status.remote(), timeout=5)["trades"] > 0
    except Exception:  # noqa: BLE001 - not created yet / still starting
        return False


def ray_phase(sim, src, codes, args, ns) -> dict[int, dict]:
    import ray

    from actors.kis_socket import get_or_create_socket_actor
    from actors.router import router_name
    from upstream.options import SocketOptions
    r, w = urlparse(sim.rest_url), urlparse(sim.ws_url)
    settings = Settings(kis_app_key=ACTOR_KEY, kis_app_secret=ACTOR_SECRET, sim_rest_port=r.port,
                        sim_ws_port=w.port)
    ctx = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                   object_store_memory=200 * 1024 * 1024, namespace=NAMESPACE)
    actor = get_or_create_socket_actor(settings, SocketOptions.from_settings(settings, send_interval_s=0.005))
    ray.get(actor.ping.remote())
    port_file = tempfile.mktemp(prefix="fanout-gateway-")
    env = dict(os.environ, BENCH_SETTINGS=json.dumps({"kis_app_key": ACTOR_KEY, "kis_app_secret": ACTOR_SECRET,
                                                      "sim_rest_port": r.port, "sim_ws_port": w.port}))
    gw = subprocess.Popen([PY, PARTS, "gateway", ctx.address_info["address"], port_file], env=env)

    def pids() -> list[int]:
        out = [gw.pid, ray.get(actor.status.remote())["pid"]]
        for c in codes:
            try:
                out.append(ray.get(ray.get_actor(router_name(c), namespace=NAMESPACE).status.remote())["pid"])
            except ValueError:
                pass
        return out
    try:
        url = f"ws://127.0.0.1:{wait_file(port_file, gw)}/ws"
        # Warm: every registration live and every router started before anything is measured.
        regs = [(tr, c) for c in codes for tr in ("H0STCNT0", "H0STASP0")]
        ray.get(actor.acquire.remote("bench-warm", regs, 1))
        while ray.get(actor.status.remote())["registrations"]["live"] < len(regs):
            time.sleep(0.1)
        missing = list(codes)
        while missing:
            sim.call(lambda: src.send(sim.sim, 100, 1.0), timeout=60)
            missing = [c for c in missing if not _router_ready(ray, router_name(c))]
        def lags(reset: bool) -> list[float]:
            out: list[float] = []
            for c in codes:
                st = ray.get(ray.get_actor(router_name(c), namespace=NAMESPACE).stats.remote(reset))
                out += [ns_ / 1e6 for ns_ in st["lag_samples_ns"]]
            return out
        return {n: run_load(sim, src, url, n, args.per_client, codes, args.rate, args.seconds, pids, lags)
                for n in ns}
    finally:
        gw.terminate()
        gw.wait(10)
        kill_bench_actors(ray, codes, settings)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=400.0, help="simulator frames/s (all registrations)")
    ap.add_argument("--clients", default="100,500")
    ap.add_argument("--seconds", type=float, default=10.0, help="measurement window per N")
    ap.add_argument("--per-client", type=int, default=3, help="symbols per client (trade + book each)")
    args = ap.parse_args()
    ns = [int(x) for x in args.clients.split(",")]
    codes = [s if isinstance(s, str) else s.code for s in list(universe.SYMBOLS)[:20]]
    sim = SimulatorThread(symbols=tuple(codes), rate=0.01, book_rate=0.0, index_rate=0.0, clock="always-open",
                          credentials={ACTOR_KEY: ACTOR_SECRET, PLAIN_KEY: PLAIN_SECRET},
                          send_queue_limit=1_000_000).start()
    src = FrameSource(codes)
    load_before = os.getloadavg()[0]
    try:
        base = baseline_phase(sim, src, codes, args, ns)
        ray_res = ray_phase(sim, src, codes, args, ns)
    finally:
        sim.stop()
    print(f"fan-out benchmark: R={args.rate:g} frames/s over 40 registrations (20 symbols x trade+book), "
          f"{args.per_client} symbols (x2 channels) per client, {args.seconds:g} s window, {os.cpu_count()} CPUs, "
          f"load avg {load_before:.1f} -> {os.getloadavg()[0]:.1f} (machine shared)")
    print(f"{'N':>5} | {'path':<22} | {'msgs/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'CPU':>6} | {'RSS MB':>7} | "
          f"errors")
    for n in ns:
        for name, res in (("Ray gateway", ray_res[n]), ("asyncio baseline", base[n])):
            print(f"{n:>5} | {name:<22} | {res['msgs_per_s']:>8.0f} | {res['p50_ms']:>7.1f} | {res['p99_ms']:>7.1f} | "
                  f"{res['cpu'] * 100:>5.0f}% | {res['rss_mb']:>7.0f} | {res['errors']} err, "
                  f"{res['failed_clients']} failed clients")
        a, b = ray_res[n], base[n]
        p = a["cpu_parts"]
        print(f"{n:>5} |   Ray CPU split: gateway {p[0] * 100:.0f}%, socket actor {p[1] * 100:.0f}%, "
              f"routers {sum(p[2:]) * 100:.0f}% ({len(p) - 2} actors)")
        if "router_lag_p50" in a:
            print(f"{n:>5} |   Ray latency split: socket receipt -> router ingest p50 {a['router_lag_p50']:.1f} ms, "
                  f"p99 {a['router_lag_p99']:.1f} ms (the rest: router -> gateway -> client)")
        print(f"{n:>5} | {'ratio Ray/baseline':<22} | {a['msgs_per_s'] / max(b['msgs_per_s'], 1e-9):>8.2f} | "
              f"{a['p50_ms'] / b['p50_ms']:>7.2f} | {a['p99_ms'] / b['p99_ms']:>7.2f} | "
              f"{a['cpu'] / max(b['cpu'], 1e-9):>6.2f} | {a['rss_mb'] / max(b['rss_mb'], 1e-9):>7.2f} |")


if __name__ == "__main__":
    main()
