"""Correlation benchmark: the Ray block job vs numpy.corrcoef (the limit) and pandas
DataFrame.corr (what a quant would use), on the same generated returns, in one run.

    .venv/bin/python bench/correlation.py [--sizes 2500,10000] [--days 250] [--missing 0.0]

Time: wall clock of the computation only (Ray start-up printed separately). Peak memory: the
highest RSS summed over this process and its children (the local Ray cluster's raylet and
workers are children), minus that sum just before the method started, sampled every 20 ms.
The Ray job keeps only top-k per symbol; numpy/pandas build the full N x N matrix.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from backbone import correlation as C  # noqa: E402


class PeakRss:
    def __init__(self, every_s: float = 0.02) -> None:
        self.every_s = every_s
        self.me = psutil.Process()

    def _tree_rss(self) -> int:
        total = 0
        for p in [self.me, *self.me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def __enter__(self):
        gc.collect()
        self.base = self.peak = self._tree_rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.wait(self.every_s):
            self.peak = max(self.peak, self._tree_rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._tree_rss())

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 2**20


def generate(n: int, t: int, missing: float, seed: int = 0) -> np.ndarray:
    """Factor-model returns: 20 sectors and a market factor, like daily stock returns."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, size=(t, 1))
    sectors = rng.normal(0, 0.01, size=(t, 20))
    r = market + sectors[:, rng.integers(0, 20, size=n)] + rng.normal(0, 0.015, size=(t, n))
    if missing:
        r[rng.random(r.shape) < missing] = np.nan
    return r


def timed(fn):
    with PeakRss() as mem:
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
    return out, dt, mem.mb


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="2500,10000")
    p.add_argument("--days", type=int, default=250)
    p.add_argument("--missing", type=float, default=0.0)
    p.add_argument("--block", type=int, default=1024)
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--no-pandas", action="store_true")
    a = p.parse_args()
    try:
        import pandas as pd
    except ImportError:
        pd = None
        print("pandas: not installed (not a project dependency); its column is skipped")
    import ray

    from jobs.correlation import correlate_on_ray

    t0 = time.perf_counter()
    ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
    print(f"ray.init: {time.perf_counter() - t0:.1f} s (not included below); cpus={a.cpus}, "
          f"block={a.block}, top-k={a.top_k}, missing={a.missing:.0%}")
    print(f"{'symbols x days':>16} | {'method':<28} | {'time s':>8} | {'peak MB':>8}")
    for n in [int(x) for x in a.sizes.split(",")]:
        r = generate(n, a.days, a.missing)
        syms = [f"S{i:05d}" for i in range(n)]
        # warm-up: workers start outside the measurement
        correlate_on_ray(syms[:64], r[:, :64], k=a.top_k, min_overlap=a.days // 2, block=32)
        res, dt, mb = timed(lambda: correlate_on_ray(syms, r, k=a.top_k, min_overlap=a.days // 2,
                                                     block=a.block))
        print(f"{n:>8} x {a.days:<5} | {'ray blocks (top-k only)':<28} | {dt:8.2f} | {mb:8.0f}")
        if a.missing:
            print(f"{'':>16} | {'numpy.corrcoef':<28} | {'n/a (cannot skip NaN)':>19}")
        else:
            full, dt, mb = timed(lambda: np.corrcoef(r, rowvar=False))
            np.fill_diagonal(full, np.nan)
            best = np.nanargmax(full, axis=1)
            agree = float(np.mean(best == res.top.pos_idx[:, 0]))
            del full
            print(f"{'':>16} | {'numpy.corrcoef (full matrix)':<28} | {dt:8.2f} | {mb:8.0f}"
                  f"   top-1 agreement with ray: {agree:.4f}")
        if pd is not None and not a.no_pandas:
            df = pd.DataFrame(r, columns=syms)
            _, dt, mb = timed(lambda: df.corr())
            print(f"{'':>16} | {'pandas DataFrame.corr':<28} | {dt:8.2f} | {mb:8.0f}")
            del df
        gc.collect()
    ray.shutdown()


if __name__ == "__main__":
    main()
