"""The candle writer: routers hand it closed 1m candles; it upserts them in batches without losing any.

- `submit()` never blocks and never raises on a database problem: rows go to a bounded in-memory
  queue, and once that is full (or while older rows still wait in the spill file) to a JSON-lines
  spill file under the data directory, so order is kept: memory holds the oldest rows, the spill
  file the newer ones, and the file is read back before anything submitted later.
- One background task writes batches (COPY into a staging table + INSERT ... ON CONFLICT DO UPDATE,
  see candle_rows): a replayed minute replaces its row, and a later correction of a minute wins
  because batches are written strictly in submission order.
- Database down: the failed batch stays at the head, retries back off (capped), `stats()` shows it.

Use from one event loop (the one that called `start()`).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from pathlib import Path
from typing import Iterable

import asyncpg

from backbone.backoff import Backoff, BackoffConfig
from backbone.models import Candle

from .candle_rows import upsert_candles
from .db import connect_pool
from .spill import SpillFile

log = logging.getLogger(__name__)


class CandleWriter:
    def __init__(self, db: str | asyncpg.Pool, *, spill_path: str | Path = ".data/candle-spill.jsonl",
                 max_memory_rows: int = 50_000, batch_rows: int = 5_000, linger_s: float = 0.05,
                 method: str = "copy", retry: BackoffConfig | None = None) -> None:
        if batch_rows <= 0 or max_memory_rows < batch_rows:
            raise ValueError("need 0 < batch_rows <= max_memory_rows")
        self._dsn = db if isinstance(db, str) else None
        self._pool: asyncpg.Pool | None = None if isinstance(db, str) else db
        self._own_pool = isinstance(db, str)
        self.max_memory_rows = max_memory_rows
        self.batch_rows = batch_rows
        self.linger_s = linger_s
        self.method = method
        self._retry = Backoff(retry or BackoffConfig(base_s=0.1, cap_s=3.0, min_delay_s=0.05, jitter=0.2))
        self._memory: deque[tuple[Candle, float]] = deque()
        self._spill = SpillFile(spill_path)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closing = False
        self.written = 0
        self.batches = 0
        self.failures = 0
        self.last_error: str | None = None
        self.db_up: bool | None = None
        self.last_write_lag_s: float | None = None

    # ---- public ---------------------------------------------------------------------------------
    async def start(self) -> "CandleWriter":
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="candle-writer")
            if self._spill.unread:
                self._wake.set()
        return self

    def submit(self, candles: Iterable[Candle]) -> int:
        """Queue candles for writing (non-blocking). Returns how many were accepted."""
        rows = [c for c in candles if isinstance(c, Candle)]
        if not rows:
            return 0
        if self._spill.unread or len(self._memory) + len(rows) > self.max_memory_rows:
            self._spill.append(rows)
        else:
            now = time.monotonic()
            self._memory.extend((c, now) for c in rows)
        self._idle.clear()
        self._wake.set()
        return len(rows)

    @property
    def pending(self) -> int:
        return len(self._memory) + self._spill.unread

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written. False on timeout."""
        if self.pending == 0:
            return True
        self._wake.set()
        try:
            await asyncio.wait_for(self._wait_idle(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def close(self, timeout: float = 10.0) -> None:
        """Write what can be written within `timeout`; what remains stays in the spill file."""
        await self.flush(timeout)
        self._closing = True
        if self._memory:  # keep the unwritten head for the next start, ahead of the spill file
            rest = [c for c, _ in self._memory] + self._spill.read(self._spill.unread)
            self._memory.clear()
            self._spill.append(rest)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        if self._own_pool and self._pool is not None:
            await self._pool.close()
            self._pool = None

    def stats(self) -> dict:
        oldest = self._memory[0][1] if self._memory else None
        return {
            "pending": self.pending,
            "in_memory": len(self._memory),
            "spilled_pending": self._spill.unread,
            "spilled_total": self._spill.total_spilled,
            "spill_bad_lines": self._spill.bad_lines,
            "written": self.written,
            "batches": self.batches,
            "failures": self.failures,
            "last_error": self.last_error,
            "db_up": self.db_up,
            "write_lag_s": self.last_write_lag_s,
            "oldest_pending_age_s": None if oldest is None else time.monotonic() - oldest,
        }

    # ---- internals ------------------------------------------------------------------------------
    async def _wait_idle(self) -> None:
        while self.pending:
            self._idle.clear()
            await self._idle.wait()

    async def _run(self) -> None:
        while not self._closing:
            if not self._memory and self._spill.unread:
                now = time.monotonic()
                self._memory.extend((c, now) for c in self._spill.read(self.batch_rows))
            if not self._memory:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                if self.linger_s:
                    await asyncio.sleep(self.linger_s)  # let a burst of submits form one batch
                continue
            n = min(self.batch_rows, len(self._memory))
            batch = [self._memory[i] for i in range(n)]
            try:
                await self._write([c for c, _ in batch])
            except Exception as e:  # noqa: BLE001 - any failure: keep the batch, back off, retry
                self._failed(e)
                await asyncio.sleep(self._retry.next_delay())
                continue
            for _ in range(n):
                self._memory.popleft()
            self.written += n
            self.batches += 1
            self.db_up = True
            self.last_error = None
            self.last_write_lag_s = time.monotonic() - batch[0][1]
            self._retry.reset()
            if not self.pending:
                self._idle.set()

    async def _write(self, candles: list[Candle]) -> None:
        if self._pool is None:
            self._pool = await connect_pool(self._dsn, min_size=1, max_size=2, timeout=5)
        async with self._pool.acquire(timeout=10) as conn:
            await upsert_candles(conn, candles, method=self.method)

    def _failed(self, e: BaseException) -> None:
        # the class and message only: asyncpg messages do not carry the DSN or its password
        self.last_error = f"{type(e).__name__}: {str(e)[:200]}"
        if self.db_up is not False:
            log.warning("candle writer: database unavailable (%s); buffering", self.last_error)
        self.db_up = False
        self.failures += 1
