"""Fixtures for the quant-job tests: one Ray per session (started only by tests that ask for it)
and one throwaway embedded PostgreSQL per session, migrated with the project's sql/."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

SQL = Path(__file__).resolve().parents[2] / "sql"


@pytest.fixture(scope="session")
def ray_session():
    import ray

    if ray.is_initialized():  # another suite's session Ray: reuse it
        yield ray
        return
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=150 * 1024 * 1024, namespace="tests-jobs")
    try:
        yield ray
    finally:
        ray.shutdown()


async def _migrate(dsn: str) -> None:
    from storage import migrate

    try:
        await migrate.apply(dsn)
    except migrate.MigrationError:
        # another migration in sql/ is mid-rewrite: fall back to the two this suite needs
        conn = await asyncpg.connect(dsn)
        try:
            for name in ("002_market_candles.sql", "030_jobs.sql"):
                await conn.execute((SQL / name).read_text())
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def pg_dsn():
    import tempfile

    from storage.embedded import EmbeddedPostgres

    # outside pytest's tmp tree: pytest resets its permissions, which locks out the postgres user
    server = EmbeddedPostgres(tempfile.mkdtemp(prefix="jobs-pg-"), fast=True).start()
    try:
        asyncio.run(_migrate(server.dsn))
        yield server.dsn
    finally:
        server.destroy()


def run_sql(dsn: str, sql: str, *args):
    async def go():
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(go())
