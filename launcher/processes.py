"""Child processes of a run: the Ray head and the simulator.

The Ray head is `ray start --head --block` in its own session: SIGTERM to it makes Ray stop the
processes it started (GCS, raylet, dashboard, workers), and its reaper cleans up if it is killed.
Every process of our head carries our private `--temp-dir` on its command line, which is how a
later `make run` / `make stop` finds leftovers after a crash. `ray stop` is never used: it stops
every Ray on the machine, including other people's.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from .state import process_matches


class StartError(RuntimeError):
    """A component did not come up; the message says which and where its log is."""


def ray_cli() -> str:
    exe = Path(sys.executable).with_name("ray")
    return str(exe) if exe.exists() else "ray"


def start_ray_head(*, port: int, dashboard_port: int, temp_dir: str, num_cpus: int, log_path: Path,
                   env: dict[str, str]) -> subprocess.Popen:
    Path(temp_dir).mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The dashboard agent (52365) and Ray client (10001) defaults collide with any other Ray on
    # the machine (a shared box, a test session): take them when free, else any free port.
    agent_port = free_port()
    client_port = int(env.get("RAY_CLIENT_PORT") or (10001 if not port_open("127.0.0.1", 10001) else free_port()))
    cmd = [ray_cli(), "start", "--head", "--block", f"--port={port}", f"--num-cpus={num_cpus}",
           f"--dashboard-agent-listen-port={agent_port}", f"--ray-client-server-port={client_port}",
           "--node-ip-address=127.0.0.1", "--include-dashboard=true", "--dashboard-host=127.0.0.1",
           f"--dashboard-port={dashboard_port}", f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    with open(log_path, "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)


def wait_for_ray(address: str, proc: subprocess.Popen | None, log_path: Path, timeout_s: float = 90.0) -> None:
    """Until the GCS answers on `address` (host:port)."""
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StartError(f"ray start exited with {proc.returncode}; see {log_path}")
        if port_open(host, int(port)):
            return
        time.sleep(0.2)
    raise StartError(f"Ray head not reachable on {address} after {timeout_s:.0f} s; see {log_path}")


def ray_processes(temp_dir: str) -> list[psutil.Process]:
    """Processes of the head started with this temp dir, with their descendants (workers)."""
    roots = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if temp_dir in " ".join(p.info["cmdline"] or ()):
                roots.append(p)
        except (psutil.Error, OSError):
            continue
    seen = {p.pid: p for p in roots}
    for p in roots:
        try:
            for c in p.children(recursive=True):
                seen.setdefault(c.pid, c)
        except psutil.Error:
            continue
    seen.pop(os.getpid(), None)
    return list(seen.values())


def stop_ray_head(head_pid: int | None, temp_dir: str, timeout_s: float = 8.0) -> list[str]:
    """SIGTERM the `ray start --block` process and every process of the head; SIGKILL what is
    left after `timeout_s`. Returns the processes that needed SIGKILL."""
    procs = ray_processes(temp_dir)
    if process_matches(head_pid, "ray", temp_dir):
        try:
            os.kill(head_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    # `ray start --block` alone can take 30 s+ once actors and Serve have run (graceful drain);
    # like `ray stop`, every process of the head gets SIGTERM at once, SIGKILL after the grace
    # (the launcher has flushed the candle writer before; nothing else holds unsaved state).
    alive = _wait_gone(procs, 1.0)
    stubborn: list[str] = []
    for sig_fn in (psutil.Process.terminate, psutil.Process.kill):
        if not alive:
            break
        if sig_fn is psutil.Process.kill:
            stubborn = [_name(p) for p in alive]
        for p in alive:
            try:
                sig_fn(p)
            except psutil.Error:
                pass
        alive = _wait_gone(alive, timeout_s if sig_fn is psutil.Process.terminate else 5.0)
    return stubborn


def _name(p: psutil.Process) -> str:
    try:
        cmd = p.cmdline()
        return (cmd[0].strip() if cmd and cmd[0].startswith("ray::") else p.name()) or str(p.pid)
    except (psutil.Error, IndexError):
        return str(p.pid)


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait until every process has exited (a zombie counts as exited; our own children are
    reaped). Returns those still alive at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        for p in procs:
            try:
                os.waitpid(p.pid, os.WNOHANG)  # reap if it is our child
            except (ChildProcessError, OSError):
                pass
        alive = [p for p in procs if _alive(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def start_simulator(*, host: str, rest_port: int, ws_port: int, log_path: Path, env: dict[str, str],
                    extra: list[str]) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "simulator", "--host", host, "--rest-port", str(rest_port),
           "--ws-port", str(ws_port), *extra]
    with open(log_path, "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)


def wait_for_ports(host: str, ports: list[int], proc: subprocess.Popen | None, what: str, log_path: Path,
                   timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StartError(f"{what} exited with {proc.returncode}; see {log_path}")
        if all(port_open(host, p) for p in ports):
            return
        time.sleep(0.1)
    raise StartError(f"{what} not listening on {host}:{ports} after {timeout_s:.0f} s; see {log_path}")


def stop_pid(pid: int | None, *needles: str, timeout_s: float = 10.0) -> bool:
    """SIGTERM (then SIGKILL) a process of ours; True when it was running."""
    if not process_matches(pid, *needles):
        return False
    proc = psutil.Process(pid)
    for sig_fn, wait_s in ((psutil.Process.terminate, timeout_s), (psutil.Process.kill, 5.0)):
        try:
            sig_fn(proc)
        except psutil.Error:
            return True
        if not _wait_gone([proc], wait_s):
            return True
    return True


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
