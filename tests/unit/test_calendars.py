"""Calendars: KRX holidays, late opens (first trading day, 수능), bucket grids, XNYS."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backbone.calendars import (InvalidIntervalError, InvalidSymbolError, calendar_for,
                                exchange_for)
from backbone.kis.events import KST
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def krx():
    return calendar_for("005930")


@pytest.fixture(scope="module")
def nyse():
    return calendar_for("AAPL")


def kst(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=KST)


def test_symbol_routing_and_cache():
    assert exchange_for("005930") == "XKRX" and exchange_for("0000J0") == "XKRX"
    assert exchange_for("AAPL") == "XNYS" and exchange_for("brk.b") == "XNYS"
    for bad in ("", "12345", "00593O0", "A1B2"):
        with pytest.raises(InvalidSymbolError):
            exchange_for(bad)
    assert calendar_for("005930") is calendar_for("000660")


@pytest.mark.parametrize("day", [date(2025, 1, 2), date(2026, 1, 2)])
def test_first_trading_day_of_year_opens_at_ten(krx, day):
    s = krx.session_on(day)
    assert (s.open.time().hour, s.close.time().hour, s.close.time().minute) == (10, 15, 30)
    assert s.open.tzinfo == KST


@pytest.mark.parametrize("day", [date(2024, 11, 14), date(2025, 11, 13), date(2026, 11, 19)])
def test_csat_day_opens_ten_closes_sixteen_thirty(krx, day):
    s = krx.session_on(day)
    assert s.open == datetime.combine(day, datetime.min.time(), KST).replace(hour=10)
    assert s.close == datetime.combine(day, datetime.min.time(), KST).replace(hour=16, minute=30)
    buckets = krx.bucket_starts("1m", day, day + timedelta(days=1))
    assert len(buckets) == 390 and buckets[0].hour == 10 and (buckets[-1].hour, buckets[-1].minute) == (16, 29)
    assert not krx.is_open(kst(day.year, day.month, day.day, 9, 30))
    assert krx.is_open(kst(day.year, day.month, day.day, 16, 0))


@pytest.mark.parametrize("day", [
    date(2026, 1, 1), date(2026, 2, 17), date(2026, 3, 2), date(2026, 5, 1), date(2026, 5, 5),
    date(2026, 5, 25), date(2026, 6, 3), date(2026, 9, 25), date(2026, 10, 5), date(2026, 10, 9),
    date(2026, 12, 25), date(2026, 12, 31), date(2026, 11, 21), date(2026, 11, 22)])
def test_holidays_and_weekends_have_no_session(krx, day):
    assert krx.session_on(day) is None
    assert krx.bucket_starts("1m", day, day + timedelta(days=1)) == []
    assert krx.bucket_starts("1d", day, day + timedelta(days=1)) == []


def test_regular_day_grids(krx):
    d0, d1 = date(2026, 11, 20), date(2026, 11, 21)
    m1 = krx.bucket_starts("1m", d0, d1)
    assert len(m1) == 390 and m1[0] == kst(2026, 11, 20, 9) and m1[-1] == kst(2026, 11, 20, 15, 29)
    assert all(t.tzinfo == KST for t in m1)
    assert len(krx.bucket_starts("5m", d0, d1)) == 78
    assert len(krx.bucket_starts("15m", d0, d1)) == 26
    assert [t.hour for t in krx.bucket_starts("1h", d0, d1)] == [9, 10, 11, 12, 13, 14, 15]
    assert krx.bucket_starts("1d", d0, d1) == [kst(2026, 11, 20)]
    # [start, end) with datetimes
    assert krx.bucket_starts("1m", kst(2026, 11, 20, 15, 28), kst(2026, 11, 20, 18)) == \
        [kst(2026, 11, 20, 15, 28), kst(2026, 11, 20, 15, 29)]
    with pytest.raises(InvalidIntervalError):
        krx.bucket_starts("2m", d0, d1)


def test_is_open_boundaries_and_sessions(krx):
    assert krx.is_open(kst(2026, 11, 20, 9))
    assert not krx.is_open(kst(2026, 11, 20, 8, 59))
    assert not krx.is_open(kst(2026, 11, 20, 15, 30))
    assert not krx.is_open(kst(2026, 11, 21, 10))
    week = krx.sessions(date(2026, 11, 16), date(2026, 11, 22))
    assert [s.date.day for s in week] == [16, 17, 18, 19, 20]
    assert krx.sessions(kst(2026, 11, 16, 23), kst(2026, 11, 17, 1))[0].date == date(2026, 11, 16)


def test_one_daily_bucket_per_session_over_a_year(krx):
    days = krx.bucket_starts("1d", date(2026, 1, 1), date(2027, 1, 1))
    assert len(days) == len(krx.sessions(date(2026, 1, 1), date(2026, 12, 31)))
    assert all(t.hour == 0 and t.minute == 0 and t.tzinfo == KST for t in days)
    assert kst(2026, 6, 3) not in days and kst(2026, 11, 19) in days


def test_nyse_sessions_in_new_york_time(nyse):
    assert nyse.session_on(date(2026, 11, 26)) is None  # Thanksgiving
    half = nyse.session_on(date(2026, 11, 27))
    assert half.close == datetime(2026, 11, 27, 13, 0, tzinfo=NY)
    m1 = nyse.bucket_starts("1m", date(2026, 3, 9), date(2026, 3, 10))  # day after DST start
    assert len(m1) == 390 and m1[0] == datetime(2026, 3, 9, 9, 30, tzinfo=NY)
    assert [t.hour for t in nyse.bucket_starts("1h", date(2026, 11, 20), date(2026, 11, 21))] == \
        [9, 10, 11, 12, 13, 14, 15]


def test_latest_session(krx):
    assert krx.latest_session(kst(2026, 11, 22, 12)).date == date(2026, 11, 20)  # Sunday -> Friday
    assert krx.latest_session(kst(2026, 11, 23, 8, 59)).date == date(2026, 11, 20)
    assert krx.latest_session(kst(2026, 11, 23, 9, 0)).date == date(2026, 11, 23)
    assert krx.latest_session(kst(2000, 1, 1)) is None
