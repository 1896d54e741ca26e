"""Integration fixtures: one Ray instance per session, one throwaway Postgres per session, and a
simulator per test (ephemeral ports). Each test gets its own app key, so actor names and database
rows never leak between tests; detached actors are killed after every test."""
from __future__ import annotations

import os
import time
import uuid
from urllib.parse import urlparse

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from backbone.backoff import BackoffConfig  # noqa: E402
from backbone.settings import NAMESPACE, Settings  # noqa: E402
from backbone.subscriptions import Config as BookConfig  # noqa: E402
from backbone.token_policy import TokenPolicy  # noqa: E402
from upstream.options import SocketOptions  # noqa: E402


@pytest.fixture(scope="session")
def ray_session():
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 object_store_memory=200 * 1024 * 1024, namespace=NAMESPACE)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def pg_dsn():
    """A throwaway embedded Postgres (storage.testing) with every migration applied, for the session."""
    from storage.testing import create_database, start_throwaway_server, stop_throwaway_server

    server = start_throwaway_server()
    try:
        _, dsn = create_database(server, migrate=True, prefix="kis")
        yield dsn
    finally:
        stop_throwaway_server(server)


def _named(prefix: str) -> list[tuple[str, str]]:
    out = []
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name = entry["name"] if isinstance(entry, dict) else entry
        ns = entry.get("namespace", NAMESPACE) if isinstance(entry, dict) else NAMESPACE
        if name.startswith(prefix):
            out.append((name, ns))
    return out


def kill_detached() -> None:
    """Kill the test's socket actors, wait until they are gone, then the routers: a socket actor
    still alive while its routers die would create a fresh router for its next batch, and that
    router (detached) would outlive the test."""
    for prefix in ("kis_socket:", "router:"):
        for name, ns in _named(prefix):
            try:
                ray.kill(ray.get_actor(name, namespace=ns), no_restart=True)
            except ValueError:
                pass
        deadline = time.monotonic() + 10
        while _named(prefix) and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def ray_env(ray_session):
    yield ray_session
    kill_detached()


class Env:
    """A simulator plus matching Settings/SocketOptions for one test."""

    def __init__(self, dsn: str | None, **sim_config) -> None:
        from simulator.testing import SimulatorThread

        self.app_key = f"TEST-{uuid.uuid4().hex[:12]}"
        self.app_secret = "secret-" + uuid.uuid4().hex[:8]
        sim_config.setdefault("clock", "always-open")
        sim_config.setdefault("symbols", ("005930", "000660", "035420"))
        sim_config.setdefault("credentials", {self.app_key: self.app_secret})
        self.sim = SimulatorThread(**sim_config).start()
        r, w = urlparse(self.sim.rest_url), urlparse(self.sim.ws_url)
        self.settings = Settings(kis_app_key=self.app_key, kis_app_secret=self.app_secret,
                                 sim_rest_port=r.port, sim_ws_port=w.port)
        self.dsn = dsn

    def options(self, **kw) -> SocketOptions:
        base = dict(
            send_interval_s=0.005, stable_after_s=0.5, open_timeout_s=5,
            backoff=BackoffConfig(base_s=0.1, cap_s=1.0, min_delay_s=0.1, in_use_delay_s=2.0),
            book=BookConfig(budget=41, min_hold_s=2.0, grace_s=0.2, retry_s=0.3, refused_s=5.0),
            token=TokenPolicy(refresh_before_s=1800, min_issue_interval_s=60),
            flush_ms=5, poll_interval_s=0.5, database_dsn=self.dsn, approval_min_interval_s=0.2,
        )
        base.update(kw)
        return SocketOptions(**base)

    def stats(self) -> dict:
        return self.sim.stats()

    def fault(self, name: str, *args):
        return self.sim.call(name, *args)

    def close(self) -> None:
        self.sim.stop()


@pytest.fixture
def make_env(pg_dsn):
    envs: list[Env] = []

    def make(**sim_config) -> Env:
        env = Env(pg_dsn, **sim_config)
        envs.append(env)
        return env

    yield make
    for e in envs:
        e.close()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll until predicate() is truthy; returns its value. Fails (never hangs) after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def get_router(symbol: str, timeout: float = 30.0):
    """The router actor for `symbol`, once the socket owner has created it (on its first event)."""
    from actors.router import router_name
    from backbone.settings import NAMESPACE

    def lookup():
        try:
            return ray.get_actor(router_name(symbol), namespace=NAMESPACE)
        except ValueError:
            return None

    return wait_for(lookup, timeout=timeout, what=f"router for {symbol}")
