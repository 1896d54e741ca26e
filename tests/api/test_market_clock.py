"""The API follows the simulator's clock when the simulator is the market."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from backbone.settings import Settings
from serve_app.market_clock import SimulatorClock, market_clock_from_settings, parse_sim_clock
from simulator.testing import SimulatorThread

FRIDAY_0905 = datetime.fromisoformat("2026-11-20T09:05:00+09:00")


def test_parse_sim_clock_accepts_only_an_aware_time_and_a_positive_speed():
    assert parse_sim_clock({"clock": {"now": "2026-11-20T09:05:00+09:00", "speed": 60}}) == (FRIDAY_0905, 60.0)
    assert parse_sim_clock({"clock": {"now": "2026-11-20T09:05:00", "speed": 1}}) is None
    assert parse_sim_clock({"clock": {"now": "2026-11-20T09:05:00+09:00", "speed": 0}}) is None
    assert parse_sim_clock({"clock": "x"}) is None and parse_sim_clock([]) is None


def test_clock_follows_a_past_accelerated_simulated_session():
    with SimulatorThread(clock="session", start=FRIDAY_0905, speed=60.0, symbols=("005930",)) as sim:
        clock = SimulatorClock(sim.rest_url + "/_sim/stats", resync_s=0.5)
        try:
            deadline = time.monotonic() + 10
            while not clock.synced and time.monotonic() < deadline:
                time.sleep(0.05)
            assert clock.synced, "never read the simulator's clock"
            first = clock()
            # The simulated Friday session, not the wall clock (which is days later or earlier).
            assert abs(first - FRIDAY_0905) < timedelta(minutes=30)
            assert first.tzinfo is not None and first.utcoffset() == timedelta(0)
            time.sleep(0.5)
            assert clock() - first >= timedelta(seconds=10)  # 0.5 s at 60x is ~30 s simulated
        finally:
            clock.close()


def test_wall_clock_without_a_simulator_or_against_real_kis(monkeypatch):
    clock = SimulatorClock("http://127.0.0.1:9/_sim/stats", resync_s=0.2, timeout_s=0.2)
    try:
        assert abs(clock() - datetime.now(timezone.utc)) < timedelta(seconds=5) and not clock.synced
    finally:
        clock.close()
    real = Settings.from_env({"KIS_ENV": "real", "KIS_APP_KEY": "k", "KIS_APP_SECRET": "s", "API_KEY": "a"})
    assert market_clock_from_settings(real) is None
    monkeypatch.setenv("MARKET_CLOCK", "wall")
    assert market_clock_from_settings(Settings.from_env({})) is None
