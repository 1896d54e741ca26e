"""Token lifecycle and REST policy of the socket owner, against the simulator's oauth and /uapi."""
from __future__ import annotations

import time

import ray
from ray.exceptions import RayError

from actors.kis_socket import get_or_create_socket_actor
from backbone.token_policy import TokenPolicy

from .conftest import wait_for


def status(a) -> dict:
    return ray.get(a.status.remote())


def alive(a) -> bool:
    try:
        return ray.get(a.ping.remote(), timeout=5) == "ok"
    except RayError:
        return False


def test_one_issuance_for_fifty_callers_and_reuse_after_the_process_is_killed(ray_env, make_env):
    env = make_env()
    a = get_or_create_socket_actor(env.settings, env.options())
    tokens = ray.get([a.get_token.remote() for _ in range(50)])
    assert len(set(tokens)) == 1 and env.stats()["tokens_issued"] == 1
    try:
        ray.get(a.crash_for_test.remote())
    except RayError:
        pass
    wait_for(lambda: alive(a), timeout=60, what="actor restarted")
    assert ray.get(a.get_token.remote()) == tokens[0]  # from Postgres, no new issuance
    assert env.stats()["tokens_issued"] == 1
    assert status(a)["token"]["issued"] == 0


def test_token_refreshed_30_minutes_before_expiry(ray_env, make_env):
    # Lifetime 30 min + 3 s: the refresh is due 3 s after issuance.
    env = make_env(token_validity_s=1803, token_reuse_s=0.5, token_issue_interval_s=1.0)
    a = get_or_create_socket_actor(env.settings, env.options(
        token=TokenPolicy(refresh_before_s=1800, min_issue_interval_s=1.5)))
    t1 = ray.get(a.get_token.remote())
    exp1 = status(a)["token"]["expires_at"]
    t2 = wait_for(lambda: (t := ray.get(a.get_token.remote())) != t1 and t, timeout=30, interval=0.3,
                  what="a refreshed token")
    assert t2 != t1 and env.stats()["tokens_issued"] >= 2
    st = status(a)["token"]
    assert st["expires_at"] > exp1 and st["throttled"] == 0


def test_throttled_issuance_waits_and_keeps_serving(ray_env, make_env):
    # The simulator refuses a new token within 60 s (EGW00133); our interval is misconfigured to 1 s.
    env = make_env(token_validity_s=1803, token_reuse_s=0, token_issue_interval_s=60)
    a = get_or_create_socket_actor(env.settings, env.options(
        token=TokenPolicy(refresh_before_s=1800, min_issue_interval_s=1.0, throttled_wait_s=60)))
    t1 = ray.get(a.get_token.remote())
    wait_for(lambda: status(a)["token"]["throttled"] >= 1 or (ray.get(a.get_token.remote()) and False),
             timeout=20, interval=0.3, what="EGW00133 seen")
    for _ in range(10):  # callers keep getting the still-valid token, and KIS is not asked again
        assert ray.get(a.get_token.remote()) == t1
        time.sleep(0.2)
    assert status(a)["token"]["throttled"] == 1 and env.stats()["tokens_issued"] == 1


def test_rest_rate_limit_is_retried(ray_env, make_env):
    env = make_env(rest_rate_per_s=2)
    a = get_or_create_socket_actor(env.settings, env.options(rest_rate_per_s=50.0, rest_rate_retries=10))
    prices = ray.get([a.rest_current_price.remote("005930") for _ in range(8)])
    assert all("stck_prpr" in p for p in prices), prices
    assert status(a)["rest"]["rate_limited"] > 0 and env.stats()["rest_rate_limited"] > 0


def test_rejected_token_is_refreshed_and_the_call_retried_once(ray_env, make_env):
    env = make_env(token_issue_interval_s=0.5, token_reuse_s=0)
    a = get_or_create_socket_actor(env.settings, env.options(
        token=TokenPolicy(min_issue_interval_s=1.0)))  # a margin over the server's interval
    t1 = ray.get(a.get_token.remote())
    assert env.sim.call(env.sim.sim.auth.revoke, t1)  # KIS now answers EGW00121 for it
    bars = ray.get(a.rest_minute_bars.remote("005930", "235959"))
    assert isinstance(bars, list)
    assert status(a)["rest"]["auth_retries"] == 1
    assert ray.get(a.get_token.remote()) != t1 and env.stats()["tokens_issued"] == 2
