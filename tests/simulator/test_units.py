"""Pure parts: tick grid, limits, clock, determinism, large prints, the symbol universe."""
from __future__ import annotations

import random
import time
from datetime import date, datetime

from backbone import symbols
from simulator import ticks
from simulator.clock import KST, SimClock
from simulator.config import SimulatorConfig
from simulator.krx import KrxSymbolMarket
from simulator.market import Market


def test_tick_sizes_by_band():
    cases = {1999: 1, 2000: 5, 4995: 5, 5000: 10, 19990: 10, 20000: 50, 49950: 50, 50000: 100,
             199900: 100, 200000: 500, 499500: 500, 500000: 1000}
    assert {p: ticks.tick_size(p) for p in cases} == cases
    assert ticks.up(1999) == 2000 and ticks.down(2000) == 1999 and ticks.up(2000) == 2005
    assert ticks.down(50000) == 49950 and ticks.up(49950) == 50000


def test_price_limits_on_grid_within_30_percent():
    for prev in (1234, 4990, 72000, 185000, 980000, 15550):
        lo, hi = ticks.price_limits(prev)
        assert ticks.on_grid(lo) and ticks.on_grid(hi)
        assert prev * 0.7 <= lo < prev * 0.7 + ticks.tick_size(lo) + 1
        assert prev * 1.3 - ticks.tick_size(hi) <= hi <= prev * 1.3


def test_walk_stays_on_grid_inside_limits_and_large_prints():
    sym = symbols.get("035720")
    m = KrxSymbolMarket(sym, random.Random(3), 42000, date(2026, 11, 20), 0.05, (50.0, 200.0))
    now = datetime(2026, 11, 20, 10, 0, tzinfo=KST)
    large = 0
    for _ in range(20000):
        p = m.trade(now)
        assert m.lower <= p.price <= m.upper and ticks.on_grid(p.price)
        assert p.price == (p.ask1 if p.side == "1" else p.bid1)
        if p.large:
            large += 1
            assert p.size >= m.lot() * 50 - m.lot()
    assert large > 0
    assert m.acml_vol == sum(t for t in [m.seln_vol, m.shnu_vol])


def test_same_seed_same_prints():
    start = datetime(2026, 11, 20, 10, 0, tzinfo=KST)

    def run(seed: int) -> list[tuple[int, int]]:
        cfg = SimulatorConfig(clock="session", start=start, seed=seed, symbols=("005930", "000660"), rate=50.0)
        mk = Market(cfg, SimClock(cfg.clock, cfg.start, cfg.speed))
        for _ in range(50):
            mk.step(0.05)
        return [(t.price, t.size) for c in ("005930", "000660") for t in mk.trade_list(c)]

    assert run(5) == run(5) and run(5) != run(6)


def test_clock_speed_and_session_roll():
    start = datetime(2026, 11, 20, 10, 0, tzinfo=KST)
    c = SimClock("session", start, speed=60)
    r0, s0 = time.monotonic(), c.now()
    time.sleep(0.05)
    s1, r1 = c.now(), time.monotonic()
    assert 0.05 * 60 <= (s1 - s0).total_seconds() <= (r1 - r0) * 60 + 1e-3
    late = SimClock("session", datetime(2026, 11, 20, 15, 29, 59, tzinfo=KST), speed=1000)
    time.sleep(0.01)
    assert late.now().date() == date(2026, 11, 23)  # Friday close -> Monday 09:00
    assert late.krx_open()


def test_auto_clock_modes():
    open_now = SimClock("auto", _real_now=datetime(2026, 11, 20, 10, 0, tzinfo=KST))
    assert open_now.mode == "real"
    weekend = SimClock("auto", _real_now=datetime(2026, 11, 21, 23, 0, tzinfo=KST))
    assert weekend.mode == "session" and weekend.now().date() == date(2026, 11, 20)
    assert weekend.now().hour == 9 and weekend.krx_open()
    assert SimClock("always-open").krx_open()


def test_universe():
    dom = [s for s in symbols.SYMBOLS.values() if s.is_domestic]
    assert len(dom) >= 40 and all(len(s.code) == 6 and s.code.isdigit() for s in dom)
    assert symbols.get("005930").name == "삼성전자" and symbols.get("AAPL").code == "DNASAAPL"
    assert "반도체" in symbols.by_sector() and symbols.get("nope") is None
    assert {"0001", "1001", "2001"} <= set(symbols.INDICES)


def test_rest_rate_window_and_token_rules_with_injected_time():
    from simulator.auth import AuthState, TokenError

    cfg = SimulatorConfig(rest_rate_per_s=3, token_reuse_s=10, token_issue_interval_s=60, token_validity_s=100)
    a = AuthState(cfg)
    assert [a.rest_allowed("k", t) for t in (0.0, 0.1, 0.2, 0.3, 0.99, 1.05)] == [True, True, True, False, False, True]
    tok, new = a.issue_token("k", now=0.0)
    assert new and a.issue_token("k", now=9.0) == (tok, False)
    try:
        a.issue_token("k", now=30.0)
        raise AssertionError("expected EGW00133")
    except TokenError as e:
        assert e.code == "EGW00133"
    tok2, new2 = a.issue_token("k", now=61.0)
    assert new2 and tok2.value != tok.value and a.tokens_issued == 2
    assert a.check_token(tok2.value, "k", now=62.0) is None
    assert a.check_token(tok2.value, "k", now=161.0) == "EGW00123"
    assert a.check_token("nope", "k", now=62.0) == "EGW00121"


def test_session_roll_resets_day_and_announces_it():
    cfg = SimulatorConfig(clock="session", start=datetime(2026, 11, 20, 15, 29, 58, tzinfo=KST), speed=200,
                          symbols=("005930",), rate=200.0)
    mk = Market(cfg, SimClock(cfg.clock, cfg.start, cfg.speed))
    mk.step(0.05)
    m = mk.krx["005930"]
    assert m.acml_vol > 0 and m.session == date(2026, 11, 20)
    codes = []
    for _ in range(40):
        time.sleep(0.001)
        last_friday = m.last
        codes += [em.items[0].mkop for em in mk.step(0.05) if em.tr_id == "H0STMKO0"]
        if m.session != date(2026, 11, 20):
            break
    assert m.session == date(2026, 11, 23) and m.prev_close == last_friday
    assert mk.finished_days["005930"][date(2026, 11, 20)][3] == last_friday
    codes += [em.items[0].mkop for em in mk.step(0.05) if em.tr_id == "H0STMKO0"]
    assert codes[-2:] == ["129", "112"]
