"""Tick loss from ACML_VOL continuity: gaps, duplicates, day rollover, upstream gaps."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from backbone.calendars import calendar_for
from backbone.kis.events import KST, Side, Trade
from backbone.tickloss import Gap, TickLossDetector, affected_minutes

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=KST)


def tr(sec, size, cum, sym="005930", base=T0):
    return Trade(sym, base + timedelta(seconds=sec), 100, size, Side.BUY, cum, 0, 0, 0, 0, 0,
                 Decimal(0), 0, 0, "20", False)


def test_continuous_prints_are_ok():
    d = TickLossDetector()
    for r in (d.on_trade(tr(0, 5, 1005)), d.on_trade(tr(1, 3, 1008)), d.on_trade(tr(70, 2, 1010))):
        assert not r.duplicate and r.gap is None


def test_missing_volume_gives_gap_over_minutes_between():
    d = TickLossDetector()
    d.on_trade(tr(10, 5, 1005))
    r = d.on_trade(tr(190, 3, 1050))  # 42 shares missing, 10:00 .. 10:03
    assert r.gap == Gap("005930", T0, T0 + timedelta(minutes=3), 42, "volume")
    assert affected_minutes(r.gap) == [T0 + timedelta(minutes=i) for i in range(4)]
    assert d.on_trade(tr(191, 1, 1051)).gap is None  # state moved on


def test_replayed_print_is_duplicate_not_gap():
    d = TickLossDetector()
    d.on_trade(tr(0, 5, 1005))
    d.on_trade(tr(1, 3, 1008))
    r = d.on_trade(tr(1, 3, 1008))
    assert r.duplicate and r.gap is None
    assert d.on_trade(tr(0, 5, 1005)).duplicate
    assert d.on_trade(tr(2, 2, 1010)).gap is None and d.duplicates == 2


def test_count_restarted_by_source_is_reanchored_not_dropped():
    """A new source (e.g. a restarted upstream) feeding the same detector: its prints come later in
    time with a smaller ACML_VOL. They are not replays: re-anchor, report the minutes since the last
    print as an upstream gap, and carry on with the new count."""
    d = TickLossDetector()
    d.on_trade(tr(0, 5, 50_000))
    d.on_trade(tr(1, 3, 50_003))
    r = d.on_trade(tr(125, 4, 4))  # later, count restarted at 4
    assert not r.duplicate
    assert r.gap == Gap("005930", T0, T0 + timedelta(minutes=2), None, "upstream")
    assert d.resets == 1 and d.duplicates == 0
    nxt = d.on_trade(tr(126, 6, 10))
    assert not nxt.duplicate and nxt.gap is None  # continuous in the new count
    assert d.on_trade(tr(126, 6, 10)).duplicate  # a replay in the same second still is one


def test_day_rollover_resets_and_detects_missed_day_start():
    d = TickLossDetector()
    d.on_trade(tr(0, 5, 900_000))
    next_day = T0 + timedelta(days=1)  # Saturday is fine for the detector
    ok = d.on_trade(tr(0, 7, 7, base=next_day))
    assert ok.gap is None and not ok.duplicate
    d2 = TickLossDetector()
    d2.on_trade(tr(0, 5, 900_000))
    r = d2.on_trade(tr(0, 7, 57, base=next_day))
    assert r.gap.reason == "day_start" and r.gap.missing_volume == 50
    assert r.gap.start == datetime(2026, 11, 21, 0, 0, tzinfo=KST)
    assert d2.on_trade(tr(-86400 + 5, 1, 900_001)).duplicate  # stray print of the previous day


def test_day_start_gap_restricted_to_trading_minutes_with_calendar():
    gap = Gap("005930", datetime(2026, 11, 20, 0, 0, tzinfo=KST), datetime(2026, 11, 20, 9, 4, tzinfo=KST), 50, "day_start")
    mins = affected_minutes(gap, calendar_for("005930"))
    assert mins == [datetime(2026, 11, 20, 9, m, tzinfo=KST) for m in range(5)]


def test_first_print_is_trusted_and_symbols_independent():
    d = TickLossDetector()
    assert d.on_trade(tr(0, 5, 123_456)).gap is None
    assert d.on_trade(tr(0, 5, 999, sym="000660")).gap is None
    assert d.on_trade(tr(1, 1, 123_457)).gap is None


def test_upstream_gap_marks_minutes():
    d = TickLossDetector()
    g = d.mark_upstream_gap("005930", T0 + timedelta(seconds=150), T0 + timedelta(seconds=30))
    assert (g.start, g.end, g.missing_volume, g.reason) == (T0, T0 + timedelta(minutes=2), None, "upstream")


def test_naive_time_is_rejected():
    d = TickLossDetector()
    with pytest.raises(ValueError):
        d.mark_upstream_gap("005930", datetime(2026, 1, 1), datetime(2026, 1, 1))
