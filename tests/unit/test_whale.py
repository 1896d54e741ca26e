"""Whale detection: absolute and adaptive thresholds, merging, emission, stable ids."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from backbone.kis.events import KST, Side, Trade
from backbone.whale import WhaleDetector

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=KST)


def tr(sec, price, size, side=Side.BUY, sym="005930"):
    return Trade(sym, T0 + timedelta(seconds=sec), price, size, side, 0, 0, price, price, price, 0,
                 Decimal(0), price, price, "20", False)


def test_absolute_threshold_and_emission_on_later_trade():
    w = WhaleDetector(notional_threshold=100_000_000)
    assert w.on_trade(tr(0, 70_000, 1_000)) == []          # 70M: not a whale
    assert w.on_trade(tr(1, 70_000, 2_000)) == []          # 140M: opens a burst
    assert w.pending() == 1
    alerts = w.on_trade(tr(5, 70_000, 1))                   # later trade closes it
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.side, a.count, a.total_size, a.notional, a.reasons) == ("buy", 1, 2000, 140_000_000, ("absolute",))
    assert a.to_dict()["first_time"] == (T0 + timedelta(seconds=1)).isoformat()


def test_same_side_prints_merge_with_vwap_and_max():
    w = WhaleDetector(notional_threshold=100_000_000, merge_s=1.0)
    w.on_trade(tr(0, 70_000, 2_000))
    w.on_trade(tr(1, 70_100, 3_000))
    w.on_trade(tr(1, 50, 1))  # small print inside the window does not close it
    w.on_trade(tr(2, 70_200, 1_500))
    [a] = w.flush(T0 + timedelta(seconds=10))
    assert a.count == 3 and a.total_size == 6_500
    assert a.notional == 70_000 * 2000 + 70_100 * 3000 + 70_200 * 1500
    assert a.vwap == round(a.notional / 6_500, 2)
    assert a.max_print_size == 3_000 and a.max_print_price == 70_100
    assert a.first_time == T0 and a.last_time == T0 + timedelta(seconds=2)


def test_opposite_side_whale_closes_burst():
    w = WhaleDetector()
    w.on_trade(tr(0, 70_000, 2_000, Side.BUY))
    alerts = w.on_trade(tr(0, 70_000, 2_000, Side.SELL))
    assert [a.side for a in alerts] == ["buy"]
    assert [a.side for a in w.flush(T0, force=True)] == ["sell"]


def test_flush_only_closes_ended_windows():
    w = WhaleDetector(merge_s=1.0)
    w.on_trade(tr(0, 70_000, 2_000))
    assert w.flush(T0 + timedelta(seconds=1)) == []
    assert len(w.flush(T0 + timedelta(seconds=2))) == 1


def test_adaptive_threshold_after_warmup_uses_prior_sizes():
    w = WhaleDetector(notional_threshold=10**12, quantile=0.99, window=100, warmup=50)
    for i in range(49):
        w.on_trade(tr(i * 2, 1_000, 10 + i % 5))  # sizes 10..14
    assert w.adaptive_threshold("005930") is None
    assert w.on_trade(tr(100, 1_000, 500)) == []  # 50th print: still warming up, not flagged
    assert w.pending() == 0
    assert w.adaptive_threshold("005930") == 500  # the big print is now in the window (top 1%)
    for i in range(60):
        w.on_trade(tr(200 + i * 2, 1_000, 10 + i % 5))  # pushes 500 out of the window
    assert w.adaptive_threshold("005930") == 14
    w.on_trade(tr(400, 1_000, 300))
    [a] = w.flush(T0 + timedelta(seconds=500))
    assert a.reasons == ("adaptive",) and a.adaptive_threshold == 14


def test_uniform_sizes_do_not_flag_everything():
    w = WhaleDetector(notional_threshold=10**12, window=50, warmup=10)
    for i in range(100):
        assert w.on_trade(tr(i * 2, 1_000, 1)) == []
    assert w.pending() == 0


def test_auction_prints_ignored_and_alert_id_stable_across_replay():
    prints = [tr(0, 70_000, 50_000, Side.AUCTION), tr(3, 70_000, 2_000), tr(3, 70_000, 1_600)]
    ids = []
    for _ in range(2):
        w = WhaleDetector()
        for p in prints:
            w.on_trade(p)
        [a] = w.flush(T0, force=True)
        assert a.count == 2
        ids.append(a.alert_id)
    assert ids[0] == ids[1]
    other = WhaleDetector()
    other.on_trade(tr(3, 70_000, 2_001))
    assert other.flush(T0, force=True)[0].alert_id != ids[0]


def test_symbols_are_independent():
    w = WhaleDetector()
    w.on_trade(tr(0, 70_000, 2_000, sym="005930"))
    assert w.on_trade(tr(10, 70_000, 1, sym="000660")) == []
    assert w.pending() == 1


def test_bad_config():
    with pytest.raises(ValueError):
        WhaleDetector(quantile=0)
    with pytest.raises(ValueError):
        WhaleDetector(window=10, warmup=20)
