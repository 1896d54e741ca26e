"""Two Ray nodes on this machine (ray.cluster_utils.Cluster): the correlation job's block tasks
run on both and give the single-process answer. The cluster lives in a child process so that it
never meets the session's ray.init."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_correlation_tasks_run_on_both_nodes():
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled",
               PYTHONPATH=str(ROOT))
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-m", "tests.jobs.multinode_probe"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("{")][-1]
    got = json.loads(line)
    assert len(got["alive_nodes"]) == 2
    assert set(got["task_nodes"]) == set(got["alive_nodes"])  # both nodes ran block tasks
    assert got["blocks"] == 36 and got["matches_single_process"]


@pytest.mark.timeout(240)
def test_routers_on_both_nodes_still_get_the_stream():
    """Simulator -> KIS socket actor -> routers pinned alternately to the two nodes (plus one the
    socket actor creates itself on first data): every router reports its node, both nodes hold
    routers, and every router's trade channel delivers. Whatever node the socket actor landed on,
    some routers are on the other one, so the stream crosses nodes."""
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled",
               PYTHONPATH=str(ROOT))
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-m", "tests.jobs.multinode_stream_probe"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=200)
    lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
    assert lines, f"probe printed no result (rc={done.returncode}): {done.stderr[-3000:]}"
    got = json.loads(lines[-1])
    assert "failure" not in got, f"{got['failure']}; seen so far: {got}"
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(got["alive_nodes"]) == 2
    nodes = got["router_nodes"]
    assert len(nodes) == 5
    for sym, node in got["placed_on"].items():
        assert nodes[sym] == node, f"router {sym} not on the node it was placed on"
    assert set(nodes.values()) == set(got["alive_nodes"]), f"routers not on both nodes: {nodes}"
    assert all(n >= 3 for n in got["trades"].values()), got["trades"]
    assert all(p for p in got["latest_trade_price"].values()), got["latest_trade_price"]
