"""Run by test_multinode.py in its own process: a two-node ray.cluster_utils.Cluster on this
machine, a simulator (ephemeral ports), the KIS socket actor (state in memory) and routers placed on
both nodes (node affinity, alternating), plus one router the socket actor creates itself on first
data (default placement). Prints one JSON line: the node of every router and
how many trades each router's trade channel delivered. Exits 0 only when every wait ended in time;
otherwise prints what it saw so far with a "failure" key and exits 1.
(Cluster needs its own head, so it cannot share a process with the session's ray.init.)"""
from __future__ import annotations

import json
import os
import sys
import time
import uuid
from urllib.parse import urlparse

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # noqa: E402

from actors.kis_socket import get_or_create_socket_actor  # noqa: E402
from actors.router import get_or_create_router, router_name  # noqa: E402
from backbone.backoff import BackoffConfig  # noqa: E402
from backbone.settings import NAMESPACE, Settings  # noqa: E402
from backbone.subscriptions import Config as BookConfig  # noqa: E402
from backbone.token_policy import TokenPolicy  # noqa: E402
from simulator.testing import SimulatorThread  # noqa: E402
from upstream.options import SocketOptions  # noqa: E402

MB = 1024 * 1024
PLACED = ("005930", "000660", "373220", "207940")  # pinned alternately to the two nodes
SELF_CREATED = "005380"  # no router until the socket actor's first delivery creates it
TRADES_WANTED = 3  # per router: a few trades through its trade channel prove the stream flows
WAIT_S = 45.0  # overall bound for the stream part (loaded 2-core machine)


class Failed(Exception):
    pass


def wait_for(predicate, deadline: float, what: str):
    """Poll predicate() until truthy or the deadline passes (then Failed, never a hang)."""
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise Failed(f"timed out waiting for {what}")
        time.sleep(0.1)


def socket_options() -> SocketOptions:
    """Short timings as in tests/integration/conftest.py; no database: state in memory."""
    return SocketOptions(
        send_interval_s=0.005, stable_after_s=0.5, open_timeout_s=5,
        backoff=BackoffConfig(base_s=0.1, cap_s=1.0, min_delay_s=0.1, in_use_delay_s=2.0),
        book=BookConfig(budget=41, min_hold_s=2.0, grace_s=0.2, retry_s=0.3, refused_s=5.0),
        token=TokenPolicy(refresh_before_s=1800, min_issue_interval_s=60),
        flush_ms=5, poll_interval_s=0.5, database_dsn=None, approval_min_interval_s=0.2)


def run(out: dict) -> None:
    symbols = PLACED + (SELF_CREATED,)
    app_key, app_secret = f"TEST-{uuid.uuid4().hex[:12]}", "secret-" + uuid.uuid4().hex[:8]
    sim = SimulatorThread(clock="always-open", symbols=symbols, rate=5.0,
                          credentials={app_key: app_secret}).start()
    try:
        r, w = urlparse(sim.rest_url), urlparse(sim.ws_url)
        settings = Settings(kis_app_key=app_key, kis_app_secret=app_secret,
                            sim_rest_port=r.port, sim_ws_port=w.port)
        nodes = out["alive_nodes"]
        # Routers placed first; the socket actor later finds them by name (get_if_exists).
        routers = {s: get_or_create_router(s, scheduling_strategy=NodeAffinitySchedulingStrategy(
            nodes[i % len(nodes)], soft=False)) for i, s in enumerate(PLACED)}
        out["placed_on"] = {s: nodes[i % len(nodes)] for i, s in enumerate(PLACED)}
        sock = get_or_create_socket_actor(settings, socket_options())
        ray.get(sock.acquire.remote("multinode-probe", [("H0STCNT0", s) for s in symbols], 1), timeout=30)
        deadline = time.monotonic() + WAIT_S

        def lookup_self_created():
            try:
                return ray.get_actor(router_name(SELF_CREATED), namespace=NAMESPACE)
            except ValueError:
                return None

        routers[SELF_CREATED] = wait_for(lookup_self_created, deadline,
                                         f"the socket actor to create router {SELF_CREATED}")
        out["router_nodes"] = {s: ray.get(h.node_id.remote(), timeout=30) for s, h in routers.items()}
        # Every router's trade channel, long-polled from seq 0 until it has delivered TRADES_WANTED events.
        seen = {s: 0 for s in symbols}
        out["trades"] = seen
        after = {s: 0 for s in symbols}
        epoch = {s: None for s in symbols}
        while min(seen.values()) < TRADES_WANTED:
            if time.monotonic() > deadline:
                raise Failed("timed out waiting for trades at every router")
            for s, h in routers.items():
                if seen[s] >= TRADES_WANTED:
                    continue
                got = ray.get(h.poll.remote("trade", after[s], 0.5, epoch[s]), timeout=30)
                if got.get("error"):
                    raise Failed(f"router {s} poll error: {got['error']}")
                events = got.get("events") or []
                seen[s] += len(events)
                after[s], epoch[s] = got["last_seq"], got["epoch"]
        out["latest_trade_price"] = {s: (ray.get(h.latest.remote(), timeout=30)["trade"] or {}).get("price")
                                     for s, h in routers.items()}
    finally:
        sim.stop()


def main() -> int:
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 80 * MB, "include_dashboard": False})
    out: dict = {}
    try:
        cluster.add_node(num_cpus=1, object_store_memory=80 * MB)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False)
        out["alive_nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        try:
            run(out)
        except (Failed, ray.exceptions.GetTimeoutError, ray.exceptions.RayError) as e:
            out["failure"] = f"{type(e).__name__}: {e}"
        print(json.dumps(out), flush=True)
        return 1 if "failure" in out else 0
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
