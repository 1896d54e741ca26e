"""Typed, normalized events decoded from KIS real-time records.

Exact numbers: KRX prices, sizes and values are `int` (won and shares are integral); ratios and
overseas prices are `Decimal`. Exchange timestamps are timezone-aware (Asia/Seoul for KRX, the
venue's own zone for overseas). Every event keeps the record's raw values by KIS column name in
`raw`, so nothing KIS sent is lost by normalization.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Mapping
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")


class _EmptyMapping(Mapping[str, str]):
    """Immutable, hashable empty mapping: a dataclass default may not be a (mutable) dict."""

    def __getitem__(self, key: str) -> str:
        raise KeyError(key)

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0


EMPTY: Mapping[str, str] = _EmptyMapping()


class Side(str, enum.Enum):
    """Aggressor side of a print (H0STCNT0 CCLD_DVSN: 1 buy, 5 sell, 3 pre-open auction)."""

    BUY = "buy"
    SELL = "sell"
    AUCTION = "auction"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Trade:
    """One KRX execution (H0STCNT0)."""

    symbol: str
    time: datetime  # exchange time, aware, Asia/Seoul (BSOP_DATE + STCK_CNTG_HOUR)
    price: int
    size: int  # CNTG_VOL
    side: Side  # CCLD_DVSN
    cum_volume: int  # ACML_VOL
    cum_value: int  # ACML_TR_PBMN
    open: int
    high: int
    low: int
    change: int  # PRDY_VRSS, signed
    change_rate: Decimal  # PRDY_CTRT, percent
    ask1: int
    bid1: int
    session: str  # NEW_MKOP_CLS_CODE (e.g. "20" = regular session, normal)
    halted: bool  # TRHT_YN == "Y"
    raw: Mapping[str, str] = field(default=EMPTY, compare=False, repr=False)

    tr_id = "H0STCNT0"


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: int | Decimal
    size: int


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A full order-book snapshot: KRX 10 levels (H0STASP0), US 10 (HDFSASP0), Asia 1 (HDFSASP1).

    Levels are best first; a level KIS sends as price 0 (no order) is omitted.
    """

    symbol: str
    time: datetime
    asks: tuple[BookLevel, ...]
    bids: tuple[BookLevel, ...]
    total_ask_size: int
    total_bid_size: int
    cum_volume: int | None  # ACML_VOL (KRX only)
    tr_id: str = "H0STASP0"
    raw: Mapping[str, str] = field(default=EMPTY, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ExecutionNotice:
    """Order acceptance / execution notice (H0STCNI0 / H0STCNI9, decrypted)."""

    tr_id: str
    hts_id: str  # CUST_ID
    account: str  # ACNT_NO
    order_no: str
    original_order_no: str
    symbol: str
    side: Side  # SELN_BYOV_CLS 01 sell / 02 buy
    is_fill: bool  # CNTG_YN == "2"
    rejected: bool  # RFUS_YN == "1"
    quantity: int  # CNTG_QTY (fill qty, or order qty for an acceptance)
    price: int  # CNTG_UNPR
    time: datetime
    raw: Mapping[str, str] = field(default=EMPTY, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class OverseasTrade:
    """Overseas (delayed) trade (HDFSCNT0); times in the venue's zone."""

    rsym: str  # e.g. DNASAAPL
    symbol: str  # SYMB
    time: datetime  # XYMD + XHMS, venue-local
    price: Decimal  # LAST
    size: int  # EVOL
    cum_volume: int  # TVOL
    cum_value: Decimal  # TAMT
    open: Decimal
    high: Decimal
    low: Decimal
    change: Decimal
    change_rate: Decimal
    bid: Decimal
    ask: Decimal
    session: str  # MTYP 1 regular, 2 pre, 3 after
    raw: Mapping[str, str] = field(default=EMPTY, compare=False, repr=False)

    tr_id = "HDFSCNT0"


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """Market operation info (H0STMKO0): halts, VI, session codes."""

    symbol: str
    halted: bool
    halt_reason: str
    session_code: str  # MKOP_CLS_CODE
    expected_session_code: str
    vi: str  # VI_CLS_CODE
    stock_status: str  # ISCD_STAT_CLS_CODE
    raw: Mapping[str, str] = field(default=EMPTY, compare=False, repr=False)

    tr_id = "H0STMKO0"


@dataclass(frozen=True, slots=True)
class IndexTick:
    """Index tick (H0UPCNT0), e.g. 0001 KOSPI."""

    index_code: str
    time: datetime
    value: Decimal
    change: Decimal
    change_rate: Decimal
    cum_volume: int
    cum_value: int
    advancers: int
    decliners: int
    unchanged: int
    raw: Mapping[str, str] = field(default=EMPTY, compare=False, repr=False)

    tr_id = "H0UPCNT0"


Event = Trade | OrderBook | ExecutionNotice | OverseasTrade | MarketStatus | IndexTick
