"""Zero-order-hold gap filling: only in sessions, never before the first close, every interval."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from backbone.calendars import InvalidIntervalError, calendar_for
from backbone.gapfill import fill_gaps
from backbone.kis.events import KST
from backbone.models import Candle


@pytest.fixture(scope="module")
def krx():
    return calendar_for("005930")


def kst(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=KST)


def c(t, close, interval="1m", vol=10):
    return Candle("005930", interval, t, close - 1, close + 1, close - 2, close, vol, close * vol, 1)


def day_1m(day: date, skip=()):
    start = datetime.combine(day, datetime.min.time(), KST).replace(hour=9)
    return [c(start + timedelta(minutes=i), 1000 + i) for i in range(390) if i not in skip]


def test_deleted_minutes_become_flat_line_at_previous_close(krx):
    day = date(2026, 11, 20)
    out = fill_gaps(day_1m(day, skip=range(100, 130)), "1m", day, day + timedelta(days=1), krx)
    assert len(out) == 390
    filled = [f for f in out if f.is_filled]
    assert len(filled) == 30
    assert all((f.candle.open, f.candle.high, f.candle.low, f.candle.close, f.candle.volume)
               == (1099, 1099, 1099, 1099, 0) for f in filled)
    assert filled[0].candle.time == kst(2026, 11, 20, 10, 40)
    d = filled[0].to_dict()
    assert d["time"] == "2026-11-20T10:40:00+09:00" and d["is_filled"] is True
    assert [f.candle.time for f in out] == sorted(f.candle.time for f in out)


def test_nothing_before_first_known_close_unless_seeded(krx):
    day = date(2026, 11, 20)
    rows = day_1m(day, skip=range(0, 5))
    out = fill_gaps(rows, "1m", day, day + timedelta(days=1), krx)
    assert out[0].candle.time == kst(2026, 11, 20, 9, 5) and not out[0].is_filled
    seeded = fill_gaps(rows, "1m", day, day + timedelta(days=1), krx, prev_close=777)
    assert seeded[0].is_filled and seeded[0].candle.close == 777 and len(seeded) == 390
    # a candle before `start` seeds the hold too
    prior = [c(kst(2026, 11, 19, 16, 29), 555)] + rows
    out = fill_gaps(prior, "1m", day, day + timedelta(days=1), krx)
    assert out[0].is_filled and out[0].candle.close == 555 and len(out) == 390


def test_no_fills_on_weekend_holiday_or_night(krx):
    fri = day_1m(date(2026, 11, 20))
    out = fill_gaps(fri, "1m", date(2026, 11, 20), date(2026, 11, 24), krx)  # Fri .. Mon
    filled = [f for f in out if f.is_filled]
    assert len(filled) == 390 and {f.candle.time.date() for f in filled} == {date(2026, 11, 23)}
    assert all(f.candle.close == 1389 for f in filled)
    assert all(krx.is_open(f.candle.time) for f in filled)
    # election day 2026-06-03 (holiday) between two sessions
    tue = day_1m(date(2026, 6, 2))
    out = fill_gaps(tue, "1m", date(2026, 6, 2), date(2026, 6, 5), krx)
    assert {f.candle.time.date() for f in out if f.is_filled} == {date(2026, 6, 4)}


def test_late_open_days_fill_from_ten(krx):
    rows = [c(kst(2026, 11, 18, 15, 29), 500)]
    out = fill_gaps(rows, "1m", date(2026, 11, 19), date(2026, 11, 20), krx)
    assert len(out) == 390 and out[0].candle.time == kst(2026, 11, 19, 10)
    assert out[-1].candle.time == kst(2026, 11, 19, 16, 29)
    out = fill_gaps([c(kst(2025, 12, 30, 15, 0), 9)], "1h", date(2026, 1, 2), date(2026, 1, 3), krx)
    assert [f.candle.time.hour for f in out] == [10, 11, 12, 13, 14, 15]


def test_every_interval_and_off_session_real_candles_kept(krx):
    day = date(2026, 11, 20)
    rows = [c(kst(2026, 11, 20, 9), 100, "5m"), c(kst(2026, 11, 20, 15, 45), 120, "5m")]
    out = fill_gaps(rows, "5m", day, day + timedelta(days=1), krx)
    assert len(out) == 79 and not out[-1].is_filled and out[-1].candle.close == 120
    assert all(f.candle.close == 100 for f in out if f.is_filled)
    out = fill_gaps([c(kst(2026, 11, 20, 9), 100, "15m")], "15m", day, day + timedelta(days=1), krx)
    assert len(out) == 26
    with pytest.raises(InvalidIntervalError):
        fill_gaps(rows, "2h", day, day + timedelta(days=1), krx)


def test_daily_year_fill_and_timezone_normalised(krx):
    first = datetime(2026, 1, 1, 15, 0, tzinfo=timezone.utc)  # = 2026-01-02 00:00 KST
    rows = [c(first, 50_000, "1d"), c(kst(2026, 6, 1), 60_000, "1d")]
    out = fill_gaps(rows, "1d", date(2026, 1, 1), date(2027, 1, 1), krx)
    assert len(out) == len(krx.sessions(date(2026, 1, 1), date(2026, 12, 31)))
    assert out[0].candle.time == kst(2026, 1, 2) and out[0].candle.time.tzinfo is KST
    assert not out[0].is_filled
    june2 = next(f for f in out if f.candle.time == kst(2026, 6, 2))
    may29 = next(f for f in out if f.candle.time == kst(2026, 5, 29))
    assert (june2.is_filled, june2.candle.close, may29.candle.close) == (True, 60_000, 50_000)


def test_empty_input_with_seed_needs_symbol(krx):
    out = fill_gaps([], "1h", date(2026, 11, 20), date(2026, 11, 21), krx, prev_close=10, symbol="005930")
    assert len(out) == 7 and all(f.is_filled and f.candle.symbol == "005930" for f in out)
    assert fill_gaps([], "1h", date(2026, 11, 20), date(2026, 11, 21), krx) == []


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 3 * 1440 - 1), max_size=60), st.one_of(st.none(), st.integers(1, 99)))
def test_fill_invariants(minutes, seed):
    krx = calendar_for("005930")
    base = kst(2026, 11, 19)  # 수능 Thu, Fri, Sat
    rows = [c(base + timedelta(minutes=m), 1000 + m) for m in sorted(minutes)]
    out = fill_gaps(rows, "1m", base, base + timedelta(days=3), krx, prev_close=seed)
    times = [f.candle.time for f in out]
    assert times == sorted(set(times))
    assert [f.candle for f in out if not f.is_filled] == rows  # real ones untouched
    first_real = rows[0].time if rows else None
    last_close = seed
    by_time = {r.time: r for r in rows}
    for f in out:
        if not f.is_filled:
            last_close = f.candle.close
            continue
        assert krx.is_open(f.candle.time)
        assert seed is not None or (first_real is not None and f.candle.time > first_real)
        assert f.candle.close == last_close and f.candle.volume == 0
    # every in-session minute after the first known close is present
    buckets = krx.bucket_starts("1m", base, base + timedelta(days=3))
    covered = set(times)
    for b in buckets:
        if seed is not None or (first_real is not None and b >= first_real):
            assert b in covered or b in by_time


def test_decimal_closes_stay_exact():
    from decimal import Decimal
    nyse = calendar_for("AAPL")
    ny = nyse.tz
    rows = [Candle("AAPL", "1h", datetime(2026, 11, 20, 9, tzinfo=ny), Decimal("187.25"), Decimal("188"),
                   Decimal("187"), Decimal("187.55"), 10)]
    out = fill_gaps(rows, "1h", date(2026, 11, 20), date(2026, 11, 21), nyse)
    assert len(out) == 7 and all(f.candle.close == Decimal("187.55") for f in out)
    assert out[1].to_dict()["time"] == "2026-11-20T10:00:00-05:00"
