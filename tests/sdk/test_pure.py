"""Pure parts of the SDK, fast and without a server: channel continuity and book assembly, the
unifier's checks, the TTL cache, the circuit breaker, error mapping, the candles frame."""
from __future__ import annotations

import pytest

from backbone.book import BookDiffer
from backbone.client.breaker import BreakerState, CircuitBreaker
from backbone.client.cache import TTLCache
from backbone.client.candles_frame import candles_frame
from backbone.client.channel_state import ChannelState
from backbone.client.errors import (CircuitOpen, InvalidInterval, NoDataFound, RateLimited, UpstreamUnavailable,
                                    from_response)
from backbone.client.models import OrderBookData, Resync, TickerData
from backbone.client.unifier import FLAG_LIMITS, FLAG_VOLUME, DataUnifier
from backbone.kis.events import BookLevel, OrderBook

E = "ep1"


def trade(seq, price=70000, vol=None, epoch=E, change=500):
    return {"type": "trade", "channel": "trade:005930", "seq": seq, "epoch": epoch,
            "data": {"symbol": "005930", "time": "2026-11-20T10:00:00+09:00", "price": price, "size": 1,
                     "cum_volume": vol if vol is not None else seq * 10, "cum_value": 1, "change": change,
                     "change_rate": "0.7"}}


def snap_trade(seq, epoch=E, recovered=None, last=True):
    m = {"type": "snapshot", "channel": "trade:005930", "seq": seq, "epoch": epoch,
         "data": {"symbol": "005930", "last": trade(seq)["data"] if last else None}}
    if recovered is not None:
        m["recovered"] = recovered
    return m


def items_of(st, msgs):
    out, ops = [], []
    for m in msgs:
        i, o = st.on_message(m)
        out += i
        ops += o
    return out, ops


def test_trades_in_order_duplicates_dropped_gap_resumes():
    st = ChannelState("trade:005930", DataUnifier())
    items, ops = items_of(st, [snap_trade(5), trade(6), trade(6), trade(5), trade(7)])
    assert [i.seq for i in items] == [5, 6, 7] and ops == []
    assert st.stats.duplicates_dropped == 2
    items, ops = items_of(st, [trade(9), trade(10)])  # gap: one resume, nothing yielded
    assert items == [] and ops == [{"op": "resume", "channel": "trade:005930", "epoch": E, "from_seq": 7}]
    items, ops = items_of(st, [trade(8), trade(9), trade(10)])  # the replay
    assert [i.seq for i in items] == [8, 9, 10] and ops == []


def test_snapshot_rules_give_explicit_resyncs():
    st = ChannelState("trade:005930", DataUnifier())
    items_of(st, [snap_trade(5), trade(6)])
    items, _ = items_of(st, [snap_trade(20, recovered=False)])
    assert isinstance(items[0], Resync) and items[0].reason == "not_recoverable" and items[0].from_seq == 6
    items, _ = items_of(st, [snap_trade(3, epoch="ep2")])
    assert items[0].reason == "epoch_changed" and st.epoch == "ep2" and st.seq == 3
    items, _ = items_of(st, [snap_trade(3, epoch="ep2")])  # duplicate snapshot
    assert items == []
    assert st.reconnect_ops() == [{"op": "resume", "channel": "trade:005930", "epoch": "ep2", "from_seq": 3}]


def _books():
    d = BookDiffer(10, "005930")
    sizes = [[10 + i + (k if i == 5 else 0) for i in range(10)] for k in range(4)]  # level 5 moves
    out = []
    for s in sizes:
        book = OrderBook(symbol="005930", time=None,
                         asks=tuple(BookLevel(70100 + 100 * i, s[i]) for i in range(10)),
                         bids=tuple(BookLevel(70000 - 100 * i, s[i] + 1) for i in range(10)),
                         total_ask_size=0, total_bid_size=0, cum_volume=None)
        delta = d.update(book)
        out.append((delta, d.snapshot()))
    return out


def book_msgs():
    books = _books()
    msgs = [{"type": "snapshot", "channel": "book:005930", "seq": 1, "epoch": E, "data": books[0][1].to_dict()}]
    for n, (delta, _s) in enumerate(books[1:], start=2):
        msgs.append({"type": "delta", "channel": "book:005930", "seq": n, "epoch": E, "data": delta.to_dict()})
    return msgs, books[-1][1]


def test_book_rebuilt_and_verified():
    msgs, final = book_msgs()
    st = ChannelState("book:005930", DataUnifier())
    items, ops = items_of(st, msgs)
    assert ops == [] and all(isinstance(i, OrderBookData) for i in items) and len(items) == 4
    assert items[-1].checksum == final.checksum and items[-1].asks[0].size == final.asks[0].size


def test_checksum_mismatch_resyncs_never_yields_a_wrong_book():
    msgs, final = book_msgs()
    st = ChannelState("book:005930", DataUnifier())
    items_of(st, msgs[:2])
    assert st.corrupt_book_for_test()
    items, ops = items_of(st, msgs[2:])
    assert items == [] and ops[0]["op"] == "unsubscribe" and ops[1]["op"] == "subscribe"
    assert st.stats.checksum_mismatches == 1
    fresh = {"type": "snapshot", "channel": "book:005930", "seq": 9, "epoch": E, "data": final.to_dict()}
    items, ops = items_of(st, [fresh])
    assert isinstance(items[0], Resync) and items[0].reason == "checksum_mismatch"
    assert items[1].checksum == final.checksum and ops == []


def test_unifier_flags_limits_and_volume_going_back():
    u = DataUnifier()
    ok = u.from_stream_trade(trade(1, price=70000, vol=100)["data"])
    assert not ok.suspicious and ok.source == "websocket" and ok.via == "stream"
    wild = u.from_stream_trade(trade(2, price=95000, vol=120, change=30000)["data"])  # prev close 65000: > +30 %
    assert FLAG_LIMITS in wild.flags
    back = u.from_stream_trade(trade(3, price=70000, vol=90)["data"])
    assert back.suspicious and FLAG_VOLUME in back.flags
    assert not u.from_stream_trade(trade(4, price=70000, vol=95)["data"]).suspicious  # flagged once, not forever
    rest = u.from_api({"symbol": "005930", "source": "rest",
                       "data": {"stck_prpr": "71000", "prdy_vrss": "500", "prdy_ctrt": "0.71", "acml_vol": "10",
                                "stck_mxpr": "91000", "stck_llam": "49000"}})
    assert rest.source == "rest" and rest.via == "http" and rest.current_price == 71000 and not rest.suspicious
    over = u.from_api({"symbol": "005930", "source": "rest",
                       "data": {"stck_prpr": "92000", "acml_vol": "11", "stck_mxpr": "91000", "stck_llam": "49000"}})
    assert over.flags == (FLAG_LIMITS,)
    assert u.suspicious == 3


def test_ttl_cache_hits_expiry_invalidation():
    now = [0.0]
    c = TTLCache(ttl_s=2.0, clock=lambda: now[0])
    assert c.get("k") is None
    c.put("k", 1, symbol="A")
    c.put("j", 2, symbol="B")
    assert c.get("k") == 1 and c.get("k") == 1
    now[0] = 2.5
    assert c.get("k") is None
    c.put("k", 1, symbol="A")
    assert c.invalidate_symbol("A") == 1 and c.get("k") is None
    assert c.hits == 2 and c.misses == 3 and c.hit_rate == pytest.approx(0.4)


def test_breaker_opens_half_opens_closes():
    now = [0.0]
    seen = []
    b = CircuitBreaker(failure_threshold=3, reset_timeout_s=5, clock=lambda: now[0],
                       on_change=lambda old, new: seen.append(new))
    for _ in range(3):
        b.before_call()
        b.record_failure()
    assert b.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        b.before_call()
    now[0] = 5.0
    assert b.state is BreakerState.HALF_OPEN
    b.before_call()
    with pytest.raises(CircuitOpen):  # one probe at a time
        b.before_call()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    now[0] = 10.0
    b.before_call()
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.times_opened == 2
    assert seen == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.OPEN, BreakerState.HALF_OPEN,
                    BreakerState.CLOSED]


def test_error_codes_become_typed_exceptions():
    e = from_response(400, {"error": {"code": "INVALID_INTERVAL", "message": "m", "request_id": "r1"}})
    assert isinstance(e, InvalidInterval) and e.request_id == "r1" and e.status == 400
    assert isinstance(from_response(404, {"error": {"code": "NO_DATA_FOUND", "message": ""}}), NoDataFound)
    assert isinstance(from_response(503, {"error": {"code": "UPSTREAM_UNAVAILABLE", "message": ""}}),
                      UpstreamUnavailable)
    assert isinstance(from_response(429, "x"), RateLimited)


def test_candles_frame_types():
    df = candles_frame({"candles": [{"time": "2026-11-20T09:00:00+09:00", "open": 1, "high": 2, "low": 1,
                                     "close": 2, "volume": 5, "is_filled": False},
                                    {"time": "2026-11-20T09:01:00+09:00", "open": 2, "high": 2, "low": 2,
                                     "close": 2, "volume": 0, "is_filled": True}]})
    assert df.columns == ["time", "open", "high", "low", "close", "volume", "is_filled"]
    assert df["is_filled"].to_list() == [False, True] and str(df["time"].dtype.time_zone) == "Asia/Seoul"
    assert candles_frame({"candles": []}).height == 0


def test_ticker_model_is_one_shape():
    assert set(TickerData.model_fields) >= {"symbol", "current_price", "source", "via", "suspicious", "flags"}


async def test_slow_consumer_backlog_dropped_with_an_explicit_resync():
    from backbone.client.stream import StreamConnection
    conn = StreamConnection("ws://127.0.0.1:9/ws", None, DataUnifier(), max_queue=5)
    ch = "trade:005930"
    q = __import__("asyncio").Queue(5)
    conn._consumers[q] = {ch}
    conn.states[ch] = ChannelState(ch, conn.unifier, conn.stats)
    await conn._dispatch(snap_trade(1), 0)
    for seq in range(2, 9):
        await conn._dispatch(trade(seq), 0)
    got = [q.get_nowait() for _ in range(q.qsize())]
    assert isinstance(got[0], Resync) and got[0].reason == "slow_consumer" and conn.stats.consumer_overflows == 1
    assert [t.seq for t in got[1:]] == [7, 8]  # live again after the resync


async def test_bad_channel_choice_is_a_typed_error():
    from backbone.client import InvalidRange, MarketDataBackbone
    async with MarketDataBackbone("http://127.0.0.1:9") as bb:
        with pytest.raises(InvalidRange):
            await bb.get_ticker("005930", "carrier-pigeon")
