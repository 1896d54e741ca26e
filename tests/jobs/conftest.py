"""Fixtures for the quant-job tests: one Ray per session (started only by tests that ask for it);
`pg_dsn` is storage.testing's fresh, fully migrated database per test module (a throwaway
embedded cluster, or TEST_DATABASE_URL's server)."""
from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest

from storage.testing import pg_dsn, pg_server  # noqa: F401  (fixtures)

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


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


def run_sql(dsn: str, sql: str, *args):
    async def go():
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(go())
