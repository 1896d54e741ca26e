"""RepairQueue: a gap is taken once, becomes due when its last minute is closed and settled, and
failed minutes are retried a bounded number of times."""
from datetime import datetime, timedelta

from backbone.kis.events import KST
from backbone.repair_queue import RepairQueue, gap_minutes

T0 = datetime(2026, 11, 20, 10, 1, tzinfo=KST)  # a KRX trading day
GAP = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=2)).isoformat(), "reason": "volume",
       "missing_volume": 10}


def test_a_gap_is_taken_once_and_due_after_close_and_settle():
    q = RepairQueue(settle_s=1.0)
    assert q.offer("005930", [GAP]) == 1
    assert q.offer("005930", [GAP]) == 0  # routers keep their gaps: seen ones are not taken again
    open_ = {"005930": T0 + timedelta(minutes=2, seconds=30)}  # last minute still forming
    assert q.take_due(open_, 0.0) == {}
    closed = {"005930": T0 + timedelta(minutes=3)}
    assert q.take_due(closed, 10.0) == {}  # closed now; settles first
    due = q.take_due(closed, 11.0)
    assert due == {"005930": [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]}
    assert q.pending() == 0


def test_failed_minutes_are_retried_then_dropped():
    q = RepairQueue(settle_s=0.0, max_attempts=2)
    q.requeue("005930", [T0], 0.0, failed=False)  # database down: not an attempt
    assert q.take_due({}, 1.0) == {"005930": [T0]}
    q.requeue("005930", [T0], 1.0)
    assert q.take_due({}, 2.0) == {"005930": [T0]}
    q.requeue("005930", [T0], 2.0)
    assert q.pending() == 0 and q.dropped == 1


def test_gap_minutes_keep_trading_minutes_only():
    assert gap_minutes("005930", T0, T0 + timedelta(minutes=1)) == [T0, T0 + timedelta(minutes=1)]
    night = datetime(2026, 11, 20, 20, 0, tzinfo=KST)  # after the close: plain minutes (simulator)
    assert len(gap_minutes("005930", night, night + timedelta(minutes=2))) == 3
    midnight = T0.replace(hour=0, minute=0)  # a day-start gap: the session's minutes up to the print
    assert gap_minutes("005930", midnight, T0, "day_start")[0].hour == 9
