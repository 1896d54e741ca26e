from backbone.fanout import CONTROL_SLACK, ClientQueue, Push


def drain(q):
    out = []
    while (t := q.pop()) is not None:
        out.append(t)
    return out


def test_fifo_and_counts():
    q = ClientQueue(max_messages=10, book_backlog=5)
    assert q.push("trade:A", "t1") is Push.QUEUED
    assert q.push("book:A", "d1") is Push.QUEUED
    assert q.depth("trade:A") == 1 and len(q) == 2
    assert drain(q) == ["t1", "d1"]
    assert q.depth("trade:A") == 0 and q.stats.sent == 2


def test_book_backlog_merges_into_one_snapshot():
    q = ClientQueue(max_messages=100, book_backlog=3)
    q.push("trade:A", "t1")
    for i in range(3):
        assert q.push("book:A", f"d{i}") is Push.QUEUED
    assert q.push("book:A", "d3") is Push.MERGED
    assert q.awaiting_snapshot() == {"book:A"}
    assert q.push("book:A", "d4") is Push.DROPPED  # covered by the coming snapshot
    assert q.push("trade:A", "t2") is Push.QUEUED  # other channels untouched
    assert q.offer_snapshot("book:A", "snap") is True
    assert q.awaiting_snapshot() == frozenset()
    q.push("book:A", "d5")
    assert drain(q) == ["t1", "t2", "snap", "d5"]
    assert q.stats.merges == 1


def test_trades_lossless_until_bound_then_slow_consumer():
    q = ClientQueue(max_messages=5, book_backlog=5)
    for i in range(5):
        assert q.push("trade:A", f"t{i}") is Push.QUEUED
    assert q.push("trade:A", "t5") is Push.SLOW_CONSUMER
    assert len(q) == 0 and q.awaiting_snapshot() == {"trade:A"}
    assert q.push_control("err")
    assert q.push("trade:A", "t6") is Push.DROPPED
    q.offer_snapshot("trade:A", "snap")
    q.push("trade:A", "t7")
    assert drain(q) == ["err", "snap", "t7"]


def test_full_queue_merges_book_channel_even_below_backlog():
    q = ClientQueue(max_messages=4, book_backlog=10)
    for i in range(4):
        q.push("trade:A", f"t{i}")
    assert q.push("book:A", "d0") is Push.MERGED


def test_memory_bounded_for_a_reader_that_never_reads():
    q = ClientQueue(max_messages=50, book_backlog=10)
    for i in range(10_000):
        q.push("book:A", f"d{i}")
        q.push("book:B", f"d{i}")
        q.push("trade:A", f"t{i}")
        if q.awaiting_snapshot():
            for ch in q.awaiting_snapshot():
                q.offer_snapshot(ch, "snap")
        q.push_control("e")
    assert len(q) <= 50 + CONTROL_SLACK + 3
    assert q.stats.max_depth <= 50 + CONTROL_SLACK + 3


def test_forget_drops_channel():
    q = ClientQueue(max_messages=10, book_backlog=2)
    q.push("book:A", "d"); q.push("book:A", "d"); q.push("book:A", "d")
    q.forget("book:A")
    assert len(q) == 0 and not q.awaiting_snapshot()
