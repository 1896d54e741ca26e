"""Micro-batching (no Ray): grouping per symbol, flush by size/time, in-flight cap, columnar batches."""
import asyncio
from datetime import datetime
from decimal import Decimal

from backbone.kis.events import KST, BookLevel, OrderBook, Side, Trade
from upstream.batcher import MicroBatcher
from upstream.ingest_batch import TRADE_COLUMNS, batch_size, build_batch


def trade(sym="005930", price=70000, size=1):
    return Trade(sym, datetime(2026, 11, 20, 10, 0, 0, tzinfo=KST), price, size, Side.BUY, 100, 7_000_000, 69000,
                 71000, 68000, 500, Decimal("0.72"), 70100, 70000, "20", False)


def book(sym="005930"):
    return OrderBook(sym, datetime(2026, 11, 20, 10, 0, 0, tzinfo=KST), (BookLevel(70100, 5),), (BookLevel(70000, 7),),
                     5, 7, 100)


def test_batch_is_columnar():
    b = build_batch("005930", "src", 1, [trade(price=1), book(), trade(price=2)], [10, 11, 12])
    assert (b["symbol"], b["source"], b["seq"]) == ("005930", "src", 1)
    assert set(b["trades"]) == set(TRADE_COLUMNS) and b["trades"]["price"] == [1, 2]
    assert b["trades"]["change_rate"] == ["0.72", "0.72"] and b["trades"]["recv_ns"] == [10, 12]
    assert b["books"]["ask_px"] == [[70100]] and b["books"]["bid_sz"] == [[7]] and batch_size(b) == 3
    assert "other" not in b and "polled" not in b


def test_polled_quotes_travel_in_their_own_section():
    b = build_batch("005930", "src", 2, [("polled", "005930", {"price": 1, "source": "rest"})], [0])
    assert b["polled"] == [{"price": 1, "source": "rest"}] and batch_size(b) == 1


async def test_batcher_groups_per_symbol_and_never_sends_one_call_per_event():
    calls = []

    async def deliver(sym, batch):
        calls.append((sym, batch_size(batch)))

    m = MicroBatcher(deliver, flush_ms=20, flush_events=1000)
    task = asyncio.create_task(m.run())
    for i in range(300):
        m.add([trade("005930"), trade("000660")], i)
    await asyncio.sleep(0.1)
    await m.stop()
    task.cancel()
    assert sum(n for _, n in calls) == 600 and len(calls) <= 4
    assert {s for s, _ in calls} == {"005930", "000660"}


async def test_batcher_caps_calls_in_flight_and_coalesces():
    gate = asyncio.Event()
    seen = []

    async def deliver(sym, batch):
        seen.append(batch_size(batch))
        await gate.wait()

    m = MicroBatcher(deliver, flush_ms=1, flush_events=1, max_in_flight=2)
    task = asyncio.create_task(m.run())
    for i in range(50):
        m.add([trade()], i)
        await asyncio.sleep(0.002)
    assert len(seen) == 2  # two calls outstanding, the rest waits in the buffer
    gate.set()
    await asyncio.sleep(0.05)
    await m.stop()
    task.cancel()
    assert sum(seen) == 50 and len(seen) < 10


async def test_batcher_drops_oldest_beyond_the_cap_and_skips_unwanted_symbols():
    async def never(sym, batch):
        await asyncio.sleep(10)

    m = MicroBatcher(never, flush_ms=1000, flush_events=10**6, max_buffered=10)
    m.accept = {"005930"}
    m.add([trade() for _ in range(25)] + [trade("999999")], 0)
    assert m.dropped == 15 and m.unrouted == 1 and m.status()["buffered"] == 10


async def test_many_busy_symbols_stretch_the_flush_interval():
    async def deliver(sym, batch):
        pass

    m = MicroBatcher(deliver, flush_ms=5, flush_events=10**6, max_calls_per_s=100)
    for i in range(40):
        m.add([trade(f"{i:06d}")], 0)
    m.flush()
    assert m.interval() == 0.4  # 40 calls at 100 calls/s
    m.flush()  # nothing buffered: back to flush_ms next time
    assert m.interval() == 0.005
    await asyncio.sleep(0)
