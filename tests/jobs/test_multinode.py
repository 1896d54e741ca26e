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
