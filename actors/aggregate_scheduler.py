"""The policy scheduler on plain PostgreSQL: a thin async Ray actor that calls
storage.policies.run_policies every `tick_s` (refresh levels bottom-up, then retention).

On TimescaleDB it idles (native background jobs run the same policies). Get-or-create it with
`AggregateScheduler.options(name="aggregate-scheduler", namespace=NAMESPACE, lifetime="detached",
get_if_exists=True).remote(dsn)`.
"""
from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime

import ray

from storage.db import connect_pool
from storage.policies import run_policies, set_raw_retention

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_restarts=-1)
class AggregateScheduler:
    def __init__(self, dsn: str, tick_s: float = 30.0, autostart: bool = True,
                 raw_retention_days: int | None = None) -> None:
        self._dsn = dsn
        self._tick_s = tick_s
        self._pool = None
        self._lock = asyncio.Lock()
        self._retention_days = raw_retention_days or int(os.environ.get("CANDLE_RAW_RETENTION_DAYS", "0") or 0)
        self.runs = 0
        self.last: dict | None = None
        self.last_error: str | None = None
        self._task = asyncio.get_running_loop().create_task(self._loop()) if autostart else None

    async def _conn_pool(self):
        if self._pool is None:
            self._pool = await connect_pool(self._dsn, min_size=1, max_size=1)
            if self._retention_days:
                async with self._pool.acquire() as conn:
                    await set_raw_retention(conn, self._retention_days)
        return self._pool

    async def run_once(self, now_iso: str | None = None, force: bool = False) -> dict:
        """Run the due policies now (`now_iso` overrides the clock, for tests and backfills)."""
        now = datetime.fromisoformat(now_iso) if now_iso else None
        async with self._lock:
            try:
                pool = await self._conn_pool()
                async with pool.acquire() as conn:
                    run = await run_policies(conn, now, force=force)
            except Exception as e:  # noqa: BLE001 - keep scheduling; report it
                self.last_error = f"{type(e).__name__}: {str(e)[:200]}"
                log.warning("aggregate scheduler: %s", self.last_error)
                return {"error": self.last_error}
            self.runs += 1
            self.last = {"backend": run.backend, "refreshed": run.refreshed, "skipped": run.skipped,
                         "errors": run.errors, "retention_deleted": run.retention_deleted}
            self.last_error = None
            return self.last

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self._tick_s)

    async def stats(self) -> dict:
        return {"runs": self.runs, "last": self.last, "last_error": self.last_error,
                "running": self._task is not None and not self._task.done()}
