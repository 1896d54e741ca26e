"""Pure storage decisions: de-duplication, spill round trip, missing minutes, repair planning."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from backbone.models import Candle
from backbone.storage_policy import (BadSpillRecord, candle_from_json, candle_to_json, dedupe_keep_last,
                                     missing_minutes, plan_minute_fetches)
from storage.spill import SpillFile

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
M = timedelta(minutes=1)


def c(sym, minute, close):
    return Candle(sym, "1m", T0 + minute * M, close, close, close, close, 1)


def test_dedupe_keeps_the_last_submitted_version():
    out = dedupe_keep_last([c("A", 0, 1), c("B", 0, 2), c("A", 0, 3)])
    assert [(x.symbol, x.close) for x in out] == [("B", 2), ("A", 3)]


def test_spill_json_round_trip_keeps_exact_numbers():
    x = Candle("A", "1m", T0, Decimal("1.25"), 2, 1, Decimal("1.5"), 3, value=Decimal("4.5"), trades=2,
               source="rest")
    import json
    assert candle_from_json(json.loads(json.dumps(candle_to_json(x), default=str))) == x
    with pytest.raises(BadSpillRecord):
        candle_from_json({"symbol": "A"})


def test_spill_file_reads_back_in_order_and_skips_bad_lines(tmp_path):
    f = SpillFile(tmp_path / "s.jsonl")
    f.append([c("A", i, i) for i in range(5)])
    with open(f.path, "a") as fh:
        fh.write("{not json\n")
    f.unread += 1
    f.append([c("A", 9, 9)])
    assert [x.close for x in f.read(3)] == [0, 1, 2]
    assert [x.close for x in f.read(10)] == [3, 4, 9]
    assert f.bad_lines == 1 and f.unread == 0 and not f.path.exists()
    g = SpillFile(tmp_path / "t.jsonl")
    g.append([c("B", 0, 1)])
    assert SpillFile(tmp_path / "t.jsonl").unread == 1  # a later process picks it up


def test_missing_minutes():
    expected = [T0 + i * M for i in range(5)]
    assert missing_minutes(expected, [T0, T0 + 2 * M, T0 + 4 * M]) == [T0 + M, T0 + 3 * M]


def test_plan_minute_fetches_covers_30_minutes_per_call_newest_first():
    minutes = [T0 + i * M for i in (0, 1, 29, 30, 31, 100)]
    calls = plan_minute_fetches(minutes)
    assert calls == [T0 + 100 * M, T0 + 31 * M, T0 + 1 * M]
    for m in minutes:
        assert any(u - 29 * M <= m <= u for u in calls)
