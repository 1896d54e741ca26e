"""KISSocketActor against the simulator: real sockets, real Ray, real Postgres."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

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


def _universe(n: int) -> list[str]:
    from backbone import symbols as u

    return [s if isinstance(s, str) else s.code for s in list(u.SYMBOLS)[:n]]


def test_budget_scheduler_beyond_41_registrations(ray_env, make_env):
    codes = _universe(22)
    # The simulator generates data for two symbols only (fewer routers); it accepts any registration.
    env = make_env(symbols=(codes[0], codes[1]), max_registrations=41)
    a = get_or_create_socket_actor(env.settings, env.options())
    pairs = [(tr, c) for c in codes[2:22] for tr in (T, B)] + [(B, codes[0])]  # 41
    got = ray.get(a.acquire.remote("watchlist", pairs, 0))
    assert set(got.values()) == {"pending"}
    wait_for(lambda: live_count(a) == 41 and env.stats()["registrations_open"] == 41, what="41 live")
    # The 42nd and 43rd: a trade stream falls back to REST polling, a book stream is refused.
    got = ray.get(a.acquire.remote("late", [(T, codes[0]), (B, codes[1])], 0))
    assert got == {f"{T}:{codes[0]}": "polled", f"{B}:{codes[1]}": "refused"}
    view = ray.get(a.view.remote("late"))
    assert view[f"{B}:{codes[1]}"]["code"] == "SUBSCRIPTION_BUDGET_EXHAUSTED"
    router = get_router(codes[0])
    wait_for(lambda: ray.get(router.latest.remote())["polled"] is not None, what="a polled quote at the router")
    # A viewer (higher priority) gets a registration once the minimum hold has passed.
    ray.get(a.acquire.remote("viewer", [(T, codes[1])], 10))
    wait_for(lambda: ray.get(a.view.remote("viewer"))[f"{T}:{codes[1]}"]["state"] == "live", what="viewer live")
    st = ray.get(a.status.remote())
    assert st["registrations"]["used"] == 41 and env.stats()["registrations_open"] == 41
    assert st["registrations"]["counters"]["evictions"] == 1
    assert st["registrations"]["counters"]["max_subscribe_over"] == 0
    states = [r["state"] for r in st["registrations"]["items"]]
    assert states.count("live") == 41 and states.count("polled") + states.count("refused") == 3


def test_server_side_max_subscribe_over_is_refused(ray_env, make_env):
    env = make_env(max_registrations=2)
    a = get_or_create_socket_actor(env.settings, env.options())  # our budget (41) is wrong here
    ray.get(a.acquire.remote("gw", [(T, "005930"), (T, "000660")], 1))
    wait_for(lambda: live_count(a) == 2)
    ray.get(a.acquire.remote("gw2", [(B, "005930")], 1))
    wait_for(lambda: ray.get(a.view.remote("gw2"))[f"{B}:005930"]["state"] == "refused", what="OPSP0008 refusal")
    st = ray.get(a.status.remote())
    assert st["registrations"]["counters"]["max_subscribe_over"] == 1
    assert env.stats()["connections"]["total"] == 1  # the connection stays up


def test_killed_actor_restarts_reconnects_resubscribes_and_routers_get_data(ray_env, make_env):
    from ray.exceptions import RayError

    env = make_env(rate=10.0)
    a = get_or_create_socket_actor(env.settings, env.options())
    subs = [(T, "005930"), (B, "005930"), (T, "000660")]
    ray.get(a.acquire.remote("gw", subs, 1))
    wait_for(lambda: live_count(a) == 3)
    router = get_router("005930")
    wait_for(lambda: ray.get(router.stats.remote())["events"] > 0, what="data before the crash")
    try:
        ray.get(a.crash_for_test.remote())
    except RayError:
        pass

    def back() -> bool:
        try:
            st = ray.get(a.status.remote(), timeout=5)
        except RayError:
            return False
        return st["registrations"]["live"] == 3 and st["restored_wanted"] == 3

    wait_for(back, timeout=60, what="restarted and resubscribed")
    wait_for(lambda: env.stats()["connections"]["open"] == 1 and env.stats()["registrations_open"] == 3,
             what="one connection with the 3 registrations")
    seen = ray.get(router.stats.remote())["batches"]
    wait_for(lambda: ray.get(router.stats.remote())["batches"] > seen, what="data after the restart")
    source_now = ray.get(a.status.remote())["routing"]["source"]
    wait_for(lambda: ray.get(a.status.remote())["routing"]["events_out"] > 0, what="new incarnation delivers")
    assert source_now


def test_router_killed_for_good_is_recreated_and_fed_again(ray_env, make_env):
    """An operator's `ray.kill(router)` (no restart): the socket owner must not keep failing on the
    dead handle; the next batch creates a new router and data flows again."""
    env = make_env(rate=10.0)
    a = get_or_create_socket_actor(env.settings, env.options())
    ray.get(a.acquire.remote("gw", [(T, "005930")], 1))
    old = get_router("005930")
    wait_for(lambda: ray.get(old.stats.remote())["events"] > 0, what="data before the kill")
    old_pid = ray.get(old.status.remote())["pid"]
    ray.kill(old, no_restart=True)

    def fed_new_router():
        try:
            r = ray.get_actor(router_name("005930"), namespace=NAMESPACE)
            st = ray.get(r.status.remote(), timeout=5)
        except (ValueError, ray.exceptions.RayError):
            return False
        return st["pid"] != old_pid and st["trades"] > 0

    wait_for(fed_new_router, timeout=30, what="a new router fed by the socket owner")


def test_surviving_router_delivers_trades_from_a_restarted_upstream(ray_env, make_env):
    """Routers are detached and outlive a restarted simulator/socket owner. The new upstream's
    cumulative volume starts over: its prints are not replays and must reach the trade ring."""
    first = make_env(rate=40.0)
    a = get_or_create_socket_actor(first.settings, first.options())
    ray.get(a.acquire.remote("gw", [(T, "005930")], 1))
    router = get_router("005930")
    wait_for(lambda: ray.get(router.status.remote())["trades"] > 100, what="a busy first day")
    ray.kill(a, no_restart=True)
    first.close()
    before = ray.get(router.status.remote())
    second = make_env(rate=10.0)
    b = get_or_create_socket_actor(second.settings, second.options())
    ray.get(b.acquire.remote("gw", [(T, "005930")], 1))
    # Without the re-anchoring every new print is a "duplicate" until the new count passes the old
    # one (minutes at this rate). Prints of the new feed in the very second of the old feed's last
    # print still count as replays: they cannot be told apart.
    wait_for(lambda: ray.get(router.status.remote())["trades"] > before["trades"] + 5,
             timeout=30, what="prints of the restarted upstream in the trade ring")


def test_leased_demand_ends_when_not_renewed_also_after_a_restart(ray_env, make_env):
    """A requester that dies without releasing (a gateway replica) frees its registrations when its
    lease runs out; a live one renews and keeps them; the lease survives an owner restart."""
    from ray.exceptions import RayError

    env = make_env()
    a = get_or_create_socket_actor(env.settings, env.options())
    ray.get(a.acquire.remote("gw-alive", [(T, "005930")], 10, 3.0))
    ray.get(a.acquire.remote("gw-dead", [(T, "000660"), (B, "000660")], 10, 3.0))
    ray.get(a.acquire.remote("job", [(T, "035420")], 5))  # no lease: held until released
    wait_for(lambda: live_count(a) == 4, what="four registrations")
    try:
        ray.get(a.crash_for_test.remote())  # the owner restarts: leases come back from Postgres
    except RayError:
        pass
    deadline = time.monotonic() + 8  # well past the 3 s lease: only gw-alive renews
    while time.monotonic() < deadline:
        try:
            assert ray.get(a.renew.remote("gw-alive"), timeout=5) is True
        except RayError:
            pass  # still restarting
        time.sleep(0.5)
    assert ray.get(a.view.remote("gw-dead")) == {}
    assert set(ray.get(a.view.remote("gw-alive"))) == {f"{T}:005930"}
    assert set(ray.get(a.view.remote("job"))) == {f"{T}:035420"}
    wait_for(lambda: env.stats()["registrations_open"] == 2, what="gw-dead's registrations unsubscribed")
    st = ray.get(a.status.remote())
    assert st["leases"]["expired"] >= 1 and st["restored_wanted"] == 4
    assert ray.get(a.renew.remote("gw-dead")) is False  # it would have to acquire again
