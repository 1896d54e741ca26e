"""TICKET-001's storage acceptance with the simulator's accelerated clock: >= 15 minutes of market
time recorded by the simulator, written through the CandleWriter, refreshed by the policies; then
market_candles_15m has rows and every level equals a direct aggregation of the stored 1m rows.
(The live path tick -> router -> writer is the streams issue's; here the simulator's own 1m record
feeds the writer.)"""
import asyncio
from datetime import datetime, timedelta, timezone

import asyncpg

from backbone.models import Candle
from simulator.testing import running_simulator
from storage.candle_writer import CandleWriter
from storage.policies import run_policies

SYMBOLS = ("005930", "000660")
START = datetime(2026, 11, 20, 9, 0, tzinfo=timezone(timedelta(hours=9)))  # a Friday session

DIRECT = {
    "market_candles_5m": "time_bucket('5 minutes', time)",
    "market_candles_15m": "time_bucket('15 minutes', time)",
    "market_candles_1h": "time_bucket('1 hour', time)",
    "market_candles_1d": "time_bucket('1 day', time, 'Asia/Seoul')",
}


def to_candle(symbol: str, d: dict) -> Candle:
    return Candle(symbol, "1m", datetime.fromisoformat(d["time"]), d["open"], d["high"], d["low"], d["close"],
                  d["volume"], d["value"], d["trades"], "sim")


async def test_fifteen_minutes_of_simulated_market_aggregate_exactly(pg_dsn, tmp_path):
    async with running_simulator(clock="session", start=START, speed=240.0, symbols=SYMBOLS, rate=5.0) as sim:
        for _ in range(200):  # until the record spans >= 16 closed minutes
            if all(len(sim.candles(s)) >= 17 for s in SYMBOLS):
                break
            await asyncio.sleep(0.1)
        records = {s: sim.candles(s)[:-1] for s in SYMBOLS}  # the last minute may still be forming
    assert all(len(r) >= 16 for r in records.values())
    writer = await CandleWriter(pg_dsn, spill_path=tmp_path / "spill.jsonl").start()
    for s, recs in records.items():
        writer.submit([to_candle(s, d) for d in recs])
    assert await writer.flush(30)
    await writer.close()

    conn = await asyncpg.connect(pg_dsn)
    try:
        last = await conn.fetchval("SELECT max(time) FROM candles_1m")
        run = await run_policies(conn, last + timedelta(minutes=2), force=True)
        assert not run.errors
        assert await conn.fetchval("SELECT count(*) FROM market_candles_15m") > 0
        assert await conn.fetchval("SELECT count(*) FROM _mat_market_candles_15m") > 0
        for view, bucket in DIRECT.items():
            got = await conn.fetch(f"SELECT symbol, time, open, high, low, close, volume, value, trades "
                                   f"FROM {view} ORDER BY 1, 2")
            want = await conn.fetch(
                f"SELECT symbol, {bucket} AS time, (array_agg(open ORDER BY time))[1] AS open, max(high), "
                f"min(low), (array_agg(close ORDER BY time DESC))[1] AS close, sum(volume)::bigint, "
                f"sum(value), sum(trades)::bigint FROM candles_1m GROUP BY 1, 2 ORDER BY 1, 2")
            assert [tuple(r) for r in got] == [tuple(r) for r in want], view
    finally:
        await conn.close()
