"""Sectors and related assets: NO_DATA_FOUND until the jobs write, then what they wrote."""
import uuid
from datetime import datetime, timezone

import pytest

from serve_app.app import ApiConfig, create_app

from .conftest import serve


async def test_sectors_and_related_serve_what_the_jobs_wrote(pg, db):
    if not await db.fetchval("SELECT to_regclass('related_assets') IS NOT NULL"):
        pytest.skip("sql/030_jobs.sql not applied in this database")
    await db.execute("TRUNCATE related_runs CASCADE; TRUNCATE sector_snapshots")
    async with serve(create_app(ApiConfig(dsn=pg.dsn, change_feed=False))) as client:
        assert (await client.get("/api/market/sectors")).json()["error"]["code"] == "NO_DATA_FOUND"
        assert (await client.get("/api/related/005930")).json()["error"]["code"] == "NO_DATA_FOUND"
        run = uuid.uuid4()
        await db.execute("INSERT INTO related_runs (run_id, reason) VALUES ($1, 'correlation')", run)
        await db.execute(
            "INSERT INTO related_assets (run_id, symbol, related_symbol, reason, direction, rank, score)"
            " VALUES ($1, '005930', '000660', 'correlation', 'positive', 1, 0.83)", run)
        await db.execute(
            "INSERT INTO sector_snapshots (time, sector, symbols, priced, equal_weighted_change, "
            "advancers, decliners, unchanged) VALUES ($1, '반도체', 4, 4, 1.25, 3, 1, 0)",
            datetime(2026, 11, 20, 5, 0, tzinfo=timezone.utc))
        related = (await client.get("/api/related/005930")).json()
        assert related["related"][0]["symbol"] == "000660" and related["related"][0]["score"] == 0.83
        sectors = (await client.get("/api/market/sectors")).json()
        assert sectors["sectors"][0]["sector"] == "반도체"
        r = await client.get("/api/related/005930?reason=gossip")
        assert r.json()["error"]["code"] == "INVALID_RANGE"
    await db.execute("TRUNCATE related_runs CASCADE; TRUNCATE sector_snapshots")
