"""Connection faults: drops, stalls, refusing restarts, malformed frames, KIS error replies."""
from __future__ import annotations

import time

import ray

from actors.kis_socket import get_or_create_socket_actor
from actors.router import router_name
from backbone.backoff import BackoffConfig
from backbone.settings import NAMESPACE

from .conftest import get_router, wait_for

T, B = "H0STCNT0", "H0STASP0"
SUBS = [(T, "005930"), (B, "005930"), (T, "000660"), (B, "000660"), (T, "035420")]


def status(a) -> dict:
    return ray.get(a.status.remote())


def all_live(a, env, n) -> bool:
    st = status(a)
    return st["registrations"]["live"] == n and env.stats()["registrations_open"] == n


def started(env, opts=None, subs=SUBS):
    a = get_or_create_socket_actor(env.settings, opts or env.options())
    ray.get(a.acquire.remote("gw", subs, 1))
    wait_for(lambda: all_live(a, env, len(subs)), what="all registrations live")
    return a


def test_twenty_drops_restore_every_registration_without_duplicates(ray_env, make_env):
    env = make_env()
    a = started(env)
    for i in range(20):
        total = env.stats()["connections"]["total"]
        env.fault("drop")
        wait_for(lambda: env.stats()["connections"]["total"] > total and all_live(a, env, len(SUBS)),
                 what=f"restore after drop {i + 1}")
    st, sim = status(a), env.stats()
    assert sim["connections"]["total"] == 21 and sim["connections"]["open"] == 1
    assert sim["registrations"] == len(SUBS) * 21  # each reconnect subscribed each pair exactly once
    assert st["registrations"]["counters"]["already_subscribed"] == 0
    assert st["connection"]["reconnects"] == 20


def test_stall_triggers_the_watchdog_and_data_flows_again(ray_env, make_env):
    env = make_env(ping_interval_s=0.3)
    a = started(env, env.options(idle_limit_s=1.0))
    env.fault("stall", 2.5)
    wait_for(lambda: status(a)["connection"]["watchdog_reconnects"] >= 1, timeout=20, what="watchdog")
    router = get_router("005930")
    before = ray.get(router.stats.remote())["events"]
    wait_for(lambda: ray.get(router.stats.remote())["events"] > before and all_live(a, env, len(SUBS)),
             timeout=30, what="data after the stall")
    assert status(a)["connection"]["pings_echoed"] >= 1


def test_restart_refusing_20s_reconnects_within_60s_without_a_tight_loop(ray_env, make_env):
    env = make_env()
    opts = env.options(backoff=BackoffConfig(base_s=0.5, cap_s=8.0, min_delay_s=0.5))
    a = started(env, opts)
    attempts0 = status(a)["connection"]["connect_attempts"]
    sim_attempts0 = env.stats()["connect_attempts"]
    env.fault("restart", 20.0)
    t_return = time.monotonic() + 20.0
    wait_for(lambda: env.stats()["connections"]["total"] >= 2 and all_live(a, env, len(SUBS)),
             timeout=20 + 60, interval=0.2, what="reconnect after the restart")
    assert time.monotonic() - t_return < 60
    tries = status(a)["connection"]["connect_attempts"] - attempts0
    # 0.5 s doubling to an 8 s cap over 20 s is ~7 attempts; a tight loop would be hundreds.
    assert 2 <= tries <= 15, tries
    assert env.stats()["connect_attempts"] - sim_attempts0 <= 15


def test_malformed_frames_are_counted_and_the_connection_is_kept(ray_env, make_env):
    env = make_env(rate=20.0)
    a = started(env)
    frames0 = sum(v for k, v in status(a)["connection"]["frames"].items() if k.startswith("H0"))
    env.fault("malformed", 8)  # truncated, wrong_count, garbage, invalid_utf8, twice
    wait_for(lambda: env.stats()["faults"]["frames_malformed"] == 8, what="malformed frames sent")
    wait_for(lambda: sum(sum(c.values()) for c in status(a)["connection"]["decode_errors"].values()) >= 8,
             what="decode errors counted")
    st = status(a)
    frames1 = sum(v for k, v in st["connection"]["frames"].items() if k.startswith("H0"))
    wait_for(lambda: sum(v for k, v in status(a)["connection"]["frames"].items() if k.startswith("H0")) > frames1,
             what="frames decoded after the malformed ones")
    assert frames1 > frames0
    assert env.stats()["connections"]["total"] == 1 and status(a)["connection"]["reconnects"] == 0
    kinds = set()
    for c in st["connection"]["decode_errors"].values():
        kinds |= set(c)
    assert len(kinds) >= 2, kinds


def test_already_subscribed_is_unsubscribed_then_subscribed_again(ray_env, make_env):
    env = make_env()
    a = started(env, subs=SUBS[:2])
    env.fault("force_reply", "OPSP0002")
    ray.get(a.acquire.remote("gw", [(T, "000660")], 1))
    wait_for(lambda: all_live(a, env, 3), what="the pair live after OPSP0002")
    assert status(a)["registrations"]["counters"]["already_subscribed"] == 1


def test_auth_failure_refreshes_the_approval_key_and_recovers(ray_env, make_env):
    env = make_env()
    a = started(env, subs=SUBS[:2])
    approvals0 = env.stats()["approvals_issued"]
    env.fault("auth_fail", True)
    ray.get(a.acquire.remote("gw", [(T, "000660")], 1))
    wait_for(lambda: status(a)["connection"]["auth_failures"] >= 1, what="OPSP0011 seen")
    assert ray.get(a.view.remote("gw"))["H0STCNT0:000660"]["state"] == "pending"
    env.fault("auth_fail", False)
    wait_for(lambda: all_live(a, env, 3), timeout=30, what="recovery after auth failure")
    assert env.stats()["approvals_issued"] > approvals0  # a fresh approval key was fetched


def test_already_in_use_backs_off_longer(ray_env, make_env):
    env = make_env()
    a = started(env, env.options(backoff=BackoffConfig(base_s=0.1, cap_s=1.0, min_delay_s=0.1,
                                                       in_use_delay_s=3.0)), subs=SUBS[:1])
    env.fault("force_reply", "OPSP8996")
    ray.get(a.acquire.remote("gw", [(T, "000660")], 1))
    wait_for(lambda: status(a)["connection"]["in_use_rejections"] == 1, what="OPSP8996 seen")
    conn = status(a)["connection"]
    assert conn["next_delay_s"] >= 3.0  # the long pause, not the 0.1 s base
    assert conn["state"] in ("reconnecting", "connecting")
    wait_for(lambda: all_live(a, env, 2), timeout=30, what="back after the pause")
    assert status(a)["connection"]["connect_attempts"] == 2


def test_permanent_error_reply_refuses_without_a_retry_loop(ray_env, make_env):
    env = make_env()
    a = started(env, subs=SUBS[:1])
    env.fault("force_reply", "OPSP8991")  # invalid tr_id: retrying cannot help
    ray.get(a.acquire.remote("gw", [(B, "000660")], 1))
    wait_for(lambda: ray.get(a.view.remote("gw"))[f"{B}:000660"]["state"] == "refused", what="refused")
    sent = status(a)["registrations"]["counters"]["subscribe_sent"]
    time.sleep(1.0)  # retry_s is 0.3 s in these tests: a loop would have sent again by now
    assert status(a)["registrations"]["counters"]["subscribe_sent"] == sent
    assert env.stats()["connections"]["total"] == 1
