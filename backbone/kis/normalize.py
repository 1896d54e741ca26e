"""Record -> typed event (backbone.kis.events). Hot path: cheap conversions, no per-record dicts.

Conventions: "" and "(null)" mean "no value" (0 for numbers, "" for text). A number that is present
but not a number, or a missing/invalid exchange time, gives a `DecodeError(BAD_FIELD)`.
Signed changes: KRX sends PRDY_VRSS already signed; where a source sends an unsigned magnitude
with a falling sign code (4 하한 / 5 하락) the value is negated.
"""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Callable, Mapping
from zoneinfo import ZoneInfo

from . import layouts
from ._fast import fast_constructor as _fast
from .codec import Record, parse_message
from .control import PingPong, SubscribeReply
from .crypto import AesKey
from .errors import DecodeError, DecodeErrorKind
from .events import (
    KST, BookLevel, Event, ExecutionNotice, IndexTick, MarketStatus, OrderBook, OverseasTrade, Side, Trade,
)

_NULL = ("", "(null)")
_ZERO = Decimal(0)
_FALLING = ("4", "5")


class _Bad(Exception):
    """Internal: a field could not be converted (turned into DecodeError at the boundary)."""


def _int(s: str) -> int:
    try:
        return int(s)  # the common case first: try is free when nothing is raised
    except ValueError:
        if s in _NULL:
            return 0
        raise _Bad(s) from None


def _dec(s: str) -> Decimal:
    try:
        d = Decimal(s)
    except InvalidOperation:
        if s in _NULL:
            return _ZERO
        raise _Bad(s) from None
    if not d.is_finite():
        raise _Bad(s)
    return d


_Trade = _fast(Trade)
_OrderBook = _fast(OrderBook)
_BookLevel = _fast(BookLevel)
# Most levels repeat between consecutive snapshots: cache BookLevels by their raw strings
# (separately for int KRX prices and Decimal overseas prices).
_INT_LEVELS: dict[tuple[str, str], BookLevel] = {}
_DEC_LEVELS: dict[tuple[str, str], BookLevel] = {}


def _level(price: str, size: str, as_int: bool = True) -> BookLevel | None:
    """BookLevel from raw strings, None for an empty level (price 0 / "" / "(null)")."""
    cache = _INT_LEVELS if as_int else _DEC_LEVELS
    key = (price, size)
    lv = cache.get(key)
    if lv is None:
        p = _int(price) if as_int else _dec(price)
        if not p:
            return None
        lv = _BookLevel(p, _int(size))
        if len(cache) > 50_000:
            cache.clear()
        cache[key] = lv
    return lv


def _text(s: str) -> str:
    return "" if s == "(null)" else s


def _signed(value, sign: str):
    return -value if sign in _FALLING and value > 0 else value


@lru_cache(maxsize=8192)
def _at(ymd: str, hms: str, tz: ZoneInfo) -> datetime:
    """YYYYMMDD + HHMMSS in `tz` (cached: many prints share a second)."""
    if len(ymd) != 8 or len(hms) < 6 or not ymd.isdigit() or not hms[:6].isdigit():
        raise _Bad(f"{ymd} {hms}")
    try:
        return datetime(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]), int(hms[:2]), int(hms[2:4]),
                        int(hms[4:6]), tzinfo=tz)
    except ValueError:
        raise _Bad(f"{ymd} {hms}") from None


_today = ["", 0.0]  # YYYYMMDD in Seoul, epoch second when it stops being valid


def _kst_day(date_hint: date | None) -> str:
    if date_hint is not None:
        return f"{date_hint.year:04d}{date_hint.month:02d}{date_hint.day:02d}"
    now = time.time()
    if now >= _today[1]:  # recompute at most once per Seoul day
        d = datetime.fromtimestamp(now, KST)
        midnight = datetime(d.year, d.month, d.day, tzinfo=KST) + timedelta(days=1)
        _today[0], _today[1] = f"{d.year:04d}{d.month:02d}{d.day:02d}", midnight.timestamp()
    return _today[0]


_SIDE_TRADE = {"1": Side.BUY, "5": Side.SELL, "3": Side.AUCTION}
_SIDE_ORDER = {"01": Side.SELL, "02": Side.BUY}

# Venue time zone by the 3-letter exchange code inside RSYM (D/R + code + symbol).
VENUE_ZONES: dict[str, ZoneInfo] = {}
for _codes, _zone in (
    (("NAS", "NYS", "AMS", "BAQ", "BAY", "BAA"), "America/New_York"),
    (("HKS",), "Asia/Hong_Kong"),
    (("TSE",), "Asia/Tokyo"),
    (("SHS", "SZS", "SHI", "SZI"), "Asia/Shanghai"),
    (("HNX", "HSX"), "Asia/Ho_Chi_Minh"),
):
    for _c in _codes:
        VENUE_ZONES[_c] = ZoneInfo(_zone)


def _venue_time(r: Record) -> datetime:
    """Venue-local XYMD+XHMS; for an unknown venue fall back to the Korean KYMD+KHMS in KST."""
    v, ix = r.values, r.index
    zone = VENUE_ZONES.get(v[ix["RSYM"]][1:4])
    if zone is None:
        return _at(v[ix["KYMD"]], v[ix["KHMS"]], KST)
    return _at(v[ix["XYMD"]], v[ix["XHMS"]], zone)


# H0STCNT0 is the hottest TR: read it by position (every width shares the 46-column prefix, and the
# codec rejects shorter records). Checked against the shared layout at import.
_CNT_HEAD = ("MKSC_SHRN_ISCD", "STCK_CNTG_HOUR", "STCK_PRPR", "PRDY_VRSS_SIGN", "PRDY_VRSS", "PRDY_CTRT",
             "WGHN_AVRG_STCK_PRC", "STCK_OPRC", "STCK_HGPR", "STCK_LWPR", "ASKP1", "BIDP1", "CNTG_VOL",
             "ACML_VOL", "ACML_TR_PBMN")
_CNT_CCLD_DVSN, _CNT_BSOP_DATE, _CNT_MKOP, _CNT_TRHT = 21, 33, 34, 35
if (layouts.H0STCNT0[:15] != _CNT_HEAD or layouts.H0STCNT0[21] != "CCLD_DVSN"
        or layouts.H0STCNT0[33:36] != ("BSOP_DATE", "NEW_MKOP_CLS_CODE", "TRHT_YN")):
    raise ImportError("backbone.kis.layouts.H0STCNT0 changed: update normalize._trade positions")


def _trade(r: Record, date_hint: date | None) -> Trade:
    v = r.values
    sym, hour, prpr, sign, vrss, ctrt, _, oprc, hgpr, lwpr, ask1, bid1, cvol, avol, pbmn = v[:15]
    day = v[_CNT_BSOP_DATE]
    if day in _NULL:
        day = _kst_day(date_hint)
    return _Trade(
        symbol=sym,
        time=_at(day, hour, KST),
        price=_int(prpr),
        size=_int(cvol),
        side=_SIDE_TRADE.get(v[_CNT_CCLD_DVSN], Side.UNKNOWN),
        cum_volume=_int(avol),
        cum_value=_int(pbmn),
        open=_int(oprc),
        high=_int(hgpr),
        low=_int(lwpr),
        change=_signed(_int(vrss), sign),
        change_rate=_signed(_dec(ctrt), sign),
        ask1=_int(ask1),
        bid1=_int(bid1),
        session=_text(v[_CNT_MKOP]),
        halted=v[_CNT_TRHT] == "Y",
        raw=r.fields,
    )


# Positions are fixed by the layout prefix (H0STASP0: asks 3-12, bids 13-22, sizes 23-32 / 33-42).
_KRX_ASK = tuple((3 + i, 23 + i) for i in range(10))
_KRX_BID = tuple((13 + i, 33 + i) for i in range(10))


def _krx_levels(v: tuple[str, ...], pos: tuple[tuple[int, int], ...]) -> tuple[BookLevel, ...]:
    out = [_level(v[p], v[q]) for p, q in pos]
    return tuple(lv for lv in out if lv is not None)


def _krx_book(r: Record, date_hint: date | None) -> OrderBook:
    v, ix = r.values, r.index
    return _OrderBook(
        symbol=v[0],
        time=_at(_kst_day(date_hint), v[1], KST),
        asks=_krx_levels(v, _KRX_ASK),
        bids=_krx_levels(v, _KRX_BID),
        total_ask_size=_int(v[ix["TOTAL_ASKP_RSQN"]]),
        total_bid_size=_int(v[ix["TOTAL_BIDP_RSQN"]]),
        cum_volume=_int(v[ix["ACML_VOL"]]),
        tr_id="H0STASP0",
        raw=r.fields,
    )


def _overseas_book(r: Record, date_hint: date | None) -> OrderBook:
    v, ix = r.values, r.index
    asks, bids = [], []
    n = 1
    while f"PBID{n}" in ix and f"VASK{n}" in ix:
        base = ix[f"PBID{n}"]  # PBIDn, PASKn, VBIDn, VASKn, DBIDn, DASKn
        bid = _level(v[base], v[base + 2], as_int=False)
        if bid is not None:
            bids.append(bid)
        ask = _level(v[base + 1], v[base + 3], as_int=False)
        if ask is not None:
            asks.append(ask)
        n += 1
    return _OrderBook(
        symbol=v[ix["SYMB"]],
        time=_venue_time(r),
        asks=tuple(asks),
        bids=tuple(bids),
        total_ask_size=_int(v[ix["AVOL"]]),
        total_bid_size=_int(v[ix["BVOL"]]),
        cum_volume=None,
        tr_id=r.tr_id,
        raw=r.fields,
    )


def _notice(r: Record, date_hint: date | None) -> ExecutionNotice:
    g = r.get
    return ExecutionNotice(
        tr_id=r.tr_id,
        hts_id=_text(g("CUST_ID")),
        account=_text(g("ACNT_NO")),
        order_no=_text(g("ODER_NO")),
        original_order_no=_text(g("OODER_NO")),
        symbol=_text(g("STCK_SHRN_ISCD")),
        side=_SIDE_ORDER.get(g("SELN_BYOV_CLS"), Side.UNKNOWN),
        is_fill=g("CNTG_YN") == "2",
        rejected=g("RFUS_YN") == "1",
        quantity=_int(g("CNTG_QTY")),
        price=_int(g("CNTG_UNPR")),
        time=_at(_kst_day(date_hint), g("STCK_CNTG_HOUR"), KST),
        raw=r.fields,
    )


def _overseas_trade(r: Record, date_hint: date | None) -> OverseasTrade:
    v, ix = r.values, r.index
    sign = v[ix["SIGN"]]
    return OverseasTrade(
        rsym=v[ix["RSYM"]],
        symbol=v[ix["SYMB"]],
        time=_venue_time(r),
        price=_dec(v[ix["LAST"]]),
        size=_int(v[ix["EVOL"]]),
        cum_volume=_int(v[ix["TVOL"]]),
        cum_value=_dec(v[ix["TAMT"]]),
        open=_dec(v[ix["OPEN"]]),
        high=_dec(v[ix["HIGH"]]),
        low=_dec(v[ix["LOW"]]),
        change=_signed(_dec(v[ix["DIFF"]]), sign),
        change_rate=_signed(_dec(v[ix["RATE"]]), sign),
        bid=_dec(v[ix["PBID"]]),
        ask=_dec(v[ix["PASK"]]),
        session=_text(v[ix["MTYP"]]),
        raw=r.fields,
    )


def _market_status(r: Record, date_hint: date | None) -> MarketStatus:
    g = r.get
    return MarketStatus(
        symbol=_text(g("MKSC_SHRN_ISCD")),
        halted=g("TRHT_YN") == "Y",
        halt_reason=_text(g("TR_SUSP_REAS_CNTT")),
        session_code=_text(g("MKOP_CLS_CODE")),
        expected_session_code=_text(g("ANTC_MKOP_CLS_CODE")),
        vi=_text(g("VI_CLS_CODE")),
        stock_status=_text(g("ISCD_STAT_CLS_CODE")),
        raw=r.fields,
    )


def _index_tick(r: Record, date_hint: date | None) -> IndexTick:
    v, ix = r.values, r.index
    sign = v[ix["PRDY_VRSS_SIGN"]]
    return IndexTick(
        index_code=v[ix["BSTP_CLS_CODE"]],
        time=_at(_kst_day(date_hint), v[ix["BSOP_HOUR"]], KST),
        value=_dec(v[ix["PRPR_NMIX"]]),
        change=_signed(_dec(v[ix["BSTP_NMIX_PRDY_VRSS"]]), sign),
        change_rate=_signed(_dec(v[ix["PRDY_CTRT"]]), sign),
        cum_volume=_int(v[ix["ACML_VOL"]]),
        cum_value=_int(v[ix["ACML_TR_PBMN"]]),
        advancers=_int(v[ix["ASCN_ISSU_CNT"]]),
        decliners=_int(v[ix["DOWN_ISSU_CNT"]]),
        unchanged=_int(v[ix["STNR_ISSU_CNT"]]),
        raw=r.fields,
    )


NORMALIZERS: dict[str, Callable[[Record, date | None], Event]] = {
    "H0STCNT0": _trade,
    "H0STASP0": _krx_book,
    "H0STCNI0": _notice,
    "H0STCNI9": _notice,
    "HDFSCNT0": _overseas_trade,
    "HDFSASP0": _overseas_book,
    "HDFSASP1": _overseas_book,
    "H0STMKO0": _market_status,
    "H0UPCNT0": _index_tick,
}


def to_event(record: Record, *, date_hint: date | None = None) -> Event | DecodeError:
    """Normalize one record. Never raises. `date_hint` dates TRs without a date field (default: today KST)."""
    fn = NORMALIZERS.get(record.tr_id)
    if fn is None:
        return DecodeError(DecodeErrorKind.UNKNOWN_TR, f"no normalizer for {record.tr_id[:16]}", "", record.tr_id)
    try:
        return fn(record, date_hint)
    except _Bad as exc:
        return DecodeError(DecodeErrorKind.BAD_FIELD, f"{record.tr_id}: bad value {str(exc)[:24]!r}", "",
                           record.tr_id)
    except (KeyError, IndexError) as exc:
        return DecodeError(DecodeErrorKind.TRUNCATED, f"{record.tr_id}: missing column {str(exc)[:32]}", "",
                           record.tr_id)
    except Exception as exc:  # last resort: a decoder bug must not kill the caller's loop
        return DecodeError(DecodeErrorKind.BAD_FIELD, f"{record.tr_id}: {type(exc).__name__}", "", record.tr_id)


def decode(
    raw: str | bytes, keys: Mapping[str, AesKey] | None = None, date_hint: date | None = None
) -> list[Event | DecodeError] | PingPong | SubscribeReply | DecodeError:
    """parse_message + to_event for every record of a data frame."""
    msg = parse_message(raw, keys)
    if isinstance(msg, (PingPong, SubscribeReply, DecodeError)):
        return msg
    return [to_event(r, date_hint=date_hint) for r in msg.records]
