"""The cache's change feed in storage.candle_reader: idempotent trigger install, the writer-side
`notify_changed` (TimescaleDB path), and payload parsing that never raises."""
import asyncio
from datetime import datetime, timezone

import asyncpg

from storage import candle_reader

T = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)


async def test_install_is_idempotent_and_concurrent_safe(pg):
    conns = [await asyncpg.connect(pg.dsn) for _ in range(3)]
    try:
        results = await asyncio.gather(*(candle_reader.install_change_feed(c) for c in conns))
        assert results == [True, True, True]
        assert await conns[0].fetchval("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'candles_changed_%'") == 3
    finally:
        for c in conns:
            await c.close()


async def test_notify_changed_reaches_a_listener(pg):
    listener, writer = await asyncpg.connect(pg.dsn), await asyncpg.connect(pg.dsn)
    got: asyncio.Queue = asyncio.Queue()
    try:
        await listener.add_listener(candle_reader.CHANNEL, lambda *a: got.put_nowait(a[-1]))
        async with writer.transaction():
            await candle_reader.notify_changed(writer, "005930", T, T)
        payload = await asyncio.wait_for(got.get(), 10)
        assert candle_reader.parse_change(payload) == ("005930", T, T)
    finally:
        await listener.close()
        await writer.close()


def test_parse_change_rejects_garbage_without_raising():
    for bad in ("", "{", "[]", '{"symbol": "x"}', '{"symbol": "x", "start": "nope", "end": "nope"}'):
        assert candle_reader.parse_change(bad) is None


async def test_within_times_out_and_cancels_the_inner_task():
    import pytest

    from serve_app.aio import within
    inner = asyncio.ensure_future(asyncio.sleep(30))
    with pytest.raises(asyncio.TimeoutError):
        await within(inner, 0.05)
    await asyncio.sleep(0)
    assert inner.cancelled()
    assert await within(asyncio.sleep(0, result=7), 1) == 7
