"""Test helpers for every engineer's tests: a throwaway PostgreSQL cluster and fresh databases.

In a conftest.py:  `pytest_plugins = ["storage.testing"]`, then use the fixtures
  - `pg_server`  (session): an EmbeddedPostgres in a temp dir (fsync off), stopped and deleted at exit
  - `pg_dsn`     (module): DSN of a fresh, migrated database, dropped after the module
  - `pg_dsn_empty` (module): same, without migrations
Or call `create_database(server)` (or `await create_database_async(server)`) /
`drop_database(server, name)` directly. With
TEST_DATABASE_URL set (an admin DSN to a real server, e.g. TimescaleDB), databases are created
there instead of in an embedded cluster.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from .embedded import EmbeddedPostgres
from .migrate import apply


class _External:
    """A server reached by TEST_DATABASE_URL, presented like an EmbeddedPostgres."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def dsn_for(self, database: str) -> str:
        parts = urlsplit(self.dsn)
        return urlunsplit(parts._replace(path="/" + database))


def start_throwaway_server() -> EmbeddedPostgres:
    tmp = tempfile.mkdtemp(prefix="kis-pg-")
    server = EmbeddedPostgres(os.path.join(tmp, "pg"), port=0, fast=True)
    server.start()
    server._tmp_root = tmp  # type: ignore[attr-defined]
    return server


def stop_throwaway_server(server: EmbeddedPostgres) -> None:
    server.destroy()
    shutil.rmtree(getattr(server, "_tmp_root", server.data_dir), ignore_errors=True)


async def create_database_async(server, *, migrate: bool = True, prefix: str = "t") -> tuple[str, str]:
    """(name, dsn) of a new empty database on `server`, migrated unless `migrate=False`."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server.dsn, timeout=30)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    if migrate:
        await apply(server.dsn_for(name))
    return name, server.dsn_for(name)


def create_database(server, *, migrate: bool = True, prefix: str = "t") -> tuple[str, str]:
    """Synchronous `create_database_async` (fixtures, scripts without a running loop)."""
    return asyncio.run(create_database_async(server, migrate=migrate, prefix=prefix))


def drop_database(server, name: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(server.dsn, timeout=30)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def pg_server():
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield _External(external)
        return
    server = start_throwaway_server()
    try:
        yield server
    finally:
        stop_throwaway_server(server)


@pytest.fixture(scope="module")
def pg_dsn(pg_server):
    name, dsn = create_database(pg_server)
    yield dsn
    drop_database(pg_server, name)


@pytest.fixture(scope="module")
def pg_dsn_empty(pg_server):
    name, dsn = create_database(pg_server, migrate=False)
    yield dsn
    drop_database(pg_server, name)
