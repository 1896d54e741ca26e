"""Loss-free 1m candles end to end: simulator (accelerated clock) -> socket actor -> routers ->
candle writer -> Postgres, with the candle repairer. The stored closed minutes must equal the
simulator's own record (/_sim/candles): after silently lost frames (repaired from the minute-chart
REST endpoint) and after a database outage while ticks flow (buffered, spilled, flushed).

The first stored minute is partial by design (the stream starts mid-minute; the detector trusts the
first print), so comparisons start at the minute after it."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import asyncpg
import pytest
import ray

from actors.candle_writer import ACTOR_NAME as WRITER_NAME
from actors.candle_writer import get_or_create as get_or_create_writer
from actors.kis_socket import get_or_create_socket_actor, socket_actor_name
from actors.repairer import ACTOR_NAME as REPAIRER_NAME
from actors.repairer import get_or_create as get_or_create_repairer
from backbone.kis.events import KST
from backbone.settings import NAMESPACE
from storage import testing

from .conftest import wait_for

pytestmark = pytest.mark.timeout(150)
SYMBOLS = ("005930", "000660")
SPEED = 30  # one simulated minute every 2 real seconds


def _kill(name: str) -> None:
    try:
        ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
    except ValueError:
        pass


@pytest.fixture
def sinks(ray_env):
    """Kills the named writer and repairer after the test (conftest only kills sockets and routers)."""
    yield
    for name in (REPAIRER_NAME, WRITER_NAME):
        _kill(name)


def _env(make_env):
    start = datetime.now(KST).replace(hour=10, minute=0, second=0, microsecond=0)  # never crosses midnight
    return make_env(symbols=SYMBOLS, clock="always-open", start=start, speed=SPEED, rate=5.0,
                    rates={s: 5.0 for s in SYMBOLS})


def _stream(env, **opts):
    sock = get_or_create_socket_actor(env.settings, env.options(**opts))
    states = ray.get(sock.acquire.remote("e2e", [("H0STCNT0", s) for s in SYMBOLS], 5), timeout=60)
    assert set(states.values()) <= {"live", "pending"}, states
    return sock


def _stored(dsn: str, symbol: str) -> dict[datetime, tuple]:
    async def go():
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return await conn.fetch("SELECT time, open, high, low, close, volume, source FROM market_candles "
                                    "WHERE symbol = $1 AND \"interval\" = '1m' ORDER BY time", symbol)
        finally:
            await conn.close()
    try:
        rows = asyncio.run(go())
    except (OSError, asyncpg.PostgresError):
        return {}
    return {r["time"]: (int(r["open"]), int(r["high"]), int(r["low"]), int(r["close"]), int(r["volume"]),
                        r["source"]) for r in rows}


def _sim_record(env, symbol: str) -> dict[datetime, tuple]:
    return {datetime.fromisoformat(c["time"]): (int(c["open"]), int(c["high"]), int(c["low"]), int(c["close"]),
                                                int(c["volume"])) for c in env.sim.candles(symbol)}


def _mismatches(env, dsn: str, symbol: str, last: datetime) -> list:
    """Closed minutes after the first stored one up to `last` that differ from the simulator's record."""
    stored, sim = _stored(dsn, symbol), _sim_record(env, symbol)
    if not stored:
        return [("nothing stored", symbol)]
    first = min(stored)
    out = []
    for t in sorted(set(stored) | set(sim)):
        if first < t <= last:
            got = stored.get(t, (None,) * 6)[:5]
            if got != sim.get(t):
                out.append((t.isoformat(), "stored", got, "sim", sim.get(t)))
    return out


def _wait_equal(env, dsn: str, symbol: str, last: datetime, timeout: float = 20.0) -> None:
    """The writer may still be flushing the newest minutes: bounded wait, then fail with the diff."""
    deadline = time.monotonic() + timeout
    while (diff := _mismatches(env, dsn, symbol, last)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not diff, f"{symbol}: {len(diff)} stored minutes differ from the simulator's record: {diff[:5]}"


def _wait_minutes(dsn: str, n: int, after: dict[str, datetime] | None = None, timeout: float = 40.0):
    """Until every symbol has at least n stored minutes (after `after[symbol]` when given)."""
    def ready():
        out = {}
        for s in SYMBOLS:
            ts = [t for t in _stored(dsn, s) if after is None or t > after[s]]
            if len(ts) < n:
                return None
            out[s] = max(ts)
        return out
    return wait_for(ready, timeout=timeout, interval=0.5, what=f"{n} stored 1m candles per symbol")


def test_lost_frames_are_repaired_to_the_simulators_record(make_env, pg_dsn, sinks, tmp_path):
    env = _env(make_env)
    writer = get_or_create_writer(pg_dsn, data_dir=str(tmp_path))
    ray.get(writer.stats.remote(), timeout=60)
    repairer = get_or_create_repairer(pg_dsn, socket_actor_name(env.settings), period_s=1.0, settle_s=1.0)
    ray.get(repairer.stats.remote(), timeout=60)
    _stream(env)
    before = _wait_minutes(pg_dsn, 2)

    env.fault("loss", 6)  # six data frames silently skipped (the simulator keeps them in its record)
    wait_for(lambda: ray.get(repairer.stats.remote())["rows_rewritten"] > 0, timeout=60, interval=0.5,
             what="the repairer to rewrite a lost minute")
    stats = ray.get(repairer.stats.remote())
    assert stats["gaps_seen"] >= 1 and stats["errors"] == 0, stats
    last = _wait_minutes(pg_dsn, 1, after=before)

    for s in SYMBOLS:
        _wait_equal(env, pg_dsn, s, last[s])
    repaired = [t for s in SYMBOLS for t, row in _stored(pg_dsn, s).items() if row[5] == "rest"]
    assert repaired, "no minute was rewritten from REST"
    assert ray.get(repairer.stats.remote())["dropped_minutes"] == 0


@pytest.fixture
def own_db():
    """A throwaway server of this test's own: it is stopped and restarted mid-test."""
    server = testing.start_throwaway_server()
    try:
        _, dsn = testing.create_database(server, migrate=True, prefix="outage")
        yield server, dsn
    finally:
        testing.stop_throwaway_server(server)


def test_database_outage_loses_no_candle(make_env, own_db, sinks, tmp_path):
    server, dsn = own_db
    env = _env(make_env)  # the socket actor keeps its token and wanted set in the session database
    writer = get_or_create_writer(dsn, data_dir=str(tmp_path), max_memory_rows=4, batch_rows=2)
    ray.get(writer.stats.remote(), timeout=60)
    _stream(env)
    before = _wait_minutes(dsn, 2)

    server.stop(mode="fast")
    try:
        wait_for(lambda: ray.get(writer.stats.remote())["failures"] > 0, timeout=30, interval=0.5,
                 what="the writer to notice the database is down")
        wait_for(lambda: ray.get(writer.stats.remote())["spilled_total"] > 0, timeout=40, interval=0.5,
                 what="candles spilled to disk while the database is down")
    finally:
        server.start()
    assert ray.get(writer.flush.remote(30.0), timeout=40), ray.get(writer.stats.remote())
    last = _wait_minutes(dsn, 2, after={s: before[s] + timedelta(minutes=3) for s in SYMBOLS})
    for s in SYMBOLS:
        _wait_equal(env, dsn, s, last[s])
    stats = ray.get(writer.stats.remote())
    assert stats["spilled_pending"] == 0 and stats["spill_bad_lines"] == 0, stats


def test_startup_backfill_fills_todays_missing_minutes(make_env, pg_dsn, sinks):
    """Nothing streamed: the backfill alone stores every closed minute of the (simulated) session."""
    from simulator.clock import previous_trading_day

    # a past session (10:00 KST: open on every KRX day, late-opening exam days included)
    day = previous_trading_day(datetime.now(KST).date())
    env = make_env(symbols=SYMBOLS, clock="session", start=datetime(day.year, day.month, day.day, 10, 0, tzinfo=KST),
                   speed=60, rate=5.0)
    sock = get_or_create_socket_actor(env.settings, env.options())
    assert ray.get(sock.ping.remote(), timeout=60) == "ok"
    repairer = get_or_create_repairer(pg_dsn, socket_actor_name(env.settings), period_s=1000.0)
    wait_for(lambda: all(len(env.sim.candles(s)) >= 6 for s in SYMBOLS), timeout=30, interval=0.5,
             what="six simulated minutes")
    now = env.sim.call(lambda: env.sim.sim.clock.now())
    done = ray.get(repairer.backfill.remote(list(SYMBOLS), day.isoformat(), now.isoformat()), timeout=60)
    assert set(done) == set(SYMBOLS) and all(n >= 5 for n in done.values()), done
    closed = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    for s in SYMBOLS:
        stored = _stored(pg_dsn, s)
        sim = {t: row for t, row in _sim_record(env, s).items() if t <= closed}
        assert {t: row[:5] for t, row in stored.items() if t.date() == day and t <= closed} == sim
        assert all(row[5] == "rest" for t, row in stored.items() if t.date() == day)
