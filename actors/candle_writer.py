"""The candle writer as a Ray actor: routers (one per symbol) send closed 1m candles in batches;
one CandleWriter (storage/candle_writer.py) upserts them, buffering and spilling while the
database is down. Thin shell: all logic is in storage.candle_writer.

Calls from one router arrive in order only if the router awaits each `submit` (async actors may
run calls out of order): a router that pipelines must carry its own order. Control calls (stats,
flush) run in their own concurrency group so they never wait behind data calls.
"""
from __future__ import annotations

from pathlib import Path

import ray

from backbone.models import Candle
from backbone.settings import NAMESPACE, Settings
from storage.candle_writer import CandleWriter

ACTOR_NAME = "candle-writer"


@ray.remote(num_cpus=0, max_restarts=-1, concurrency_groups={"control": 4})
class CandleWriterActor:
    def __init__(self, dsn: str, data_dir: str | None = None, **writer_options) -> None:
        data_dir = data_dir or Settings.from_env().data_dir
        spill = Path(data_dir) / "candle-spill.jsonl"
        self._writer = CandleWriter(dsn, spill_path=spill, **writer_options)
        self._started = False

    async def _ensure_started(self) -> None:
        if not self._started:
            await self._writer.start()  # picks up a spill file left by a previous incarnation
            self._started = True

    async def submit(self, candles: list[Candle]) -> int:
        await self._ensure_started()
        return self._writer.submit(candles)

    @ray.method(concurrency_group="control")
    async def flush(self, timeout: float = 30.0) -> bool:
        await self._ensure_started()
        return await self._writer.flush(timeout)

    @ray.method(concurrency_group="control")
    async def stats(self) -> dict:
        return self._writer.stats()

    @ray.method(concurrency_group="control")
    async def close(self, timeout: float = 10.0) -> None:
        await self._writer.close(timeout)
        self._started = False


def get_or_create(dsn: str, **options):
    """The one named, detached writer (race-safe get-or-create; args ignored if it exists)."""
    return CandleWriterActor.options(name=ACTOR_NAME, namespace=NAMESPACE, lifetime="detached",
                                     get_if_exists=True).remote(dsn, **options)
