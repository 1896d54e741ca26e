"""KIS master-file parser on small kospi_code.mst / kosdaq_code.mst files written here.

The lines are composed from the official samples' width lists (copied below as plain numbers,
independent of the parser's own field table), encoded in cp949 like the real files."""
from __future__ import annotations

import pytest

from backbone import kis_master as K

KOSPI_W = [2, 1, 4, 4, 4, *[1] * 26, 9, 5, 5, 1, 1, 1, 2, 1, 1, 1, 2, 2, 2, 3, 1, 3, 12, 12, 8,
           15, 21, 2, 7, 1, 1, 1, 1, 1, 9, 9, 9, 5, 9, 8, 9, 3, 1, 1, 1]
KOSDAQ_W = [2, 1, 4, 4, 4, *[1] * 21, 9, 5, 5, 1, 1, 1, 2, 1, 1, 1, 2, 2, 2, 3, 1, 3, 12, 12, 8,
            15, 21, 2, 7, 1, 1, 1, 1, 9, 9, 9, 5, 9, 8, 9, 3, 1, 1, 1]
# index in the width list of: group, large, mid, small, base price, halted, listing date,
# listed shares, preferred, market cap
KOSPI_AT = dict(group=0, large=2, mid=3, small=4, base=31, halted=34, listed=49, shares=50,
                pref=54, cap=65)
KOSDAQ_AT = dict(group=0, large=2, mid=3, small=4, base=26, halted=29, listed=44, shares=45,
                 pref=49, cap=59)


def _line(widths, at, code, isin, name, **vals) -> str:
    cells = [" " * w for w in widths]
    for key, v in vals.items():
        i = at[key]
        s = str(v)
        cells[i] = (s.rjust(widths[i], "0") if s.isdigit() else s.ljust(widths[i]))[:widths[i]]
    return code.ljust(9) + isin.ljust(12) + name.ljust(40) + "".join(cells)


def test_sample_widths_sum_to_the_parser_tail():
    assert sum(KOSPI_W) == K.TAIL_WIDTH["KOSPI"] == 227
    assert sum(KOSDAQ_W) == K.TAIL_WIDTH["KOSDAQ"] == 221


def test_parse_kospi_and_kosdaq_files(tmp_path):
    kospi = tmp_path / "kospi_code.mst"
    lines = [
        _line(KOSPI_W, KOSPI_AT, "005930", "KR7005930003", "삼성전자", group="ST", large="0027",
              mid="0013", small="0000", base=72000, halted="N", listed="19750611",
              shares=5969782550, pref=0, cap=4298243),
        _line(KOSPI_W, KOSPI_AT, "005935", "KR7005931001", "삼성전자우", group="ST", large="0027",
              mid="0013", base=60000, halted="Y", shares=822886700, pref=1, cap=493732),
        "garbage line",
    ]
    kospi.write_bytes(("\n".join(lines) + "\n").encode("cp949"))
    errors = []
    recs = K.parse_master_file(kospi, sector_names={"0013": "전기전자"}, errors=errors)
    assert len(recs) == 2 and len(errors) == 1 and errors[0][0] == 3
    s = recs[0]
    assert (s.code, s.standard_code, s.name, s.market, s.group_code) == \
        ("005930", "KR7005930003", "삼성전자", "KOSPI", "ST")
    assert (s.industry_large, s.industry_mid, s.sector) == ("0027", "0013", "전기전자")
    assert (s.base_price, s.listed_shares, s.market_cap, s.listing_date) == \
        (72000, 5969782550, 4298243, "19750611")
    assert not s.halted and not s.preferred
    assert recs[1].halted and recs[1].preferred

    kosdaq = tmp_path / "kosdaq_code.mst"
    kosdaq.write_bytes((_line(KOSDAQ_W, KOSDAQ_AT, "247540", "KR7247540008", "에코프로비엠",
                              group="ST", large="1012", mid="0000", base=175000, shares=97800,
                              cap=171150) + "\r\n").encode("cp949"))
    (r,) = K.parse_master_file(kosdaq)
    assert (r.code, r.name, r.market, r.sector, r.base_price) == ("247540", "에코프로비엠", "KOSDAQ", "1012", 175000)
    assert r.listed_shares == 97_800_000  # the KOSDAQ file counts thousands


def test_records_feed_sector_groups(tmp_path):
    from backbone.sectors import members_by_sector

    p = tmp_path / "kospi_code.mst"
    p.write_bytes(_line(KOSPI_W, KOSPI_AT, "000660", "KR7000660001", "SK하이닉스", mid="0013",
                        shares=728002365).encode("cp949"))
    groups = members_by_sector(K.parse_master_file(p))
    assert [(m.symbol, m.listed_shares) for m in groups["0013"]] == [("000660", 728002365)]


def test_unknown_file_name_is_a_typed_error(tmp_path):
    with pytest.raises(K.MasterFormatError):
        K.market_of_path(tmp_path / "konex_code.mst")
    with pytest.raises(K.MasterFormatError):
        K.parse_line("short", "KOSPI")
