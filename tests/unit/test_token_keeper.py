"""TokenKeeper with a fake issuer and clock: single flight, 1/min, EGW00133, persistence."""
import asyncio

import pytest

from backbone.kis.rest import RestError, TokenResponse
from backbone.token_policy import TokenPolicy
from upstream.state_store import MemoryStateStore
from upstream.token_keeper import TokenKeeper, TokenUnavailable


class Fake:
    def __init__(self, answers=None):
        self.t = 1000.0
        self.calls = 0
        self.answers = list(answers or [])

    def clock(self):
        return self.t

    async def sleep(self, s):
        self.t += s
        await asyncio.sleep(0)

    async def issue(self):
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.answers:
            a = self.answers.pop(0)
            if a is not None:
                return a
        return TokenResponse(access_token=f"tok{self.calls}", expires_in=86400,
                             access_token_token_expired="2030-01-01 00:00:00")


def keeper(f, store=None, **kw):
    return TokenKeeper(f.issue, store or MemoryStateStore(), TokenPolicy(**kw), clock=f.clock, sleep=f.sleep)


async def test_fifty_concurrent_callers_one_issuance():
    f = Fake()
    k = keeper(f)
    toks = await asyncio.gather(*(k.get() for _ in range(50)))
    assert set(toks) == {"tok1"} and f.calls == 1


async def test_refresh_30_min_before_expiry_and_reuse_from_store():
    f = Fake()
    store = MemoryStateStore()
    k = keeper(f, store)
    assert await k.get() == "tok1"
    f.t += 86400 - 1800 - 1
    assert await k.get() == "tok1"
    f.t += 1
    assert await k.get() == "tok2"
    k2 = keeper(f, store)  # a restarted owner
    assert await k2.get() == "tok2" and f.calls == 2


async def test_throttled_waits_and_keeps_serving_the_valid_token():
    f = Fake(answers=[None, RestError(403, "EGW00133", "1/min")])
    k = keeper(f, min_issue_interval_s=1, throttled_wait_s=60)
    assert await k.get() == "tok1"
    f.t += 86400 - 1800
    assert await k.get() == "tok1" and f.calls == 2 and k.throttled == 1
    f.t += 30
    assert await k.get() == "tok1" and f.calls == 2  # no hammering within the minute
    f.t += 31
    assert await k.get() == "tok3"


async def test_invalidated_token_waits_for_the_minute_then_reissues():
    f = Fake()
    k = keeper(f)
    t1 = await k.get()
    await k.invalidate(t1)
    assert await k.get() == "tok2"  # the fake clock advanced through the wait
    assert f.t >= 1060


async def test_failure_without_a_usable_token_raises_a_typed_error_without_secrets():
    f = Fake(answers=[RestError(403, "EGW00105", "bad secret")])
    k = keeper(f)
    with pytest.raises(TokenUnavailable, match="EGW00105"):
        await k.get()


async def test_an_invalidated_token_is_not_readopted_from_the_store():
    class RoundingStore(MemoryStateStore):
        async def load_token(self):  # the database rounds the expiry up a little
            t = self.token
            from upstream.state_store import StoredToken
            return StoredToken(t.access_token, t.expires_at + 1e-6, t.issued_at, t.last_attempt_at) if t else None

    f = Fake()
    k = keeper(f, RoundingStore(), min_issue_interval_s=0.5)
    t1 = await k.get()
    await k.invalidate(t1)
    assert await k.get() == "tok2"
