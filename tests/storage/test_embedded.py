"""The embedded cluster: start on a free port, serve, stop cleanly, restart on the same port, and
adopt a server already running on the same data directory (as `make migrate` next to `make run`)."""
import asyncio

import asyncpg

from storage.embedded import EmbeddedPostgres


def query(dsn: str) -> int:
    async def go():
        c = await asyncpg.connect(dsn, timeout=10)
        try:
            return await c.fetchval("SELECT 41 + 1")
        finally:
            await c.close()
    return asyncio.run(go())


def test_start_stop_restart_and_adopt(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "pg", port=0, fast=True)
    try:
        pg.start()
        assert pg.owned and pg.port > 0 and query(pg.dsn) == 42
        other = EmbeddedPostgres(tmp_path / "pg").start()  # adopts the running server
        assert not other.owned and other.port == pg.port
        port = pg.port
        pg.stop()
        assert not pg.is_running()
        pg.start()
        assert pg.port == port and query(pg.dsn) == 42
    finally:
        pg.destroy()
    assert not (tmp_path / "pg").exists()
