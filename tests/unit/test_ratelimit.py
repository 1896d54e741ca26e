import pytest

from backbone.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_burst_then_rate():
    c = Clock()
    b = TokenBucket(20, clock=c)
    assert all(b.try_acquire() == 0 for _ in range(20))
    assert b.try_acquire() == pytest.approx(0.05)
    c.t += 0.05
    assert b.try_acquire() == 0


def test_paper_rate_two_per_second():
    c = Clock()
    b = TokenBucket(2, clock=c)
    assert b.try_acquire() == 0 and b.try_acquire() == 0
    assert b.try_acquire() == pytest.approx(0.5)
    c.t += 10
    assert b.available == 2  # never more than the burst


def test_reserve_queues_callers_in_order():
    c = Clock()
    b = TokenBucket(10, burst=1, clock=c)
    waits = [b.reserve() for _ in range(4)]
    assert waits == pytest.approx([0, 0.1, 0.2, 0.3])


def test_penalize_pauses_everyone():
    c = Clock()
    b = TokenBucket(10, clock=c)
    b.penalize(1.0)
    assert b.try_acquire() == pytest.approx(1.1)


def test_clock_going_backwards_adds_nothing():
    c = Clock()
    b = TokenBucket(1, clock=c)
    b.try_acquire()
    c.t -= 50
    assert b.try_acquire() > 0


def test_bad_arguments():
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(5, burst=2).try_acquire(3)
