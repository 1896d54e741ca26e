"""Cache invalidation notices for 1m writes: announced by the table's triggers where it has them
(plain PostgreSQL), by the writer where it cannot (TimescaleDB hypertables) — once either way."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import asyncpg

from backbone.models import Candle
from storage.candle_reader import CHANNEL, install_change_feed
from storage.candle_rows import feed_triggers_installed, upsert_candles

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)


def rows(symbol: str, minutes: range) -> list[Candle]:
    return [Candle(symbol, "1m", T0 + timedelta(minutes=m), 100, 101, 99, 100, 10, 1000, 1, "ws")
            for m in minutes]


async def notices_for(dsn: str, write) -> list[dict]:
    got: list[dict] = []
    listener = await asyncpg.connect(dsn)
    await listener.add_listener(CHANNEL, lambda *a: got.append(json.loads(a[3])))
    try:
        await write()
        await asyncio.sleep(0.3)
    finally:
        await listener.close()
    return got


async def test_writer_announces_only_when_the_table_does_not(pg_dsn):
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("DROP TRIGGER IF EXISTS candles_changed_ins ON market_candles; "
                           "DROP TRIGGER IF EXISTS candles_changed_upd ON market_candles; "
                           "DROP TRIGGER IF EXISTS candles_changed_del ON market_candles")
        assert not await feed_triggers_installed(conn)
        got = await notices_for(pg_dsn, lambda: upsert_candles(conn, rows("900001", range(5))
                                                                   + rows("900002", range(3, 4))))
        assert sorted((n["symbol"], n["start"], n["end"]) for n in got) == [
            ("900001", T0.isoformat(), (T0 + timedelta(minutes=4)).isoformat()),
            ("900002", (T0 + timedelta(minutes=3)).isoformat(), (T0 + timedelta(minutes=3)).isoformat())]

        assert await install_change_feed(conn) and await feed_triggers_installed(conn)
        got = await notices_for(pg_dsn, lambda: upsert_candles(conn, rows("900001", range(2))))
        assert [n["symbol"] for n in got] == ["900001"]  # the trigger's notice only, not a second one
    finally:
        await conn.close()


async def test_timescale_hypertable_writes_are_announced_once(timescale_dsn):
    """Some TimescaleDB versions refuse transition-table triggers on hypertables; then the writer
    announces. Both ways the written range reaches a listener (PGlite has no COPY: executemany,
    so the triggers speak per row there, the writer once per batch)."""
    from storage.migrate import apply_on

    ts = await asyncpg.connect(timescale_dsn, statement_cache_size=0, timeout=60)
    try:
        await apply_on(ts, versions=range(1, 10))
        for with_triggers in (await install_change_feed(ts), False):
            if not with_triggers:  # the refusing kind: no triggers, the writer speaks
                await ts.execute("DROP TRIGGER IF EXISTS candles_changed_ins ON market_candles; "
                                 "DROP TRIGGER IF EXISTS candles_changed_upd ON market_candles; "
                                 "DROP TRIGGER IF EXISTS candles_changed_del ON market_candles")
            assert await feed_triggers_installed(ts) is with_triggers
            got: list[dict] = []

            def on_notice(*a, got=got):
                got.append(json.loads(a[3]))
            await ts.add_listener(CHANNEL, on_notice)  # the same session: PGlite serves one at a time
            await upsert_candles(ts, rows("900003", range(3)), method="executemany")
            for _ in range(50):
                await asyncio.sleep(0.05)
                if got:
                    break
            await asyncio.sleep(0.2)
            await ts.remove_listener(CHANNEL, on_notice)
            assert {n["symbol"] for n in got} == {"900003"}
            assert min(datetime.fromisoformat(n["start"]) for n in got) == T0
            assert max(datetime.fromisoformat(n["end"]) for n in got) == T0 + timedelta(minutes=2)
            if not with_triggers:
                assert len(got) == 1
    finally:
        await ts.execute("DELETE FROM market_candles WHERE symbol = '900003'")  # the server is shared
        ts.terminate()  # PGlite does not answer a graceful close after LISTEN
