"""KISSocketActor against the simulator: real sockets, real Ray, real Postgres."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import ray

from actors.kis_socket import get_or_create_socket_actor, socket_actor_name
from actors.router import router_name
from backbone.settings import NAMESPACE

from .conftest import get_router, wait_for

T, B = "H0STCNT0", "H0STASP0"


def live_count(actor) -> int:
    st = ray.get(actor.status.remote())
    return st["registrations"]["live"]


def test_shared_socket_two_drivers_three_requesters_one_connection(ray_env, make_env):
    env = make_env()
    opts = env.options()
    a = get_or_create_socket_actor(env.settings, opts)
    subs = [(T, "005930"), (B, "005930")]
    ray.get(a.acquire.remote("gw-1", subs, 5))
    ray.get(a.acquire.remote("watchlist", subs + [(T, "000660")], 1))
    # A second driver (another process) attaches by name and adds a third requester.
    gcs = ray.get_runtime_context().gcs_address
    code = textwrap.dedent(f"""
        import ray
        from backbone.settings import Settings
        from actors.kis_socket import get_or_create_socket_actor
        ray.init(address={gcs!r}, namespace={NAMESPACE!r}, log_to_driver=False)
        s = Settings(kis_app_key={env.app_key!r}, kis_app_secret={env.app_secret!r},
                     sim_rest_port={env.settings.sim_rest_port}, sim_ws_port={env.settings.sim_ws_port})
        a = get_or_create_socket_actor(s)
        print(ray.get(a.acquire.remote("job-1", [("H0STCNT0", "005930")], 0)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    wait_for(lambda: live_count(a) == 3, what="3 live registrations")
    st = env.stats()
    assert st["connections"]["total"] == 1 and st["connections"]["open"] == 1
    assert st["registrations_open"] == 3
    items = {(r["tr_id"], r["tr_key"]): r for r in ray.get(a.status.remote())["registrations"]["items"]}
    assert items[(T, "005930")]["requesters"] == ["gw-1", "job-1", "watchlist"]
    # Routers receive data for the symbols.
    router = get_router("005930")
    wait_for(lambda: ray.get(router.latest.remote())["trade"] is not None, what="a trade at the router")
    assert socket_actor_name(env.settings).endswith(env.settings.app_key_id)


def test_status_has_no_secrets(ray_env, make_env):
    env = make_env()
    a = get_or_create_socket_actor(env.settings, env.options())
    ray.get(a.acquire.remote("gw", [(T, "005930")], 1))
    token = ray.get(a.get_token.remote())
    wait_for(lambda: live_count(a) == 1)
    text = repr(ray.get(a.status.remote()))
    for secret in (env.app_key, env.app_secret, token):
        assert secret not in text
    assert "live" in text
