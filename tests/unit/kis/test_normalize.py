"""Record -> typed event, from the reference's sample frames."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backbone.kis.codec import parse_message
from backbone.kis.crypto import AesKey, encrypt
from backbone.kis.errors import DecodeError, DecodeErrorKind
from backbone.kis.events import (
    KST, BookLevel, ExecutionNotice, IndexTick, MarketStatus, OrderBook, OverseasTrade, Side, Trade,
)
from backbone.kis.layouts import HDFSASP0, HDFSASP1, HDFSCNT0
from backbone.kis.normalize import decode, to_event

from . import samples as S

D = date(2024, 5, 2)
K = AesKey(S.KEY, S.IV)


def one(raw, **kw):
    out = decode(raw, **kw)
    assert isinstance(out, list) and len(out) == 1, out
    return out[0]


def test_trade_from_real_frame():
    t = one(S.CNT_REAL)
    assert isinstance(t, Trade)
    assert t.symbol == "005930" and t.time == datetime(2023, 3, 24, 11, 26, 16, tzinfo=KST)
    assert t.time.utcoffset().total_seconds() == 9 * 3600
    assert (t.price, t.size, t.cum_volume, t.cum_value) == (62700, 125, 9694968, 607878273600)
    assert (t.open, t.high, t.low, t.ask1, t.bid1) == (62700, 63000, 62300, 62700, 62600)
    assert t.side is Side.BUY and t.change == 400 and t.change_rate == Decimal("0.64")
    assert t.session == "20" and t.halted is False
    assert t.raw["WGHN_AVRG_STCK_PRC"] == "62700.41"


def test_trade_from_portal_payload_falling():
    t = one("0|H0STCNT0|001|" + S.CNT_PORTAL_PAYLOAD)
    assert t.change == -100 and t.change_rate == Decimal("-0.14") and t.time.date() == date(2023, 6, 12)


def test_trade_47_fields_and_four_records():
    p = S.CNT_REAL.split("|", 3)[3] + "^2"
    out = decode("0|H0STCNT0|004|" + "^".join([p] * 4))
    assert [type(e) for e in out] == [Trade] * 4 and out[3].raw["MARKET_CLS_CODE"] == "2"


def test_trade_sides():
    base = S.CNT_REAL.split("^")
    for code, side in (("1", Side.BUY), ("5", Side.SELL), ("3", Side.AUCTION), ("", Side.UNKNOWN)):
        v = list(base)
        v[21] = code
        assert one("^".join(v)).side is side


def test_trade_without_bsop_date_uses_date_hint():
    v = S.CNT_REAL.split("^")
    v[33] = ""
    assert one("^".join(v), date_hint=D).time == datetime(2024, 5, 2, 11, 26, 16, tzinfo=KST)


@pytest.mark.parametrize("extra", ["", "^323750^0^0", "^323750^0^0^2"])
def test_krx_book(extra):
    b = one(S.ASP_REAL_1 + extra, date_hint=D)
    assert isinstance(b, OrderBook) and b.tr_id == "H0STASP0" and b.symbol == "005930"
    assert b.time == datetime(2024, 5, 2, 11, 30, 19, tzinfo=KST)
    assert len(b.asks) == 10 and len(b.bids) == 10
    assert b.asks[0] == BookLevel(77900, 265881) and b.asks[9] == BookLevel(78800, 63546)
    assert b.bids[0] == BookLevel(77800, 14941) and b.bids[9] == BookLevel(76900, 214927)
    assert (b.total_ask_size, b.total_bid_size, b.cum_volume) == (1760795, 1855978, 10358640)


def test_krx_book_without_date_hint_is_today_in_seoul():
    b = one(S.ASP_REAL_2)
    assert b.time.tzinfo == KST and b.time.date() == datetime.now(KST).date()


def test_krx_book_omits_zero_price_levels_and_empty_sizes():
    v = S.ASP_REAL_1.split("^")
    v[12] = "0"  # ASKP10
    v[22] = ""  # BIDP10 empty
    v[23] = "(null)"  # ASKP_RSQN1
    b = one("^".join(v), date_hint=D)
    assert len(b.asks) == 9 and len(b.bids) == 9 and b.asks[0].size == 0


def test_index_tick():
    t = one(S.UPCNT, date_hint=D)
    assert isinstance(t, IndexTick) and t.index_code == "0001"
    assert t.value == Decimal("2624.54") and t.change == Decimal("32.68") and t.change_rate == Decimal("1.26")
    assert t.time == datetime(2024, 5, 2, 9, 12, 40, tzinfo=KST)
    assert (t.advancers, t.unchanged, t.decliners, t.cum_volume) == (670, 72, 177, 63952)


def test_market_status_with_null_and_empty():
    m = one(S.MKO)
    assert isinstance(m, MarketStatus)
    assert m.symbol == "396300" and m.halted is False and m.halt_reason == "" and m.session_code == ""
    assert m.expected_session_code == "311" and m.stock_status == "55" and m.vi == "N"
    assert m.raw["TR_SUSP_REAS_CNTT"] == "(null)"


def test_execution_notice_legacy_23_fill_and_accept():
    fill = one(f"1|H0STCNI0|001|{encrypt(S.CNI_FILL_23, K)}", keys={"H0STCNI0": K}, date_hint=D)
    assert isinstance(fill, ExecutionNotice) and fill.tr_id == "H0STCNI0"
    assert fill.hts_id == "HTS ID" and fill.account == "1234567801" and fill.order_no == "0000002891"
    assert fill.original_order_no == "" and fill.symbol == "136480" and fill.side is Side.BUY
    assert fill.is_fill and not fill.rejected and fill.quantity == 1 and fill.price == 3190
    assert fill.time == datetime(2024, 5, 2, 9, 49, 41, tzinfo=KST)
    acc = one(f"1|H0STCNI9|001|{encrypt(S.CNI_ACCEPT_23, K)}", keys={"H0STCNI9": K}, date_hint=D)
    assert acc.tr_id == "H0STCNI9" and not acc.is_fill and acc.price == 0


def test_execution_notice_26_fields_sell():
    v = ["hts", "1234567801", "0000000007", "0000000003", "01", "0", "00", "0", "005930", "0000000005",
         "000071900", "100000", "1", "2", "2", "06010", "000000005", "김한투", "0", "2", "Y", "", "10", "",
         "삼성전자", "000071900"]
    n = one(f"1|H0STCNI0|001|{encrypt('^'.join(v), K)}", keys={"H0STCNI0": K}, date_hint=D)
    assert n.side is Side.SELL and n.rejected and n.quantity == 5 and n.price == 71900
    assert n.raw["ORD_EXG_GB"] == "2"


def overseas_trade_payload(rsym="DNASAAPL", sign="5", diff="1.25", rate="-0.66"):
    vals = {"RSYM": rsym, "SYMB": rsym[4:], "ZDIV": "4", "TYMD": "20240501", "XYMD": "20240501",
            "XHMS": "153001", "KYMD": "20240502", "KHMS": "043001", "OPEN": "187.1000", "HIGH": "189.5000",
            "LOW": "186.0000", "LAST": "188.2500", "SIGN": sign, "DIFF": diff, "RATE": rate,
            "PBID": "188.2400", "PASK": "188.2600", "VBID": "100", "VASK": "300", "EVOL": "12",
            "TVOL": "4500000", "TAMT": "845000000.50", "BIVL": "10", "ASVL": "2", "STRN": "101.2", "MTYP": "1"}
    return "^".join(vals[n] for n in HDFSCNT0)


def test_overseas_trade_two_records_and_zones():
    p1 = overseas_trade_payload()
    p2 = overseas_trade_payload("DHKS00700", sign="2", diff="0.4", rate="+0.11")
    out = decode(f"0|HDFSCNT0|002|{p1}^{p2}")
    a, b = out
    assert isinstance(a, OverseasTrade) and a.rsym == "DNASAAPL" and a.symbol == "AAPL"
    assert a.time == datetime(2024, 5, 1, 15, 30, 1, tzinfo=ZoneInfo("America/New_York"))
    assert a.price == Decimal("188.2500") and a.size == 12 and a.cum_value == Decimal("845000000.50")
    assert a.change == Decimal("-1.25") and a.change_rate == Decimal("-0.66") and a.session == "1"
    assert b.time.tzinfo == ZoneInfo("Asia/Hong_Kong") and b.change_rate == Decimal("0.11")


@pytest.mark.parametrize("code,zone", [("NYS", "America/New_York"), ("AMS", "America/New_York"),
                                       ("TSE", "Asia/Tokyo"), ("SHS", "Asia/Shanghai"), ("SZS", "Asia/Shanghai"),
                                       ("HNX", "Asia/Ho_Chi_Minh"), ("HSX", "Asia/Ho_Chi_Minh")])
def test_overseas_venue_zones(code, zone):
    t = one("0|HDFSCNT0|001|" + overseas_trade_payload(f"D{code}XYZ"))
    assert t.time.tzinfo == ZoneInfo(zone) and t.time.hour == 15


def test_overseas_unknown_venue_falls_back_to_korean_time():
    t = one("0|HDFSCNT0|001|" + overseas_trade_payload("DXXXABC"))
    assert t.time == datetime(2024, 5, 2, 4, 30, 1, tzinfo=KST)


def book_payload(layout, levels, rsym="DNASAAPL"):
    vals = {"RSYM": rsym, "SYMB": "AAPL", "ZDIV": "4", "XYMD": "20240501", "XHMS": "100000",
            "KYMD": "20240501", "KHMS": "230000", "BVOL": "5000", "AVOL": "6000", "BDVL": "1", "ADVL": "-1"}
    for i in range(1, levels + 1):
        vals |= {f"PBID{i}": f"{188 - i / 100:.4f}", f"PASK{i}": f"{188 + i / 100:.4f}", f"VBID{i}": str(i),
                 f"VASK{i}": str(10 * i), f"DBID{i}": "0", f"DASK{i}": "0"}
    return "^".join(vals[n] for n in layout)


def test_us_book_10_levels():
    b = one("0|HDFSASP0|001|" + book_payload(HDFSASP0, 10))
    assert isinstance(b, OrderBook) and b.tr_id == "HDFSASP0" and b.symbol == "AAPL" and b.cum_volume is None
    assert len(b.bids) == 10 and len(b.asks) == 10
    assert b.bids[0] == BookLevel(Decimal("187.9900"), 1) and b.asks[9] == BookLevel(Decimal("188.1000"), 100)
    assert (b.total_bid_size, b.total_ask_size) == (5000, 6000)
    assert b.time == datetime(2024, 5, 1, 10, 0, tzinfo=ZoneInfo("America/New_York"))


def test_asia_book_1_level():
    b = one("0|HDFSASP1|001|" + book_payload(HDFSASP1, 1, rsym="DHKS00700"))
    assert b.tr_id == "HDFSASP1" and len(b.bids) == 1 and len(b.asks) == 1
    assert b.time.tzinfo == ZoneInfo("Asia/Hong_Kong")


def test_bad_numbers_give_bad_field():
    v = S.CNT_REAL.split("^")
    v[2] = "62,700"
    e = one("^".join(v))
    assert isinstance(e, DecodeError) and e.kind is DecodeErrorKind.BAD_FIELD and e.tr_id == "H0STCNT0"
    v[2] = "NaN"
    assert one("^".join(v)).kind is DecodeErrorKind.BAD_FIELD
    u = S.UPCNT.split("^")
    u[2] = "Infinity"
    assert one("^".join(u)).kind is DecodeErrorKind.BAD_FIELD


def test_bad_time_gives_bad_field():
    v = S.CNT_REAL.split("^")
    v[1] = "256161"
    assert one("^".join(v)).kind is DecodeErrorKind.BAD_FIELD
    v[1] = ""
    assert one("^".join(v)).kind is DecodeErrorKind.BAD_FIELD


def test_unknown_tr_normalizes_to_unknown_tr_error():
    e = one(S.PGM)
    assert isinstance(e, DecodeError) and e.kind is DecodeErrorKind.UNKNOWN_TR


def test_decode_passes_control_and_errors_through():
    assert decode(S.PINGPONG_1).datetime == "20231004160455"
    assert decode(S.SUB_OK_WIRE).msg_cd == "OPSP0000"
    assert decode("junk").kind is DecodeErrorKind.GARBAGE


def test_to_event_on_record_directly():
    rec = parse_message(S.CNT_REAL).records[0]
    assert isinstance(to_event(rec), Trade)


def test_fast_constructed_events_equal_normally_constructed_ones():
    import dataclasses

    for raw in (S.CNT_REAL, S.ASP_REAL_1):
        ev = one(raw, date_hint=D)
        again = dataclasses.replace(ev)  # goes through the dataclass __init__
        assert again == ev and hash(again) == hash(ev) and again.raw is ev.raw
        with pytest.raises(dataclasses.FrozenInstanceError):
            ev.symbol = "x"
    frame = parse_message(S.CNT_REAL)
    assert dataclasses.replace(frame) == frame
