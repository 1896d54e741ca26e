"""Fixtures for the HTTP API tests: one real PostgreSQL per session (embedded, migrated with the
project's sql/ through storage.testing), candle rows generated on the real XKRX calendar, and the app under httpx's ASGI
transport (its lifespan run by hand, so the change feed and pool close cleanly)."""
from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, timedelta, timezone

import asyncpg
import httpx
import pytest

from backbone.calendars import calendar_for
from storage import testing

KRX = calendar_for("005930")


class TestDatabase:
    """A migrated database on this package's own throwaway cluster. Own cluster (not the shared
    `pg_server`), because the outage tests stop and restart it."""

    def __init__(self) -> None:
        self.server = testing.start_throwaway_server()
        self.name, self.dsn = testing.create_database(self.server, prefix="api")

    def stop(self, mode: str = "fast") -> None:
        self.server.stop(mode=mode)

    def start(self) -> None:
        self.server.start()

    def is_running(self) -> bool:
        return self.server.is_running()

    def destroy(self) -> None:
        testing.stop_throwaway_server(self.server)


@pytest.fixture(scope="package")
def pg():
    database = TestDatabase()
    try:
        yield database
    finally:
        database.destroy()


@pytest.fixture(scope="package")
def ray_session():
    """One local Ray for the tests that need it (Serve, live actors); auth off for local tests."""
    import os

    import ray
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 object_store_memory=80 * 1024 * 1024)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


@pytest.fixture
async def db(pg):
    """A connection to the test database, with market_candles emptied for this test."""
    if not pg.is_running():
        pg.start()
    conn = await asyncpg.connect(pg.dsn)
    await conn.execute("TRUNCATE market_candles")
    try:
        yield conn
    finally:
        await conn.close()


def session_rows(symbol: str, day: date, *, base: int = 70_000, skip=()) -> list[tuple]:
    """1m rows for every minute of the session on `day` (none if closed), minus `skip` minutes
    (local HH:MM strings). Prices step by 10 won a minute so every close is distinct."""
    session = KRX.session_on(day)
    if session is None:
        return []
    rows, t, i = [], session.open, 0
    while t < session.close:
        if t.strftime("%H:%M") not in skip:
            px = base + 10 * i
            rows.append((symbol, "1m", t.astimezone(timezone.utc), px, px + 50, px - 50, px + 5,
                         100 + i, (px + 5) * (100 + i), 3, "sim"))
        t += timedelta(minutes=1)
        i += 1
    return rows


async def insert_rows(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    await conn.copy_records_to_table(
        "market_candles", records=rows,
        columns=["symbol", "interval", "time", "open", "high", "low", "close", "volume", "value",
                 "trades", "source"])


@contextlib.asynccontextmanager
async def serve(app):
    """The app with its lifespan running, and an httpx client talking ASGI to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


async def wait_for(predicate, timeout_s: float = 15.0, step_s: float = 0.05) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step_s)


def kst(*args) -> datetime:
    from zoneinfo import ZoneInfo
    return datetime(*args, tzinfo=ZoneInfo("Asia/Seoul"))
