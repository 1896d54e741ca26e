"""Shared plumbing of the job entry points: logging, Ray connection, database DSN, progress.

Every job runs the same way stand-alone (`python -m jobs.<name>`) and under
`ray job submit --address http://127.0.0.1:8265 -- python -m jobs.<name>`: `ray.init()` joins the
cluster named by RAY_ADDRESS (set by the job server) or a running local cluster, and otherwise
starts a private one for the run.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from contextlib import contextmanager

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

log = logging.getLogger("jobs")


def setup_logging(level: str = "INFO") -> None:
    # job logs are the driver's stdout: one line per event, flushed (PYTHONUNBUFFERED may be unset)
    logging.basicConfig(stream=sys.stdout, level=level, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def ensure_ray(num_cpus: int | None = None) -> None:
    import ray

    if ray.is_initialized():
        return
    kwargs = {"log_to_driver": True}
    if not os.environ.get("RAY_ADDRESS") and num_cpus:
        kwargs["num_cpus"] = num_cpus
    ray.init(**kwargs)


def add_db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dsn", default=None,
                   help="PostgreSQL DSN (default: DATABASE_URL, else the embedded cluster under .data/)")


@contextmanager
def database(dsn: str | None):
    """Yield a DSN; start (and afterwards stop) the embedded cluster when none is configured."""
    if dsn:
        yield dsn
        return
    from storage.db import resolve_dsn

    resolved, server = resolve_dsn()
    try:
        yield resolved
    finally:
        if server is not None and getattr(server, "owned", False):
            server.stop()


class Progress:
    """Logs `done/total` at most every `every_s` seconds (and always at the end)."""

    def __init__(self, what: str, total: int, every_s: float = 2.0, logger=log) -> None:
        self.what, self.total, self.every_s, self.log = what, total, every_s, logger
        self.done = 0
        self.t0 = self._last = time.monotonic()

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.done >= self.total or now - self._last >= self.every_s:
            self._last = now
            pct = 100.0 * self.done / self.total if self.total else 100.0
            self.log.info("%s: %d/%d done (%.0f%%, %.1f s)", self.what, self.done, self.total, pct,
                          now - self.t0)
