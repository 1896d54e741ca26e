"""The simulator's independent encoder (simulator.frames) and this decoder agree on every TR."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

frames = pytest.importorskip("simulator.frames")
from simulator.krx import BookSnap, Print, Status  # noqa: E402
from simulator.market import IndexSnap  # noqa: E402
from simulator.overseas import OvBook, OvPrint  # noqa: E402

from backbone.kis.codec import DataFrame, parse_message  # noqa: E402
from backbone.kis.crypto import AesKey  # noqa: E402
from backbone.kis.errors import DecodeError, DecodeErrorKind  # noqa: E402
from backbone.kis.events import (  # noqa: E402
    KST, BookLevel, ExecutionNotice, IndexTick, MarketStatus, OrderBook, OverseasTrade, Side, Trade,
)
from backbone.kis.normalize import decode  # noqa: E402

T = datetime(2024, 5, 2, 10, 15, 30, tzinfo=KST)
D = T.date()


def a_print(i: int = 0, side: str = "1", price: int = 71900) -> Print:
    return Print(code="005930", time=T, price=price, size=10 + i, side=side, ask1=72000, bid1=71900,
                 acml_vol=1000 + i, acml_value=71_900_000 + i, open=71500, high=72400, low=71000,
                 open_time="090000", high_time="093000", low_time="091500", prev_close=72000, prev_vol=5_000_000,
                 seln_cnt=5, shnu_cnt=7, seln_vol=400, shnu_vol=600, ask_rsqn1=1234, bid_rsqn1=4321,
                 total_ask=100000, total_bid=90000, listed_shares=5_969_782_550)


@pytest.mark.parametrize("width", [46, 47])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_trade_frames(width, n):
    raw = frames.data_frame("H0STCNT0", [frames.cnt_record(a_print(i), width) for i in range(n)])
    evs = decode(raw)
    assert [type(e) for e in evs] == [Trade] * n
    t = evs[-1]
    assert (t.symbol, t.time, t.price, t.size, t.side) == ("005930", T, 71900, 10 + n - 1, Side.BUY)
    assert (t.cum_volume, t.cum_value, t.open, t.high, t.low) == (1000 + n - 1, 71_900_000 + n - 1, 71500, 72400, 71000)
    assert t.change == -100 and t.change_rate == Decimal("-0.14") and (t.ask1, t.bid1) == (72000, 71900)


def test_trade_sell_side():
    t = decode(frames.data_frame("H0STCNT0", [frames.cnt_record(a_print(side="5"))]))[0]
    assert t.side is Side.SELL


@pytest.mark.parametrize("width", [59, 62, 63])
def test_book_frames(width):
    asks = [(72000 + 100 * i, 10 * (i + 1)) for i in range(9)] + [(0, 0)]
    bids = [(71900 - 100 * i, 20 * (i + 1)) for i in range(10)]
    snap = BookSnap(code="005930", time=T, asks=asks, bids=bids, acml_vol=777, prev_close=72000,
                    total_ask_icdc=0, total_bid_icdc=0)
    raw = frames.data_frame("H0STASP0", [frames.asp_record(snap, width)])
    msg = parse_message(raw)
    assert isinstance(msg, DataFrame) and len(msg.records[0].values) == width and not msg.unknown_width
    (b,) = decode(raw, date_hint=D)
    assert isinstance(b, OrderBook) and b.time == T and b.cum_volume == 777
    assert b.asks == tuple(BookLevel(p, s) for p, s in asks[:9]) and b.bids == tuple(BookLevel(p, s) for p, s in bids)
    assert b.total_ask_size == sum(s for _, s in asks) and b.total_bid_size == sum(s for _, s in bids)


@pytest.mark.parametrize("width", [10, 11])
def test_market_status(width):
    st = Status(code="005930", halted=True, reason="(null)", mkop="112", antc_mkop="", stat="58")
    (m,) = decode(frames.data_frame("H0STMKO0", [frames.mko_record(st, width)]))
    assert isinstance(m, MarketStatus) and m.halted and m.halt_reason == "" and m.session_code == "112"
    assert m.stock_status == "58"


def test_index():
    x = IndexSnap(code="0001", time=T, value=Decimal("2624.54"), prev=Decimal("2591.86"), open=Decimal("2615.72"),
                  high=Decimal("2624.82"), low=Decimal("2610.00"), acml_vol=63952, acml_value=1650684,
                  pcas_vol=439, pcas_value=10335, up=670, down=177, unch=72, uplimit=0, downlimit=0)
    (t,) = decode(frames.data_frame("H0UPCNT0", [frames.index_record(x)]), date_hint=D)
    assert isinstance(t, IndexTick) and t.value == Decimal("2624.54") and t.change == Decimal("32.68")
    assert t.time == T and (t.advancers, t.decliners, t.unchanged) == (670, 177, 72)


def test_overseas_trade_and_books():
    ny = ZoneInfo("America/New_York")
    local = datetime(2024, 5, 1, 15, 30, 1, tzinfo=ny)
    p = OvPrint(code="DNASAAPL", ticker="AAPL", local=local, price=Decimal("188.25"), size=12,
                open=Decimal("187.10"), high=Decimal("189.50"), low=Decimal("186.00"), prev_close=Decimal("189.50"),
                bid=Decimal("188.24"), ask=Decimal("188.26"), bid_size=100, ask_size=300, tvol=4_500_000,
                tamt=Decimal("845000000"), sell_vol=10, buy_vol=2)
    (t,) = decode(frames.data_frame("HDFSCNT0", [frames.ov_trade_record(p)]))
    assert isinstance(t, OverseasTrade) and t.time == local and t.price == Decimal("188.25")
    assert t.change == Decimal("-1.25") and t.change_rate == Decimal("-0.66") and t.size == 12
    bids = [(Decimal("188.24") - Decimal("0.01") * i, i + 1) for i in range(10)]
    asks = [(Decimal("188.26") + Decimal("0.01") * i, i + 2) for i in range(10)]
    (b,) = decode(frames.data_frame("HDFSASP0", [frames.ov_book_record(OvBook("DNASAAPL", "AAPL", local, bids, asks))]))
    assert isinstance(b, OrderBook) and b.tr_id == "HDFSASP0" and len(b.bids) == 10
    assert b.bids[3] == BookLevel(Decimal("188.21"), 4) and b.asks[9] == BookLevel(Decimal("188.35"), 11)
    hk = datetime(2024, 5, 2, 10, 0, tzinfo=ZoneInfo("Asia/Hong_Kong"))
    (a,) = decode(frames.data_frame("HDFSASP1", [frames.ov_book_record(
        OvBook("DHKS00700", "00700", hk, bids[:1], asks[:1]))]))
    assert a.tr_id == "HDFSASP1" and a.time == hk and len(a.asks) == 1


@pytest.mark.parametrize("width", [23, 26])
@pytest.mark.parametrize("fill", [False, True])
def test_encrypted_notice(width, fill):
    key, iv = "abcdefghijklmnopabcdefghijklmnop", "0123456789abcdef"
    rec = frames.notice_record("H0STCNI0", "myhts", "005930", "삼성전자", 3, 71900, "02", 42, fill, T, width)
    raw = frames.data_frame("H0STCNI0", [rec], key, iv)
    (n,) = decode(raw, {"H0STCNI0": AesKey(key, iv)}, date_hint=D)
    assert isinstance(n, ExecutionNotice) and n.hts_id == "myhts" and n.symbol == "005930"
    assert (n.quantity, n.price, n.side, n.is_fill, n.time) == (3, 71900, Side.BUY, fill, T)
    assert n.raw["ACNT_NAME"] == "김한투" and n.order_no == "0000000042"


def test_control_frames():
    reply = frames.control_reply("H0STCNI0", "myhts", "0", "OPSP0000", "SUBSCRIBE SUCCESS", "Y",
                                 "0123456789abcdef", "abcdefghijklmnopabcdefghijklmnop")
    r = parse_message(reply)
    assert r.encrypt and r.aes == AesKey("abcdefghijklmnopabcdefghijklmnop", "0123456789abcdef")
    pp = frames.pingpong(T)
    assert parse_message(pp).raw == pp and parse_message(pp).datetime == "20240502101530"


@pytest.mark.parametrize("kind", ["truncated", "wrong_count", "garbage", "invalid_utf8"])
def test_simulator_malformed_frames_are_typed(kind):
    good = frames.data_frame("H0STCNT0", [frames.cnt_record(a_print())])
    out = parse_message(frames.malform(good, kind))
    if kind == "invalid_utf8":
        assert isinstance(out, (DataFrame, DecodeError))
        if isinstance(out, DataFrame):
            assert out.invalid_utf8
    else:
        assert isinstance(out, DecodeError)
        expected = {"truncated": DecodeErrorKind.TRUNCATED, "wrong_count": DecodeErrorKind.BAD_COUNT,
                    "garbage": DecodeErrorKind.GARBAGE}[kind]
        assert out.kind is expected
