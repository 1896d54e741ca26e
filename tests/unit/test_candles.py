"""1m candles by exchange time: closing, late corrections, equality with a direct aggregation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from backbone.candles import MinuteCandleBuilder, WrongSymbolError, minute_start
from backbone.kis.events import KST, Side, Trade

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=KST)


def tr(sec, price, size, sym="005930"):
    return Trade(sym, T0 + timedelta(seconds=sec), price, size, Side.BUY, 0, 0, 0, 0, 0, 0,
                 Decimal(0), 0, 0, "20", False)


def test_trade_in_later_minute_closes_earlier_one():
    b = MinuteCandleBuilder("005930")
    assert b.on_trade(tr(1, 100, 2)) == []
    assert b.on_trade(tr(30, 105, 1)) == []
    assert b.on_trade(tr(59, 99, 3)) == []
    [c] = b.on_trade(tr(61, 101, 1))
    assert (c.time, c.open, c.high, c.low, c.close, c.volume, c.value, c.trades) == \
        (T0, 100, 105, 99, 99, 6, 200 + 105 + 297, 3)
    assert c.interval == "1m" and c.source == "live" and c.time.tzinfo is KST
    assert b.current().time == T0 + timedelta(minutes=1)


def test_close_until_uses_exchange_time():
    b = MinuteCandleBuilder("005930")
    b.on_trade(tr(10, 100, 1))
    assert b.close_until(T0 + timedelta(seconds=59)) == []
    [c] = b.close_until(T0 + timedelta(minutes=1))
    assert c.time == T0 and b.current() is None


def test_bucket_is_kst_minute_even_for_utc_input():
    t = datetime(2026, 11, 20, 0, 0, 30, tzinfo=timezone.utc)
    assert minute_start(t) == T0 and minute_start(t).tzinfo is KST


def test_late_trade_corrects_closed_minute():
    b = MinuteCandleBuilder("005930")
    b.on_trade(tr(5, 100, 1))
    b.on_trade(tr(65, 110, 1))
    [fixed] = b.on_trade(tr(2, 90, 4))  # earlier in minute 0, arrives late
    assert (fixed.time, fixed.open, fixed.low, fixed.close, fixed.volume, fixed.trades) == \
        (T0, 90, 90, 100, 5, 2)
    assert b.current().time == T0 + timedelta(minutes=1)


def test_late_trade_for_empty_closed_minute_creates_row():
    b = MinuteCandleBuilder("005930")
    b.on_trade(tr(5, 100, 1))
    b.on_trade(tr(185, 110, 1))  # minute 3; minutes 1 and 2 had nothing
    [c] = b.on_trade(tr(70, 105, 2))
    assert c.time == T0 + timedelta(minutes=1) and c.volume == 2


def test_prints_before_builder_start_or_beyond_memory_are_dropped():
    b = MinuteCandleBuilder("005930", keep_closed=2)
    b.on_trade(tr(130, 100, 1))
    assert b.on_trade(tr(10, 100, 1)) == [] and b.dropped_late == 1
    for m in range(3, 7):
        b.on_trade(tr(m * 60, 100, 1))
    assert b.on_trade(tr(130, 100, 1)) == [] and b.dropped_late == 2


def test_zero_size_ignored_and_wrong_symbol_typed_error():
    b = MinuteCandleBuilder("005930")
    assert b.on_trade(tr(1, 100, 0)) == [] and b.ignored == 1 and b.current() is None
    with pytest.raises(WrongSymbolError):
        b.on_trade(tr(1, 100, 1, sym="000660"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 600), st.integers(1, 50), st.integers(1, 9)),
                min_size=1, max_size=80),
       st.randoms(use_true_random=False))
def test_aggregation_equals_direct_aggregation(raw, rnd):
    trades = [tr(s, p, q) for s, p, q in raw]
    first = min(trades, key=lambda t: t.time)
    rest = [t for t in trades if t is not first]
    rnd.shuffle(rest)  # arrival order differs from exchange order
    arrival = [first] + rest
    b = MinuteCandleBuilder("005930")
    latest = {}
    for t in arrival:
        for c in b.on_trade(t):
            latest[c.time] = c
    for c in b.close_until(T0 + timedelta(hours=1)):
        latest[c.time] = c
    assert b.dropped_late == 0
    # direct aggregation: open = earliest exchange time (ties: first arrival), close = latest (ties: last arrival)
    groups = {}
    for i, t in enumerate(arrival):
        groups.setdefault(minute_start(t.time), []).append((t.time, i, t))
    assert set(latest) == set(groups)
    for m, rows in groups.items():
        c = latest[m]
        opener = min(rows, key=lambda r: (r[0], r[1]))[2]
        closer = max(rows, key=lambda r: (r[0], r[1]))[2]
        prices = [r[2].price for r in rows]
        assert (c.open, c.high, c.low, c.close) == (opener.price, max(prices), min(prices), closer.price)
        assert c.volume == sum(r[2].size for r in rows)
        assert c.value == sum(r[2].price * r[2].size for r in rows)
        assert c.trades == len(rows)
