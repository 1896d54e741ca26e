import random

import pytest

from backbone.backoff import Backoff, BackoffConfig, Reason


def test_grows_exponentially_to_the_cap_without_jitter():
    b = Backoff(BackoffConfig(base_s=1, cap_s=30, jitter=0, min_delay_s=0))
    assert [b.next_delay() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_jitter_stays_within_bounds_and_never_below_the_floor():
    b = Backoff(BackoffConfig(base_s=0.1, cap_s=30, jitter=1.0, min_delay_s=1.0), rng=random.Random(7))
    delays = [b.next_delay() for _ in range(200)]
    assert min(delays) >= 1.0 and max(delays) <= 30


def test_equal_jitter_keeps_half_the_delay():
    b = Backoff(BackoffConfig(base_s=8, cap_s=8, jitter=0.5, min_delay_s=0), rng=random.Random(1))
    assert all(4 <= b.next_delay() <= 8 for _ in range(100))


def test_in_use_waits_longer_and_reset_starts_over():
    b = Backoff(BackoffConfig(base_s=1, cap_s=30, jitter=0, min_delay_s=1, in_use_delay_s=60))
    assert b.next_delay(Reason.IN_USE) == 60
    assert b.next_delay() == 2
    b.reset()
    assert b.next_delay() == 1


def test_many_failures_do_not_overflow():
    b = Backoff(BackoffConfig(base_s=1, cap_s=30, jitter=0))
    for _ in range(5000):
        d = b.next_delay()
    assert d == 30


@pytest.mark.parametrize("kw", [dict(base_s=0), dict(base_s=5, cap_s=1), dict(jitter=2), dict(min_delay_s=-1)])
def test_rejects_bad_config(kw):
    with pytest.raises(ValueError):
        BackoffConfig(**kw)
