"""The API's database access: a lazily created asyncpg pool whose connection failures become
`DbUnavailable` (-> 503 DB_CONNECTION_ERROR), and the LISTEN loop of the cache change feed.

Recovery: the pool is created on first use and re-created after a failed creation; asyncpg
replaces broken pool connections on the next acquire, and `run` retries a read once after a
lost connection, so the first request after the database returns already succeeds.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, TypeVar

import asyncpg

from storage import candle_reader
from storage.db import connect_pool

from .aio import within
from .errors import DbUnavailable

log = logging.getLogger("serve_app")
T = TypeVar("T")
POLL_S = 0.2  # how often the change feed looks at its connection

# Errors that mean "the server is not there / the connection is gone", not "your query is wrong".
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,  # includes ConnectionDoesNotExistError paths on closed connections
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


class Database:
    def __init__(self, dsn_provider: Callable[[], str], *, pool_max: int = 8,
                 connect_timeout_s: float = 3.0, query_timeout_s: float = 30.0) -> None:
        self._dsn_provider = dsn_provider
        self._dsn: str | None = None
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self.pool_max = pool_max
        self.connect_timeout_s = connect_timeout_s
        self.query_timeout_s = query_timeout_s
        self.up = False  # last known state, for /metrics and /healthz

    def dsn(self) -> str:
        if self._dsn is None:
            self._dsn = self._dsn_provider()
        return self._dsn

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._pool_lock:
            if self._pool is None:
                try:
                    self._pool = await connect_pool(self.dsn(), min_size=0, max_size=self.pool_max,
                                                    timeout=self.connect_timeout_s,
                                                    command_timeout=self.query_timeout_s,
                                                    init=candle_reader.use_fast_numeric)
                except CONNECTION_ERRORS as exc:
                    self.up = False
                    raise DbUnavailable(_describe(exc)) from None
            return self._pool

    async def run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `work(conn)` on a pooled connection; a lost connection is retried once.

        Waiting for a free pooled connection has no timeout of its own (under load requests
        queue, they are not "DB down"); opening a connection and each query do have one."""
        for attempt in (1, 2):
            pool = await self._get_pool()
            try:
                async with pool.acquire() as conn:
                    result = await work(conn)
                self.up = True
                return result
            except CONNECTION_ERRORS as exc:
                self.up = False
                if attempt == 2 or isinstance(exc, asyncio.TimeoutError):
                    raise DbUnavailable(_describe(exc)) from None
                await pool.expire_connections()  # the others are likely dead too after a restart
        raise AssertionError("unreachable")

    async def probe(self) -> bool:
        try:
            await within(self.run(candle_reader.ping), self.connect_timeout_s)
        except (DbUnavailable, asyncio.TimeoutError):
            self.up = False
        return self.up

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await within(pool.close(), 5)
            except (asyncio.TimeoutError, *CONNECTION_ERRORS):
                pool.terminate()


class ChangeFeed:
    """LISTEN candles_changed on a dedicated connection and call `on_change(symbol, start, end)`.

    While disconnected, announcements can be missed: `on_reset()` is called on every (re)connect so
    the cache forgets everything, and `up` is False so the caller can bypass the cache meanwhile.
    """

    def __init__(self, dsn_provider: Callable[[], str], on_change: Callable, on_reset: Callable[[], None],
                 *, install: bool = True, retry_s: float = 1.0, check_s: float = 5.0) -> None:
        self._dsn_provider = dsn_provider
        self._on_change = on_change
        self._on_reset = on_reset
        self._install = install
        self.retry_s = retry_s
        self.check_s = check_s
        self.up = False
        self.trigger_installed: bool | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="candle-change-feed")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=5)  # never hang a shutdown on it
            if not done:
                log.warning("change feed did not stop within 5 s; abandoning it")
            elif not task.cancelled() and task.exception() is not None:
                log.debug("change feed ended with %s", type(task.exception()).__name__)
        self.up = False

    def _notified(self, _conn, _pid, _channel, payload: str) -> None:
        change = candle_reader.parse_change(payload)
        if change is None:
            log.warning("ignoring malformed %s payload", candle_reader.CHANNEL)
            return
        self._on_change(*change)

    async def _loop(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn_provider(), timeout=3,
                                             server_settings={"application_name": "kis-backbone-api-feed"})
                if self._install and self.trigger_installed is None:
                    self.trigger_installed = await candle_reader.install_change_feed(conn)
                    if not self.trigger_installed:
                        log.warning("market_candles refuses NOTIFY triggers (hypertable?): writers "
                                    "must call storage.candle_reader.notify_changed")
                await conn.add_listener(candle_reader.CHANNEL, self._notified)
                lost: list[bool] = []
                conn.add_termination_listener(lambda _c: lost.append(True))
                self._on_reset()
                self.up = True
                # Notice a dropped connection within POLL_S (termination listener), and a silent
                # dead server by a probe every check_s. Plain sleeps: no wait_for on this path
                # (Python 3.11's wait_for can lose a cancellation and hang the shutdown).
                since_probe = 0.0
                while not lost and not conn.is_closed():
                    await asyncio.sleep(POLL_S)
                    since_probe += POLL_S
                    if since_probe >= self.check_s:
                        since_probe = 0.0
                        await conn.fetchval("SELECT 1", timeout=3)
            except asyncio.CancelledError:
                raise
            except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
                if self.up:
                    log.warning("change feed lost: %s; retrying", _describe(exc))
            finally:
                self.up = False
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(self.retry_s)


def _describe(exc: BaseException) -> str:
    """A short reason without DSNs or passwords (asyncpg messages do not carry them; be brief)."""
    return type(exc).__name__
