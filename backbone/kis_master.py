"""Parser for KIS's stock master files kospi_code.mst and kosdaq_code.mst (fixed width, cp949).

Layout as in KIS's official samples (open-trading-api, stocks_info/kis_kospi_code_mst.py and
kis_kosdaq_code_mst.py): each line is a variable-length head and a fixed-width tail of 227
(KOSPI) or 221 (KOSDAQ) characters, counted on the cp949-decoded text without the newline.
Head: short code (9, right-padded), standard code (12), Korean name (the rest, stripped).
The tail widths are listed below in file order; only the fields named in `MasterRecord` are
kept. The samples label KOSDAQ's listed shares "(천)", i.e. thousands; KOSPI's carries no unit
and is taken as shares.

The files carry industry *codes* (지수업종 대/중/소분류), not names: the sector of a record is
the mid-class code (else the large-class code), renamed through `sector_names` when given.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Mapping

from .symbols import KOSDAQ, KOSPI

# (name, width) of the tail, in file order; "_" = a field we do not keep.
_KOSPI_TAIL = [
    ("group_code", 2), ("cap_size", 1), ("industry_large", 4), ("industry_mid", 4),
    ("industry_small", 4), *[("_", 1)] * 26, ("base_price", 9), ("_", 5), ("_", 5),
    ("halted", 1), ("liquidation", 1), ("administrative", 1), ("_", 2), ("_", 1), ("_", 1),
    ("_", 1), ("_", 2), ("_", 2), ("_", 2), ("_", 3), ("_", 1), ("_", 3), ("_", 12),
    ("_", 12), ("listing_date", 8), ("listed_shares", 15), ("_", 21), ("_", 2), ("_", 7),
    ("preferred", 1), ("_", 1), ("_", 1), ("_", 1), ("_", 1), ("_", 9), ("_", 9), ("_", 9),
    ("_", 5), ("_", 9), ("_", 8), ("market_cap", 9), ("_", 3), ("_", 1), ("_", 1), ("_", 1),
]
_KOSDAQ_TAIL = [
    ("group_code", 2), ("cap_size", 1), ("industry_large", 4), ("industry_mid", 4),
    ("industry_small", 4), *[("_", 1)] * 21, ("base_price", 9), ("_", 5), ("_", 5),
    ("halted", 1), ("liquidation", 1), ("administrative", 1), ("_", 2), ("_", 1), ("_", 1),
    ("_", 1), ("_", 2), ("_", 2), ("_", 2), ("_", 3), ("_", 1), ("_", 3), ("_", 12),
    ("_", 12), ("listing_date", 8), ("listed_shares", 15), ("_", 21), ("_", 2), ("_", 7),
    ("preferred", 1), ("_", 1), ("_", 1), ("_", 1), ("_", 9), ("_", 9), ("_", 9), ("_", 5),
    ("_", 9), ("_", 8), ("market_cap", 9), ("_", 3), ("_", 1), ("_", 1), ("_", 1),
]
TAIL_WIDTH = {KOSPI: sum(w for _, w in _KOSPI_TAIL), KOSDAQ: sum(w for _, w in _KOSDAQ_TAIL)}
SHARES_UNIT = {KOSPI: 1, KOSDAQ: 1000}
_HEAD_MIN = 9 + 12 + 1


class MasterFormatError(ValueError):
    """A master file or line that does not have the expected fixed-width layout."""


@dataclass(frozen=True, slots=True)
class MasterRecord:
    code: str  # short code, e.g. 005930
    standard_code: str  # ISIN, e.g. KR7005930003
    name: str
    market: str  # KOSPI | KOSDAQ
    group_code: str  # ST stock, EF ETF, RT REIT, ...
    industry_large: str
    industry_mid: str
    industry_small: str
    sector: str
    base_price: int
    listed_shares: int
    market_cap: int  # 억원 (100 million won), as in the file
    listing_date: str  # YYYYMMDD
    halted: bool
    preferred: bool


def _offsets(spec):
    out, pos = {}, 0
    for name, w in spec:
        if name != "_":
            out[name] = (pos, pos + w)
        pos += w
    return out


_OFFSETS = {KOSPI: _offsets(_KOSPI_TAIL), KOSDAQ: _offsets(_KOSDAQ_TAIL)}


def _int(s: str) -> int:
    s = s.strip()
    return int(s) if s.isdigit() else 0


def parse_line(line: str, market: str, sector_names: Mapping[str, str] | None = None) -> MasterRecord:
    if market not in TAIL_WIDTH:
        raise MasterFormatError(f"unknown market {market!r}")
    line = line.rstrip("\r\n")
    width = TAIL_WIDTH[market]
    if len(line) < width + _HEAD_MIN:
        raise MasterFormatError(f"line of {len(line)} characters, expected at least {width + _HEAD_MIN}")
    head, tail = line[:-width], line[-width:]
    code = head[0:9].strip()
    if not code:
        raise MasterFormatError("empty short code")
    f = {k: tail[a:b] for k, (a, b) in _OFFSETS[market].items()}
    mid, large = f["industry_mid"].strip(), f["industry_large"].strip()
    sector_code = mid if _int(mid) else large
    names = sector_names or {}
    return MasterRecord(
        code=code, standard_code=head[9:21].strip(), name=head[21:].strip(), market=market,
        group_code=f["group_code"].strip(), industry_large=large, industry_mid=mid,
        industry_small=f["industry_small"].strip(),
        sector=names.get(sector_code, sector_code or "기타"),
        base_price=_int(f["base_price"]),
        listed_shares=_int(f["listed_shares"]) * SHARES_UNIT[market],
        market_cap=_int(f["market_cap"]), listing_date=f["listing_date"].strip(),
        halted=f["halted"].strip() == "Y", preferred=f["preferred"].strip() not in ("", "0"))


def parse_lines(lines: Iterable[str], market: str, sector_names: Mapping[str, str] | None = None,
                errors: list | None = None) -> list[MasterRecord]:
    """Parse every line; malformed lines are skipped and, when `errors` is given, appended to
    it as (line number, MasterFormatError)."""
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(parse_line(line, market, sector_names))
        except MasterFormatError as e:
            if errors is not None:
                errors.append((n, e))
    return out


def market_of_path(path: str | os.PathLike) -> str:
    name = os.path.basename(str(path)).lower()
    if name.startswith("kospi"):
        return KOSPI
    if name.startswith("kosdaq"):
        return KOSDAQ
    raise MasterFormatError(f"cannot tell the market from {name!r} (kospi_code.mst / kosdaq_code.mst)")


def parse_master_file(path: str | os.PathLike, market: str | None = None,
                      sector_names: Mapping[str, str] | None = None,
                      errors: list | None = None) -> list[MasterRecord]:
    market = market or market_of_path(path)
    with open(path, encoding="cp949", errors="replace", newline="") as fh:
        return parse_lines(fh, market, sector_names, errors)
