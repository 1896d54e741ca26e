"""Sector aggregation benchmark: one cycle for 2,500 symbols in 30 sectors.

    .venv/bin/python bench/sectors.py [--symbols 2500] [--sectors 30] [--cycles 20]

Prints the median and worst cycle time of the per-sector Ray tasks (jobs.sectors.aggregate_parallel)
next to the same aggregation in this process (the baseline), measured in the same run. Quotes
come from a StaticPrices (no routers), so this times the aggregation and the Ray fan-out only.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from backbone import sectors as S  # noqa: E402


def universe(n: int, n_sectors: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups: dict[str, list[S.Member]] = {}
    quotes = {}
    for i in range(n):
        sym = f"{i:06d}"
        groups.setdefault(f"sector{rng.integers(n_sectors):02d}", []).append(
            S.Member(sym, f"name{i}", int(rng.integers(10**6, 10**9))))
        prev = float(rng.integers(1000, 500_000))
        quotes[sym] = S.Quote(prev * (1 + rng.normal(0, 0.02)), prev)
    return {k: tuple(v) for k, v in groups.items()}, quotes


def measure(fn, cycles: int) -> list[float]:
    out = []
    for _ in range(cycles):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--symbols", type=int, default=2500)
    p.add_argument("--sectors", type=int, default=30)
    p.add_argument("--cycles", type=int, default=20)
    p.add_argument("--cpus", type=int, default=2)
    a = p.parse_args()
    import ray

    from jobs.sectors import aggregate_parallel

    groups, quotes = universe(a.symbols, a.sectors)
    prices = S.StaticPrices(quotes)
    symbols = list(quotes)
    ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
    aggregate_parallel(groups, prices.latest(symbols), use_ray=True)  # warm-up: start workers
    ray_t = measure(lambda: aggregate_parallel(groups, prices.latest(symbols), use_ray=True), a.cycles)
    local_t = measure(lambda: aggregate_parallel(groups, prices.latest(symbols), use_ray=False), a.cycles)
    print(f"one cycle, {a.symbols} symbols in {len(groups)} sectors, {a.cycles} cycles each:")
    for name, t in (("ray tasks per sector", ray_t), ("in-process baseline", local_t)):
        print(f"  {name:<22} median {statistics.median(t) * 1e3:8.1f} ms   max {max(t) * 1e3:8.1f} ms")
    print("  budget per cycle: 10000 ms")
    ray.shutdown()


if __name__ == "__main__":
    main()
