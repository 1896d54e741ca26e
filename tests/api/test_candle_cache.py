"""The closed-range candle cache (backbone.candle_cache): TTL, LRU bound, precise invalidation."""
from datetime import datetime, timedelta, timezone

from backbone.candle_cache import CandleCache, closed_boundary

UTC = timezone.utc
T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


def put(cache, symbol="005930", start=T0, end=T0 + H, prev_time=T0 - H, now=0.0, **kw):
    return cache.put(symbol, "1m", start, end, ("row",), 100, prev_time, now, **kw)


def test_hit_miss_and_rate():
    cache = CandleCache(ttl_s=60)
    assert cache.get("005930", "1m", T0, T0 + H, 0.0) is None
    put(cache)
    hit = cache.get("005930", "1m", T0, T0 + H, 1.0)
    assert hit.rows == ("row",) and hit.prev_close == 100
    assert (cache.hits, cache.misses, cache.hit_rate) == (1, 1, 0.5)


def test_ttl_expires_entries():
    cache = CandleCache(ttl_s=60)
    put(cache)
    assert cache.get("005930", "1m", T0, T0 + H, 60.0) is None
    assert len(cache) == 0


def test_lru_bound():
    cache = CandleCache(ttl_s=60, max_entries=2)
    for i in range(3):
        put(cache, start=T0 + i * H, end=T0 + (i + 1) * H)
    assert len(cache) == 2
    assert cache.get("005930", "1m", T0, T0 + H, 0.0) is None


def test_invalidation_hits_overlapping_ranges_of_that_symbol_only():
    cache = CandleCache(ttl_s=600)
    put(cache)                                            # [T0, T0+1h), seed at T0-1h
    put(cache, symbol="000660")                           # other symbol
    put(cache, start=T0 + 48 * H, end=T0 + 49 * H, prev_time=T0 + 47 * H)  # two days later
    dropped = cache.invalidate("005930", T0 + timedelta(minutes=10), T0 + timedelta(minutes=20))
    assert dropped == 1
    assert cache.get("005930", "1m", T0, T0 + H, 0.0) is None
    assert cache.get("000660", "1m", T0, T0 + H, 0.0) is not None
    assert cache.get("005930", "1m", T0 + 48 * H, T0 + 49 * H, 0.0) is not None


def test_a_change_before_the_range_that_could_move_its_seed_invalidates_it():
    cache = CandleCache(ttl_s=600)
    put(cache, start=T0 + 48 * H, end=T0 + 49 * H, prev_time=T0 + 30 * H)
    # A late row between the seed row and the range start changes the previous close.
    assert cache.invalidate("005930", T0 + 40 * H, T0 + 40 * H) == 1


def test_a_put_racing_an_invalidation_is_dropped():
    cache = CandleCache(ttl_s=600)
    generation = cache.generation  # read before the query
    cache.invalidate("005930", T0, T0)  # a change lands while the query runs
    assert put(cache, generation=generation) is None
    assert len(cache) == 0


def test_closed_boundary_is_the_forming_bucket_start():
    now = datetime(2026, 11, 20, 1, 7, 30, tzinfo=UTC)
    assert closed_boundary(now, timedelta(minutes=5)) == datetime(2026, 11, 20, 1, 5, tzinfo=UTC)
    assert closed_boundary(now, timedelta(hours=1)) == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def test_writes_at_or_after_the_end_leave_a_closed_range_alone():
    cache = CandleCache(ttl_s=600)
    put(cache)  # [T0, T0+1h)
    assert cache.invalidate("005930", T0 + H, T0 + H) == 0  # the next (forming) bucket
    assert cache.invalidate("005930", T0 + H - timedelta(minutes=1), T0 + H) == 1
