"""Book deltas: window semantics, checksum text, reconstruction from snapshot + deltas."""
from __future__ import annotations

import zlib
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from backbone.book import (BookDiffer, BookError, BookSnapshot, ChecksumMismatch, LevelChange,
                           apply_delta, checksum, delta_from_dict, price_text, snapshot_from_dict)
from backbone.kis.events import KST, BookLevel, OrderBook

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=KST)


def book(asks, bids, sym="005930"):
    return OrderBook(sym, T0, tuple(BookLevel(p, s) for p, s in asks),
                     tuple(BookLevel(p, s) for p, s in bids), 0, 0, None)


def test_checksum_text_is_documented_format():
    asks = (BookLevel(71600, 10), BookLevel(71700, 5))
    bids = (BookLevel(71500, 3),)
    assert checksum(asks, bids) == zlib.crc32(b"a:71600:10|a:71700:5|b:71500:3")
    assert checksum((), ()) == 0


def test_price_text_canonical():
    assert price_text(71500) == "71500"
    assert price_text(Decimal("187.50")) == "187.5"
    assert price_text(Decimal("100.00")) == "100"
    assert price_text(Decimal("1E+2")) == "100"
    assert price_text(Decimal("0.0012")) == "0.0012"


def test_first_update_sends_all_levels_and_unchanged_book_sends_nothing():
    d = BookDiffer(depth=3)
    b = book([(101, 1), (102, 2)], [(100, 5)])
    delta = d.update(b)
    assert set(delta.changes) == {LevelChange("ask", 101, 1), LevelChange("ask", 102, 2),
                                  LevelChange("bid", 100, 5)}
    assert d.update(b) is None


def test_only_changed_levels_are_sent():
    d = BookDiffer(depth=3)
    d.update(book([(101, 1), (102, 2), (103, 3)], [(100, 5), (99, 6), (98, 7)]))
    delta = d.update(book([(101, 1), (102, 9), (103, 3)], [(100, 5), (99, 6), (98, 7)]))
    assert delta.changes == (LevelChange("ask", 102, 9),)


def test_level_scrolling_out_of_window_is_not_a_remove():
    d = BookDiffer(depth=3)
    d.update(book([(101, 1), (102, 2), (103, 3)], []))
    # a better ask appears: 103 scrolls past level 3, client truncation drops it
    delta = d.update(book([(100, 4), (101, 1), (102, 2), (103, 3)], []))
    assert delta.changes == (LevelChange("ask", 100, 4),)
    state = apply_delta(BookSnapshot.empty(depth=3), BookDiffer(3).update(book([(101, 1), (102, 2), (103, 3)], [])))
    state = apply_delta(state, delta)
    assert [lv.price for lv in state.asks] == [100, 101, 102]


def test_level_scrolling_into_window_is_an_add_and_gone_level_is_removed():
    d = BookDiffer(depth=2)
    d.update(book([], [(100, 1), (99, 2), (98, 3)]))
    delta = d.update(book([], [(99, 2), (98, 3)]))  # best bid cancelled, 98 scrolls in
    assert set(delta.changes) == {LevelChange("bid", 100, 0), LevelChange("bid", 98, 3)}


def test_removal_needed_when_window_not_full():
    d = BookDiffer(depth=3)
    d.update(book([(101, 1), (102, 2), (103, 3)], []))
    delta = d.update(book([(101, 1), (102, 2)], []))
    assert delta.changes == (LevelChange("ask", 103, 0),)


def test_apply_delta_detects_checksum_mismatch():
    d = BookDiffer(depth=3)
    delta = d.update(book([(101, 1)], [(100, 1)]))
    wrong = BookSnapshot("005930", None, (BookLevel(105, 1),), (), 0, 3)
    with pytest.raises(ChecksumMismatch):
        apply_delta(wrong, delta)


def test_duplicate_price_is_typed_error_and_state_kept():
    d = BookDiffer(depth=3)
    d.update(book([(101, 1)], []))
    with pytest.raises(BookError):
        d.update(book([(101, 1), (101, 2)], []))
    assert d.snapshot().asks == (BookLevel(101, 1),)


def test_zero_size_and_zero_price_levels_are_omitted():
    d = BookDiffer(depth=3)
    d.update(book([(101, 0), (0, 5), (102, 1)], []))
    assert d.snapshot().asks == (BookLevel(102, 1),)


def test_json_round_trip_with_decimal_prices():
    d = BookDiffer(depth=2)
    delta = d.update(book([(Decimal("187.50"), 3)], [(Decimal("187.25"), 4)], sym="AAPL"))
    delta2 = delta_from_dict(delta.to_dict())
    assert delta2 == delta
    snap = d.snapshot()
    assert snapshot_from_dict(snap.to_dict()) == snap
    assert delta.to_dict()["changes"][0] == ["ask", "187.5", 3]
    with pytest.raises(BookError):
        delta_from_dict({"changes": [["up", 1, 1]], "checksum": 0})
    with pytest.raises(BookError):
        snapshot_from_dict({"asks": "x"})


levels = st.dictionaries(st.integers(1, 60), st.integers(0, 50), max_size=16)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(levels, levels), min_size=1, max_size=25), st.integers(1, 10))
def test_snapshot_plus_deltas_reconstructs_last_book(books, depth):
    d = BookDiffer(depth=depth)
    start = d.snapshot()
    state = start
    for asks, bids in books:
        b = book(sorted(asks.items()), sorted(bids.items(), reverse=True))
        delta = d.update(b)
        if delta is not None:
            state = apply_delta(state, delta)  # verifies the checksum
    want = d.snapshot()
    assert state.asks == want.asks and state.bids == want.bids
    assert state.checksum == want.checksum == checksum(want.asks, want.bids)
    # and the window is exactly the last book's top levels
    asks, bids = books[-1]
    assert [(lv.price, lv.size) for lv in want.asks] == sorted((p, s) for p, s in asks.items() if s)[:depth]
    assert [(lv.price, lv.size) for lv in want.bids] == sorted(((p, s) for p, s in bids.items() if s), reverse=True)[:depth]
    # a late joiner: snapshot then later deltas works through JSON too
    snap = snapshot_from_dict(want.to_dict())
    assert snap == want


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(levels, levels), min_size=1, max_size=15))
def test_reconstruction_with_decimal_prices_through_json(books):
    d = BookDiffer(depth=5)
    state = snapshot_from_dict(d.snapshot().to_dict())
    for asks, bids in books:
        b = book([(Decimal(p) / 4, s) for p, s in asks.items()], [(Decimal(p) / 4, s) for p, s in bids.items()], sym="AAPL")
        delta = d.update(b)
        if delta is not None:
            state = apply_delta(state, delta_from_dict(delta.to_dict()))
    assert state.checksum == d.snapshot().checksum
    assert [(lv.price, lv.size) for lv in state.asks] == [(lv.price, lv.size) for lv in d.snapshot().asks]
