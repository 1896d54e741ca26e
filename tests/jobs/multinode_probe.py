"""Run by test_multinode.py in its own process: a two-node ray.cluster_utils.Cluster on this
machine, the correlation job's block tasks on it, and a JSON line with what ran where.
(Cluster needs its own head, so it cannot share a process with the session's ray.init.)"""
from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from backbone import correlation as C  # noqa: E402
from jobs.correlation import correlate_on_ray  # noqa: E402

MB = 1024 * 1024


def main() -> int:
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 80 * MB, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1, object_store_memory=80 * MB)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        alive = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        rng = np.random.default_rng(3)
        returns = rng.normal(size=(120, 40)) + rng.normal(size=(120, 1))
        returns[rng.random(returns.shape) < 0.05] = np.nan
        symbols = [f"S{i:02d}" for i in range(40)]
        res = correlate_on_ray(symbols, returns, k=3, min_overlap=60, block=5)
        ref, _ = C.correlate_topk(returns, 3, 60, block=40)
        same = bool(np.array_equal(res.top.pos_idx, ref.pos_idx)
                    and np.allclose(res.top.pos_r, ref.pos_r) and np.allclose(res.top.neg_r, ref.neg_r))
        print(json.dumps({"alive_nodes": alive, "task_nodes": sorted(res.nodes), "blocks": res.blocks,
                          "matches_single_process": same}), flush=True)
        return 0
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
