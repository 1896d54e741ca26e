"""`python -m simulator`: run the KIS simulator in the foreground; Ctrl-C stops it cleanly."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import datetime

from .config import SimulatorConfig
from .server import Simulator


def parse_args(argv: list[str] | None = None) -> SimulatorConfig:
    p = argparse.ArgumentParser(prog="python -m simulator", description="KIS protocol simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--rest-port", type=int, default=9443)
    p.add_argument("--ws-port", type=int, default=21000)
    p.add_argument("--clock", choices=("auto", "real", "session", "always-open"), default="auto")
    p.add_argument("--start", type=datetime.fromisoformat, help="aware ISO time, e.g. 2026-11-20T09:00:00+09:00")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--rate", type=float, default=2.0, help="trades per second per symbol")
    p.add_argument("--rates", default="", help="per-symbol trades/s, e.g. 005930=50,000660=20")
    p.add_argument("--book-rate", type=float, default=1.0)
    p.add_argument("--large-prob", type=float, default=0.002, help="probability of a very large print")
    p.add_argument("--notice-interval", type=float, default=20.0, help="seconds between simulated fills")
    p.add_argument("--symbols", help="comma-separated codes (default: the whole universe)")
    p.add_argument("--asp-fields", type=int, choices=(59, 62, 63), default=62)
    p.add_argument("--cnt-fields", type=int, choices=(46, 47), default=46)
    p.add_argument("--ping-interval", type=float, default=30.0)
    p.add_argument("--pong-timeout", type=float, default=100.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--replay", dest="replay_file")
    p.add_argument("--replay-rate", type=float)
    p.add_argument("--replay-loop", action="store_true")
    a = p.parse_args(argv)
    if a.start is not None and a.start.tzinfo is None:
        p.error("--start needs a UTC offset, e.g. +09:00")
    try:
        rates = {k.strip(): float(v) for k, v in (item.split("=") for item in a.rates.split(",") if item)}
    except ValueError:
        p.error("--rates wants CODE=N[,CODE=N...]")
    return SimulatorConfig(
        host=a.host, rest_port=a.rest_port, ws_port=a.ws_port, clock=a.clock, start=a.start, speed=a.speed,
        rate=a.rate, rates=rates, book_rate=a.book_rate, large_print_prob=a.large_prob,
        notice_interval_s=a.notice_interval, symbols=tuple(a.symbols.split(",")) if a.symbols else None,
        asp_fields=a.asp_fields, cnt_fields=a.cnt_fields, ping_interval_s=a.ping_interval,
        pong_timeout_s=a.pong_timeout, seed=a.seed, replay_file=a.replay_file, replay_rate=a.replay_rate,
        replay_loop=a.replay_loop)


async def main(config: SimulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    sim = Simulator(config)
    await sim.start()
    c = sim.clock.describe()
    print(f"KIS simulator\n  REST      {sim.rest_url}\n  WebSocket {sim.ws_url}\n"
          f"  clock     {c['mode']}: {c['note']}\n            speed {c['speed']}x, now {c['now']}, KRX open: {c['krx_open']}\n"
          f"  symbols   {len(sim.market.krx)} KRX + {len(sim.market.overseas)} overseas"
          f"{'  (replaying ' + config.replay_file + ')' if config.replay_file else ''}\n"
          f"  stats     {sim.rest_url}/_sim/stats   (Ctrl-C stops)", flush=True)
    await stop.wait()
    await sim.stop()
    print("simulator stopped", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args()))
    except KeyboardInterrupt:
        sys.exit(0)
