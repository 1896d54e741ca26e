"""`make run` end to end: the launcher as a subprocess, on private ports and a private data dir
and Ray head, reaches a healthy /healthz, serves 1m candles for a watchlist symbol, reports the
upstream connected; SIGINT then stops everything it started (Ray head, simulator, PostgreSQL).

The simulator's clock runs a trading session at 60x so a candle closes every real second.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import psutil
import pytest

from launcher.processes import free_port, ray_processes
from launcher.state import RunState

REPO = Path(__file__).resolve().parents[2]
SYMBOL = "005930"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _wait(what: str, probe, timeout_s: float, proc: subprocess.Popen, out: Path):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"launcher exited ({proc.returncode}) before {what}:\n{out.read_text()[-3000:]}"
        try:
            last = probe()
            if last:
                return last
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(0.5)
    pytest.fail(f"no {what} within {timeout_s:.0f} s (last: {last!r:.300}); launcher output:\n{out.read_text()[-3000:]}")


def _postmaster_pid(pg_dir: Path) -> int | None:
    try:
        return int((pg_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture
def run_dir():
    # short paths: Ray's Unix sockets live under the temp dir
    d = Path(tempfile.mkdtemp(prefix="kisbb-e2e-", dir="/tmp"))
    yield d
    import shutil
    shutil.rmtree(d, ignore_errors=True)


def test_make_run_serves_candles_and_stops_everything(run_dir: Path):
    serve_port, rest_port, ws_port, head_port, dash_port = (free_port() for _ in range(5))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KIS_", "RAY_", "SIM_")) and k not in ("DATABASE_URL", "API_KEY", "VITE_API_KEY")}
    env.update(SERVE_PORT=str(serve_port), SIM_REST_PORT=str(rest_port), SIM_WS_PORT=str(ws_port),
               RAY_HEAD_PORT=str(head_port), RAY_DASHBOARD_PORT=str(dash_port), RAY_NUM_CPUS="2",
               RAY_TEMP_DIR=str(run_dir / "ray"), BACKBONE_DATA_DIR=str(run_dir / "data"),
               SIM_CLOCK="session", SIM_SPEED="60", WATCHLIST=f"{SYMBOL},000660",
               RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1")
    out = run_dir / "launcher.out"
    with open(out, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "launcher", "run"], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{serve_port}"
    state = None
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            _wait("healthy /healthz", lambda: http.get("/healthz").json()["status"] == "ok", 180, proc, out)
            state = RunState.load(run_dir / "data")
            assert state is not None and state.launcher_pid == proc.pid
            assert state.ray_head_pid and state.simulator_pid and state.pg_data_dir

            def upstream_connected():  # the watchlist is subscribed just after Serve is up
                sock = http.get("/api/status").json()["upstream"]["socket"]
                return sock["connection"]["state"] == "connected" and sock["registrations"]["live"] >= 1
            _wait("upstream connected with live registrations in /api/status", upstream_connected, 90, proc, out)

            now = datetime.now(timezone.utc)
            params = {"interval": "1m", "fill": "false", "from": (now - timedelta(days=6)).date().isoformat(),
                      "to": (now + timedelta(days=6)).date().isoformat()}

            def candles():
                r = http.get(f"/api/candles/{SYMBOL}", params=params)
                return r.json()["candles"] if r.status_code == 200 and r.json()["candles"] else None
            rows = _wait(f"1m candles of {SYMBOL}", candles, 90, proc, out)
            assert all(c["time"].endswith("+09:00") and c["volume"] >= 0 for c in rows)
            assert all(c["low"] <= c["open"] <= c["high"] and c["low"] <= c["close"] <= c["high"] for c in rows)

        # a second launcher on the same data dir says so and starts nothing
        second = subprocess.run([sys.executable, "-m", "launcher", "run"], cwd=REPO, env=env, timeout=60,
                                capture_output=True, text=True)
        assert second.returncode == 1 and "already running" in second.stdout

        ray_procs = ray_processes(state.ray_temp_dir)
        assert ray_procs, "the Ray head's processes should be found by their temp dir"
        pg_pid = _postmaster_pid(Path(state.pg_data_dir))
        assert pg_pid is not None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0, out.read_text()[-3000:]
    finally:
        if proc.poll() is None:  # the test failed mid-way: stop it the way `make stop` does
            subprocess.run([sys.executable, "-m", "launcher", "stop"], cwd=REPO, env=env, timeout=150)
            proc.wait(timeout=30)

    text = out.read_text()
    assert "stopped" in text and "Traceback" not in text, text[-3000:]
    alive = [p for p in ray_procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"Ray processes left: {alive}"
    assert not ray_processes(state.ray_temp_dir)
    assert _dead(state.simulator_pid), "the simulator should be stopped"
    assert _dead(pg_pid), "the embedded PostgreSQL should be stopped"
    assert RunState.load(run_dir / "data") is None, "the run state file should be removed"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/healthz", timeout=2)


def _dead(pid: int, grace_s: float = 5.0) -> bool:
    """Exited (a zombie not yet reaped by init counts as exited)."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
