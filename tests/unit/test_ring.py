"""SeqRing: seqs, resume answers, eviction by count and age, epochs."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from backbone.ring import SeqRing


def test_seqs_start_at_one_and_since_returns_after():
    r = SeqRing(10)
    assert r.last_seq == 0 and r.since(0) == []
    assert [r.append(x, float(i)) for i, x in enumerate("abc")] == [1, 2, 3]
    assert r.since(0) == [(1, "a"), (2, "b"), (3, "c")]
    assert r.since(2) == [(3, "c")]
    assert r.since(3) == []
    assert r.since(1, limit=1) == [(2, "b")]


def test_since_future_seq_is_none():
    r = SeqRing(10)
    r.append("a", 0.0)
    assert r.since(5) is None


def test_count_eviction_makes_old_cursor_unrecoverable():
    r = SeqRing(3)
    for i in range(5):
        r.append(i, float(i))
    assert r.first_seq == 3
    assert r.since(2) == [(3, 2), (4, 3), (5, 4)]
    assert r.since(1) is None


def test_age_eviction():
    r = SeqRing(100, max_age_s=10)
    r.append("old", 0.0)
    r.append("mid", 5.0)
    r.append("new", 12.0)
    assert r.since(1) == [(2, "mid"), (3, "new")]
    assert r.since(0) is None
    r.evict(100.0)
    assert len(r) == 0 and r.since(3) == [] and r.since(2) is None
    assert r.append("next", 101.0) == 4 and r.since(3) == [(4, "next")]


def test_reset_starts_new_epoch_and_seq():
    r = SeqRing(5)
    e = r.epoch
    r.append("a", 0.0)
    r.reset()
    assert r.epoch != e and len(r.epoch) == 12
    assert r.last_seq == 0 and r.append("b", 1.0) == 1


def test_bad_arguments():
    with pytest.raises(ValueError):
        SeqRing(0)
    with pytest.raises(ValueError):
        SeqRing(5, max_age_s=0)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 50), st.lists(st.floats(0, 5), max_size=300), st.integers(-5, 400))
def test_ring_matches_model(max_events, gaps, cursor):
    r = SeqRing(max_events, max_age_s=20.0)
    ts, model = 0.0, []
    for i, g in enumerate(gaps):
        ts += g
        model.append((i + 1, ts, i))
        r.append(i, ts)
    held = [m for m in model[-max_events:] if m[1] >= ts - 20.0]
    first = held[0][0] if held else len(model) + 1
    assert r.first_seq == first and r.last_seq == len(model)
    got = r.since(cursor)
    if cursor > len(model) or cursor < first - 1:
        assert got is None
    else:
        assert got == [(s, p) for s, _, p in held if s > cursor]
