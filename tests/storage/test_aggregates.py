"""Continuous aggregates on plain PostgreSQL (the emulation): exact values, real-time visibility,
incremental re-materialization of late corrections, the KST day boundary, and the window rule."""
from datetime import datetime, timedelta

import asyncpg
import pytest

from storage.candle_rows import upsert_candles
from storage.migrate import apply
from tests.storage.dataset import (START, SYMBOLS, UTC, aggregate, base_rows, candle, refresh_all,
                                   view_rows)

WINDOW = (START - timedelta(days=1), START + timedelta(days=2))


@pytest.fixture
async def conn(pg_dsn):
    c = await asyncpg.connect(pg_dsn)
    await c.execute("TRUNCATE market_candles")
    for t in ("_mat_market_candles_5m", "_mat_market_candles_15m", "_mat_market_candles_1h",
              "_mat_market_candles_1d", "_cagg_invalidation_log", "_cagg_materialization_log"):
        await c.execute(f"TRUNCATE {t}")
    await c.execute("UPDATE _cagg_catalog SET watermark = '-infinity'")
    await c.execute("UPDATE _cagg_threshold SET threshold = '-infinity'")
    yield c
    await c.close()


async def test_migrations_are_idempotent(pg_dsn):
    assert await apply(pg_dsn) == []
    assert await apply(pg_dsn) == []
    c = await asyncpg.connect(pg_dsn)
    try:
        names = {r[0] for r in await c.fetch("SELECT table_name FROM information_schema.tables")}
        assert {"market_candles", "candles_1m", "market_candles_5m", "market_candles_15m",
                "market_candles_1h", "market_candles_1d", "schema_migrations"} <= names
        assert await c.fetchval("SELECT DISTINCT backend FROM schema_migrations") == "postgres"
    finally:
        await c.close()


async def test_forming_buckets_are_visible_before_any_refresh(conn):
    rows = base_rows(minutes=7)  # the 13:35 bucket is still forming
    await upsert_candles(conn, rows)
    for level in ("5m", "15m", "1h", "1d"):
        assert await view_rows(conn, level) == aggregate(rows, level)
    assert await conn.fetchval("SELECT count(*) FROM _mat_market_candles_5m") == 0


async def test_aggregates_equal_direct_aggregation_after_refresh(conn):
    rows = base_rows()
    await upsert_candles(conn, rows)
    await refresh_all(conn)
    for level in ("5m", "15m", "1h", "1d"):
        assert await view_rows(conn, level) == aggregate(rows, level), level
    # materialized, not merely live: the materialized tables alone hold the same rows
    mat = await conn.fetch("SELECT symbol, time, close FROM _mat_market_candles_15m ORDER BY 1, 2")
    assert [(r[0], r[1], r[2]) for r in mat] == [(a[0], a[1], a[5]) for a in aggregate(rows, "15m")]
    assert await conn.fetchval("SELECT count(*) FROM market_candles_15m") > 0


async def test_late_corrections_rematerialize_only_their_buckets_and_days_follow_kst(conn):
    rows = base_rows()
    await upsert_candles(conn, rows)
    await refresh_all(conn, *WINDOW)
    before = await conn.fetchval("SELECT max(id) FROM _cagg_materialization_log")
    day1_before = await view_rows(conn, "1d")

    # 23:59 KST (14:59 UTC) belongs to the first KST day; 00:01 KST (15:01 UTC) to the next one.
    late = [candle(SYMBOLS[0], datetime(2026, 11, 19, 14, 59, tzinfo=UTC), seed=1, source="rest"),
            candle(SYMBOLS[1], datetime(2026, 11, 19, 15, 1, tzinfo=UTC), seed=1, source="rest")]
    await upsert_candles(conn, late)
    # below the watermark: invisible until a refresh covers it (TimescaleDB semantics)
    assert await view_rows(conn, "1d") == day1_before
    await refresh_all(conn, *WINDOW)

    log = await conn.fetch("SELECT cagg, lower(range) AS lo, upper(range) AS hi FROM _cagg_materialization_log "
                           "WHERE id > $1 AND (deleted > 0 OR inserted > 0) ORDER BY id", before)
    got = {(r["cagg"], r["lo"], r["hi"]) for r in log}
    t = lambda h, m: datetime(2026, 11, 19, h, m, tzinfo=UTC)  # noqa: E731
    assert got == {
        ("market_candles_5m", t(14, 55), t(15, 5)),
        ("market_candles_15m", t(14, 45), t(15, 15)),
        ("market_candles_1h", t(14, 0), t(16, 0)),
        ("market_candles_1d", t(15, 0) - timedelta(days=1), t(15, 0) + timedelta(days=1)),
    }
    final = rows + late
    for level in ("5m", "15m", "1h", "1d"):
        assert await view_rows(conn, level) == aggregate(final, level), level
    days = [r for r in await view_rows(conn, "1d") if r[0] == SYMBOLS[0]]
    assert [d[1] for d in days] == [t(15, 0) - timedelta(days=1), t(15, 0)]


async def test_untouched_buckets_are_not_rematerialized(conn):
    rows = base_rows()
    await upsert_candles(conn, rows)
    await refresh_all(conn, *WINDOW)
    before = await conn.fetchval("SELECT max(id) FROM _cagg_materialization_log")
    await refresh_all(conn, *WINDOW)  # nothing changed
    assert await conn.fetchval("SELECT count(*) FROM _cagg_materialization_log WHERE id > $1 "
                               "AND (deleted > 0 OR inserted > 0)", before) == 0


async def test_refresh_window_must_cover_a_whole_bucket(conn):
    await upsert_candles(conn, base_rows(minutes=20))
    with pytest.raises(asyncpg.PostgresError, match="refresh window too small"):
        await conn.execute("CALL refresh_continuous_aggregate('market_candles_15m', $1::timestamptz, $2::timestamptz)",
                           START + timedelta(minutes=1), START + timedelta(minutes=16))
