"""Database outage and recovery, the candle cache with its NOTIFY invalidation, /metrics, and no
secrets in any response or log line."""
import logging
from datetime import date, datetime, timezone

import pytest

from serve_app.app import ApiConfig, create_app

from .conftest import insert_rows, kst, serve, session_rows, wait_for

SYM = "005930"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
DAY = {"from": "2026-11-20", "to": "2026-11-20"}


async def test_db_stopped_gives_503_and_the_api_recovers_when_it_returns(pg, db):
    await insert_rows(db, session_rows(SYM, date(2026, 11, 20)))
    await db.close()
    app = create_app(ApiConfig(dsn=pg.dsn), clock=lambda: NOW)
    async with serve(app) as client:
        assert (await client.get(f"/api/candles/{SYM}", params=DAY)).status_code == 200
        await wait_for(lambda: app.state.feed.up)
        pg.stop(mode="fast")
        try:
            await wait_for(lambda: not app.state.feed.up)  # the cache is bypassed from now on
            r = await client.get(f"/api/candles/{SYM}", params={**DAY, "interval": "5m"})
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "DB_CONNECTION_ERROR"
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.json()["db_up"] is False
            assert "api_db_up 0.0" in (await client.get("/metrics")).text
        finally:
            pg.start()
        r = await client.get(f"/api/candles/{SYM}", params={**DAY, "interval": "5m"})
        assert r.status_code == 200, r.text
        assert len(r.json()["candles"]) == 78
        assert "api_db_up 1.0" in (await client.get("/metrics")).text
        # The cache's change feed reconnects too (the cache is bypassed until it does).
        await wait_for(lambda: app.state.feed.up, timeout_s=30)


async def test_cache_hits_and_a_late_row_invalidates_it(pg, db):
    await insert_rows(db, session_rows(SYM, date(2026, 11, 20), skip={"11:00"}))
    app = create_app(ApiConfig(dsn=pg.dsn), clock=lambda: NOW)
    cache, feed = app.state.cache, app.state.feed
    async with serve(app) as client:
        await wait_for(lambda: feed.up)
        first = (await client.get(f"/api/candles/{SYM}", params=DAY)).json()["candles"]
        second = (await client.get(f"/api/candles/{SYM}", params=DAY)).json()["candles"]
        assert first == second
        assert (cache.hits, cache.misses) == (1, 1)
        assert [c["is_filled"] for c in first if c["time"][11:16] == "11:00"] == [True]

        # A repair writes the missing minute: the trigger's NOTIFY reaches the app's listener.
        late = [r for r in session_rows(SYM, date(2026, 11, 20)) if r[2] == kst(2026, 11, 20, 11, 0)]
        await insert_rows(db, late)
        await wait_for(lambda: cache.invalidations >= 1)
        third = (await client.get(f"/api/candles/{SYM}", params=DAY)).json()["candles"]
        fixed = [c for c in third if c["time"][11:16] == "11:00"][0]
        assert fixed["is_filled"] is False and fixed["close"] == late[0][6]

        # An UPDATE (a corrected close) invalidates too.
        before = cache.invalidations
        await db.execute("UPDATE market_candles SET close = close + 1 WHERE symbol = $1 AND time = $2",
                         SYM, kst(2026, 11, 20, 11, 0))
        await wait_for(lambda: cache.invalidations > before)
        fourth = (await client.get(f"/api/candles/{SYM}", params=DAY)).json()["candles"]
        assert [c for c in fourth if c["time"][11:16] == "11:00"][0]["close"] == late[0][6] + 1

        metrics = (await client.get("/metrics")).text
        assert "api_candle_cache_hit_ratio" in metrics
        assert 'api_request_duration_seconds_count{route="/api/candles/{symbol}"}' in metrics


async def test_other_symbols_changes_leave_the_cache_alone(pg, db):
    await insert_rows(db, session_rows(SYM, date(2026, 11, 20)))
    app = create_app(ApiConfig(dsn=pg.dsn), clock=lambda: NOW)
    cache, feed = app.state.cache, app.state.feed
    async with serve(app) as client:
        await wait_for(lambda: feed.up)
        await client.get(f"/api/candles/{SYM}", params=DAY)
        generation = cache.generation
        await insert_rows(db, session_rows("000660", date(2026, 11, 20)))
        await wait_for(lambda: cache.generation > generation)  # the notice arrived...
        await client.get(f"/api/candles/{SYM}", params=DAY)
        assert cache.hits == 1 and cache.invalidations == 0  # ...and dropped nothing of 005930


async def test_no_secrets_in_responses_or_logs(pg, db, tmp_path, caplog):
    secret_pw, secret_key = "pw-SECRET-9f3a", "key-SECRET-77b1"
    dsn = pg.dsn.replace("postgres@", f"postgres:{secret_pw}@")  # trust auth ignores it
    await insert_rows(db, session_rows(SYM, date(2026, 11, 20)))
    log_file = tmp_path / "api.log"
    caplog.set_level(logging.DEBUG)
    app = create_app(ApiConfig(dsn=dsn, api_key=secret_key, log_file=str(log_file)), clock=lambda: NOW)
    assert secret_key not in repr(ApiConfig(dsn=dsn, api_key=secret_key))
    texts = []
    async with serve(app) as client:
        ok = {"X-API-Key": secret_key}
        for r in [
            await client.get(f"/api/candles/{SYM}", params={**DAY, "api_key": secret_key}),
            await client.get(f"/api/candles/{SYM}", params={**DAY, "api_key": secret_key + "x"}),
            await client.get("/api/status", headers=ok),
            await client.get("/api/status", headers={"X-API-Key": "nope"}),
            await client.get("/metrics", headers=ok),
            await client.get("/openapi.json", headers=ok),
        ]:
            texts.append(r.text + repr(dict(r.headers)))
        pg.stop(mode="fast")
        try:
            r = await client.get(f"/api/candles/{SYM}", params={**DAY, "interval": "1h"}, headers=ok)
            assert r.status_code == 503
            texts.append(r.text + repr(dict(r.headers)))
        finally:
            pg.start()
    texts.append(log_file.read_text())
    texts += [rec.getMessage() + (rec.exc_text or "") for rec in caplog.records
              if not rec.name.startswith(("httpx", "httpcore"))]  # the test client's own lines
    blob = "\n".join(texts)
    assert secret_key not in blob and secret_pw not in blob


async def test_the_forming_bucket_is_always_fresh_and_never_filled_ahead(pg, db):
    # Mid-session: 11:00:30 KST; the 11:00 minute is forming, 10:30-10:39 are missing.
    now = kst(2026, 11, 20, 11, 0, 30).astimezone(timezone.utc)
    rows = [r for r in session_rows(SYM, date(2026, 11, 20), skip={f"10:{m}" for m in range(30, 40)})
            if r[2] <= kst(2026, 11, 20, 11, 0)]
    await insert_rows(db, rows)
    app = create_app(ApiConfig(dsn=pg.dsn), clock=lambda: now)
    cache, feed = app.state.cache, app.state.feed
    async with serve(app) as client:
        await wait_for(lambda: feed.up)
        candles = (await client.get(f"/api/candles/{SYM}")).json()["candles"]  # default: today
        assert candles[0]["time"] == "2026-11-20T09:00:00+09:00"
        assert candles[-1]["time"] == "2026-11-20T11:00:00+09:00"  # nothing after the forming minute
        assert len(candles) == 121 and sum(c["is_filled"] for c in candles) == 10
        # Rewrite the forming minute without announcing it: the closed part may come from the
        # cache, the forming bucket must not.
        await db.execute("ALTER TABLE market_candles DISABLE TRIGGER candles_changed_upd")
        try:
            await db.execute("UPDATE market_candles SET close = 99999 WHERE symbol = $1 AND time = $2",
                             SYM, kst(2026, 11, 20, 11, 0))
            again = (await client.get(f"/api/candles/{SYM}")).json()["candles"]
        finally:
            await db.execute("ALTER TABLE market_candles ENABLE TRIGGER candles_changed_upd")
        assert cache.hits == 1
        assert again[-1]["close"] == 99999 and again[:-1] == candles[:-1]


async def test_a_refresh_that_rematerializes_a_range_invalidates_the_cache(pg, db):
    if not await db.fetchval("SELECT to_regclass('_cagg_materialization_log') IS NOT NULL"):
        pytest.skip("not the plain-PostgreSQL aggregate emulation")
    day = session_rows(SYM, date(2026, 11, 20))
    late = [r for r in day if r[2] == kst(2026, 11, 20, 11, 0)]
    await insert_rows(db, [r for r in day if r not in late])
    await db.execute("CALL refresh_continuous_aggregate('market_candles_5m', $1, $2)",
                     kst(2026, 11, 20), kst(2026, 11, 21))
    app = create_app(ApiConfig(dsn=pg.dsn), clock=lambda: NOW)
    cache, feed = app.state.cache, app.state.feed
    params = {**DAY, "interval": "5m"}

    def bucket_11(candles):
        return [c for c in candles if c["time"][11:16] == "11:00"][0]
    async with serve(app) as client:
        await wait_for(lambda: feed.up)
        before = bucket_11((await client.get(f"/api/candles/{SYM}", params=params)).json()["candles"])
        await insert_rows(db, late)  # a late row below the aggregate's watermark
        await wait_for(lambda: cache.invalidations >= 1)
        # Read (and cache) what the view shows now: the late row is not in the aggregate yet.
        await client.get(f"/api/candles/{SYM}", params=params)
        generation = cache.generation
        await db.execute("CALL refresh_continuous_aggregate('market_candles_5m', $1, $2)",
                         kst(2026, 11, 20), kst(2026, 11, 21))
        await wait_for(lambda: cache.generation > generation)  # the refresh was announced
        after = bucket_11((await client.get(f"/api/candles/{SYM}", params=params)).json()["candles"])
    assert after["volume"] == before["volume"] + late[0][7]
    assert after["open"] == late[0][3]


async def test_a_just_closed_minute_not_yet_written_is_not_shown_as_filled(pg, db):
    # 11:01:02 KST: the 11:00 minute closed 2 s ago and the writer has not stored it yet.
    now = kst(2026, 11, 20, 11, 1, 2).astimezone(timezone.utc)
    rows = [r for r in session_rows(SYM, date(2026, 11, 20)) if r[2] < kst(2026, 11, 20, 11, 0)]
    await insert_rows(db, rows)
    app = create_app(ApiConfig(dsn=pg.dsn, settle_s=5), clock=lambda: now)
    async with serve(app) as client:
        candles = (await client.get(f"/api/candles/{SYM}")).json()["candles"]
    assert candles[-1]["time"] == "2026-11-20T10:59:00+09:00"  # 11:00 is neither filled nor cached
    assert not any(c["is_filled"] for c in candles)
