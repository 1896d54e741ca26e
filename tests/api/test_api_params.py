"""Pure parsing of the candle API's parameters (backbone.api_params) on the real XKRX calendar."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from backbone.api_params import (INVALID_INTERVAL, INVALID_RANGE, INVALID_SYMBOL, CandleQuery,
                                 ParamError, latest_session, parse_bool, parse_candle_query,
                                 parse_instant, parse_symbol)
from backbone.calendars import InvalidSymbolError, calendar_for

KST = ZoneInfo("Asia/Seoul")
UTC = timezone.utc
# Friday 2026-11-20 14:00 KST (05:00 UTC): a regular session day.
NOW = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)


def cal_or_none(symbol):
    try:
        return calendar_for(symbol)
    except InvalidSymbolError:
        return None


def parse(**kw):
    args = dict(symbol="005930", interval=None, from_=None, to=None, fill=None,
                calendar_for=cal_or_none, now=NOW)
    args.update(kw)
    return parse_candle_query(**args)


def test_defaults_are_the_latest_session_in_1m_with_fill():
    q = parse()
    assert isinstance(q, CandleQuery)
    assert (q.interval, q.fill) == ("1m", True)
    assert q.start == datetime(2026, 11, 20, 9, 0, tzinfo=KST)
    assert q.end == datetime(2026, 11, 20, 15, 30, tzinfo=KST)


def test_default_on_a_weekend_runs_from_fridays_session_to_now():
    now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # Sunday noon KST
    q = parse(now=now)
    assert q.start == datetime(2026, 11, 20, 9, 0, tzinfo=KST)
    assert q.end == now + timedelta(minutes=1)


def test_daily_default_is_a_year_up_to_the_latest_session():
    q = parse(interval="1d")
    assert q.end == datetime(2026, 11, 21, 0, 0, tzinfo=KST)
    assert (q.end - q.start).days == 366
    sunday = parse(interval="1d", now=datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    assert sunday.end == datetime(2026, 11, 23, 0, 0, tzinfo=KST)


def test_dates_are_market_local_days_and_a_date_to_includes_its_day():
    q = parse(from_="2026-11-19", to="2026-11-20")
    assert q.start == datetime(2026, 11, 19, tzinfo=KST)
    assert q.end == datetime(2026, 11, 21, tzinfo=KST)


def test_naive_datetimes_are_local_and_offsets_are_honoured():
    assert parse_instant("2026-11-20T09:30", KST, is_end=False) == datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    assert parse_instant("2026-11-20T00:30:00Z", KST, is_end=False) == datetime(2026, 11, 20, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("kw, code", [
    (dict(symbol=""), INVALID_SYMBOL),
    (dict(symbol="005930; drop table"), INVALID_SYMBOL),
    (dict(symbol="DNASAAPL"), INVALID_SYMBOL),  # no calendar for it
    (dict(interval="2m"), INVALID_INTERVAL),
    (dict(interval="1M"), INVALID_INTERVAL),
    (dict(fill="maybe"), INVALID_RANGE),
    (dict(from_="yesterday"), INVALID_RANGE),
    (dict(from_="2026-11-20", to="2026-11-19"), INVALID_RANGE),
    (dict(from_="0001-01-01"), INVALID_RANGE),
    (dict(to="9999-12-31"), INVALID_RANGE),
    (dict(from_="2020-01-01", to="2026-01-01"), INVALID_RANGE),  # six years of 1m: too many rows
])
def test_bad_input_is_a_typed_error(kw, code):
    got = parse(**kw)
    assert isinstance(got, ParamError) and got.code == code, got


def test_row_limit_counts_session_buckets_not_wall_clock():
    # Two months of 1m is ~86k wall-clock minutes but ~16k session minutes: allowed at 20k.
    assert isinstance(parse(from_="2026-09-01", to="2026-10-31"), CandleQuery)
    got = parse(from_="2026-09-01", to="2026-10-31", max_rows=10_000)
    assert isinstance(got, ParamError) and got.code == INVALID_RANGE


def test_symbol_is_normalized():
    assert parse_symbol(" 005930 ") == "005930"
    assert parse_symbol("aapl") == "AAPL"


def test_bool_parsing():
    assert parse_bool(None, True) is True
    assert parse_bool("FALSE", True) is False
    assert parse_bool("x", True) is None


def test_latest_session_before_the_first_open_of_the_day_is_yesterdays():
    s = latest_session(calendar_for("005930"), datetime(2026, 11, 20, 8, 0, tzinfo=KST))
    assert s[0] == datetime(2026, 11, 19, 10, 0, tzinfo=KST)  # 수능 day: 10:00 open
