"""The symbol universe: the default symbol master (pure data, no I/O).

KRX symbols use their real 6-digit codes. Overseas symbols are keyed by the KIS real-time symbol
(`D` + exchange + ticker, e.g. DNASAAPL) since that is the tr_key of HDFSCNT0/HDFSASP0/HDFSASP1.
Reference prices and listed shares are plausible round figures (not live data); they seed the
simulator's random walks and give value weights to sector and index aggregates.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Mapping

KOSPI, KOSDAQ = "KOSPI", "KOSDAQ"
NASDAQ, NYSE, HKEX = "NASDAQ", "NYSE", "HKEX"
DOMESTIC_MARKETS = frozenset({KOSPI, KOSDAQ})
# Exchange calendar name (exchange_calendars) and time zone per market.
MARKET_CALENDAR = {KOSPI: "XKRX", KOSDAQ: "XKRX", NASDAQ: "XNYS", NYSE: "XNYS", HKEX: "XHKG"}
MARKET_TZ = {KOSPI: "Asia/Seoul", KOSDAQ: "Asia/Seoul", NASDAQ: "America/New_York",
             NYSE: "America/New_York", HKEX: "Asia/Hong_Kong"}


@dataclass(frozen=True, slots=True)
class Symbol:
    code: str  # KRX 6-digit code, or KIS real-time symbol for overseas (DNASAAPL)
    name: str  # Korean name (KRX) or English name (overseas)
    market: str
    sector: str
    ref_price: Decimal  # plausible reference price (won for KRX, local currency overseas)
    listed_shares: int
    ticker: str = ""  # overseas ticker (AAPL); equals code for KRX

    @property
    def is_domestic(self) -> bool:
        return self.market in DOMESTIC_MARKETS

    @property
    def timezone(self) -> str:
        return MARKET_TZ[self.market]

    @property
    def calendar(self) -> str:
        return MARKET_CALENDAR[self.market]


def _krx(code: str, name: str, market: str, sector: str, price: int, shares: int) -> Symbol:
    return Symbol(code, name, market, sector, Decimal(price), shares, code)


_DOMESTIC = (
    _krx("005930", "삼성전자", KOSPI, "반도체", 72000, 5_969_782_550),
    _krx("000660", "SK하이닉스", KOSPI, "반도체", 185000, 728_002_365),
    _krx("373220", "LG에너지솔루션", KOSPI, "2차전지", 380000, 234_000_000),
    _krx("207940", "삼성바이오로직스", KOSPI, "바이오", 980000, 71_174_000),
    _krx("005380", "현대차", KOSPI, "자동차", 215000, 209_416_191),
    _krx("000270", "기아", KOSPI, "자동차", 98000, 397_672_632),
    _krx("068270", "셀트리온", KOSPI, "바이오", 178000, 216_000_000),
    _krx("005490", "POSCO홀딩스", KOSPI, "철강", 310000, 84_571_230),
    _krx("035420", "NAVER", KOSPI, "인터넷", 195000, 158_437_008),
    _krx("035720", "카카오", KOSPI, "인터넷", 42000, 442_000_000),
    _krx("051910", "LG화학", KOSPI, "화학", 290000, 70_592_343),
    _krx("006400", "삼성SDI", KOSPI, "2차전지", 270000, 68_764_530),
    _krx("105560", "KB금융", KOSPI, "금융", 88000, 393_000_000),
    _krx("055550", "신한지주", KOSPI, "금융", 54000, 509_000_000),
    _krx("086790", "하나금융지주", KOSPI, "금융", 63000, 284_000_000),
    _krx("316140", "우리금융지주", KOSPI, "금융", 16500, 742_000_000),
    _krx("012330", "현대모비스", KOSPI, "자동차", 245000, 92_000_000),
    _krx("028260", "삼성물산", KOSPI, "지주", 135000, 170_000_000),
    _krx("066570", "LG전자", KOSPI, "전자", 92000, 163_647_814),
    _krx("003550", "LG", KOSPI, "지주", 78000, 157_000_000),
    _krx("032830", "삼성생명", KOSPI, "보험", 92000, 200_000_000),
    _krx("000810", "삼성화재", KOSPI, "보험", 365000, 47_000_000),
    _krx("017670", "SK텔레콤", KOSPI, "통신", 56000, 215_000_000),
    _krx("030200", "KT", KOSPI, "통신", 45000, 250_000_000),
    _krx("015760", "한국전력", KOSPI, "유틸리티", 24000, 641_964_077),
    _krx("034730", "SK", KOSPI, "지주", 160000, 72_000_000),
    _krx("096770", "SK이노베이션", KOSPI, "에너지", 115000, 150_000_000),
    _krx("010130", "고려아연", KOSPI, "비철금속", 820000, 20_000_000),
    _krx("011200", "HMM", KOSPI, "해운", 18500, 1_025_000_000),
    _krx("009150", "삼성전기", KOSPI, "전자부품", 135000, 74_693_696),
    _krx("018260", "삼성에스디에스", KOSPI, "IT서비스", 150000, 77_377_800),
    _krx("012450", "한화에어로스페이스", KOSPI, "방산", 420000, 51_000_000),
    _krx("329180", "HD현대중공업", KOSPI, "조선", 280000, 88_773_116),
    _krx("009540", "HD한국조선해양", KOSPI, "조선", 190000, 70_773_116),
    _krx("042660", "한화오션", KOSPI, "조선", 38000, 306_000_000),
    _krx("034020", "두산에너빌리티", KOSPI, "기계", 21000, 640_000_000),
    _krx("010950", "S-Oil", KOSPI, "에너지", 62000, 112_000_000),
    _krx("033780", "KT&G", KOSPI, "필수소비재", 98000, 120_000_000),
    _krx("003670", "포스코퓨처엠", KOSPI, "2차전지", 210000, 77_000_000),
    _krx("086280", "현대글로비스", KOSPI, "물류", 118000, 75_000_000),
    _krx("259960", "크래프톤", KOSPI, "게임", 320000, 48_000_000),
    _krx("036570", "엔씨소프트", KOSPI, "게임", 195000, 21_000_000),
    _krx("251270", "넷마블", KOSPI, "게임", 52000, 86_000_000),
    _krx("323410", "카카오뱅크", KOSPI, "금융", 23000, 477_000_000),
    _krx("352820", "하이브", KOSPI, "엔터", 210000, 41_600_000),
    _krx("247540", "에코프로비엠", KOSDAQ, "2차전지", 175000, 97_800_000),
    _krx("086520", "에코프로", KOSDAQ, "2차전지", 92000, 133_000_000),
    _krx("196170", "알테오젠", KOSDAQ, "바이오", 340000, 53_000_000),
    _krx("028300", "HLB", KOSDAQ, "바이오", 78000, 131_000_000),
    _krx("293490", "카카오게임즈", KOSDAQ, "게임", 19000, 82_000_000),
    _krx("263750", "펄어비스", KOSDAQ, "게임", 38000, 64_000_000),
    _krx("035900", "JYP Ent.", KOSDAQ, "엔터", 62000, 35_500_000),
    _krx("041510", "에스엠", KOSDAQ, "엔터", 85000, 23_800_000),
    _krx("022100", "포스코DX", KOSDAQ, "IT서비스", 27000, 152_000_000),
    _krx("058470", "리노공업", KOSDAQ, "반도체", 215000, 15_240_000),
    _krx("240810", "원익IPS", KOSDAQ, "반도체", 31000, 49_000_000),
    _krx("039030", "이오테크닉스", KOSDAQ, "반도체", 165000, 12_300_000),
    _krx("145020", "휴젤", KOSDAQ, "바이오", 260000, 12_000_000),
    _krx("214150", "클래시스", KOSDAQ, "의료기기", 52000, 65_000_000),
)

_OVERSEAS = (
    Symbol("DNASAAPL", "Apple", NASDAQ, "Technology", Decimal("228.50"), 15_100_000_000, "AAPL"),
    Symbol("DNASNVDA", "NVIDIA", NASDAQ, "Semiconductors", Decimal("142.30"), 24_500_000_000, "NVDA"),
    Symbol("DNASMSFT", "Microsoft", NASDAQ, "Technology", Decimal("415.20"), 7_430_000_000, "MSFT"),
    Symbol("DNYSKO", "Coca-Cola", NYSE, "Consumer Staples", Decimal("63.40"), 4_310_000_000, "KO"),
    Symbol("DHKS00700", "Tencent", HKEX, "Internet", Decimal("412.60"), 9_200_000_000, "00700"),
)

SYMBOLS: Mapping[str, Symbol] = MappingProxyType({s.code: s for s in _DOMESTIC + _OVERSEAS})
DOMESTIC: tuple[Symbol, ...] = _DOMESTIC
OVERSEAS: tuple[Symbol, ...] = _OVERSEAS


@dataclass(frozen=True, slots=True)
class IndexDef:
    code: str  # H0UPCNT0 tr_key (업종코드)
    name: str
    base_value: Decimal  # plausible level at the previous close
    members: tuple[str, ...]


INDICES: Mapping[str, IndexDef] = MappingProxyType({
    "0001": IndexDef("0001", "코스피", Decimal("2600.00"), tuple(s.code for s in _DOMESTIC if s.market == KOSPI)),
    "1001": IndexDef("1001", "코스닥", Decimal("850.00"), tuple(s.code for s in _DOMESTIC if s.market == KOSDAQ)),
    # KOSPI 200 stand-in: the 30 largest KOSPI members by reference market value.
    "2001": IndexDef("2001", "코스피200", Decimal("350.00"), tuple(
        s.code for s in sorted((s for s in _DOMESTIC if s.market == KOSPI),
                               key=lambda s: s.ref_price * s.listed_shares, reverse=True)[:30])),
})


def get(code: str) -> Symbol | None:
    """Look a symbol up by code (005930), realtime symbol (DNASAAPL) or overseas ticker (AAPL)."""
    found = SYMBOLS.get(code)
    if found is not None:
        return found
    for s in _OVERSEAS:
        if s.ticker == code:
            return s
    return None


def by_sector(domestic_only: bool = True) -> dict[str, tuple[Symbol, ...]]:
    """Symbols grouped by sector label, in universe order."""
    out: dict[str, list[Symbol]] = {}
    for s in SYMBOLS.values():
        if domestic_only and not s.is_domestic:
            continue
        out.setdefault(s.sector, []).append(s)
    return {k: tuple(v) for k, v in out.items()}
