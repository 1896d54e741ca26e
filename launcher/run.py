"""The `make run` sequence and its shutdown; `stop` for `make stop`.

Order: settings -> stale state of a crashed run -> PostgreSQL (+ migrations) and the simulator ->
Ray head -> actors -> Serve -> watchlist -> sector cycle -> URLs, then the foreground wait.
Whatever fails, the `finally` stops what this run started, in reverse order, and nothing else.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from backbone.settings import NAMESPACE, Settings

from . import processes as P
from .state import RunState, launcher_alive, process_matches
from .watchlist import WatchlistError, parse_watchlist


class Interrupted(Exception):
    """SIGINT / SIGTERM: stop what was started."""


def say(msg: str) -> None:
    print(msg, flush=True)


def _on_signal(signum, _frame) -> None:
    raise Interrupted(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def ray_temp_dir(data_dir: Path) -> str:
    """Private --temp-dir of our head: short (Unix socket paths), stable per data dir (so a later
    run finds a crashed run's processes), and never /tmp/ray (other people's clusters)."""
    env = os.environ.get("RAY_TEMP_DIR")
    return env or f"/tmp/kisbb-ray-{hashlib.sha256(str(data_dir).encode()).hexdigest()[:10]}"


def cleanup(state: RunState, *, verbose: bool = True) -> None:
    """Stop the processes a run recorded (crashed run, `make stop` when the launcher is gone)."""
    if state.ray_temp_dir and (state.ray_head_pid or P.ray_processes(state.ray_temp_dir)):
        P.stop_ray_head(state.ray_head_pid, state.ray_temp_dir)
        verbose and say(f"  stopped Ray head ({state.ray_temp_dir})")
    if P.stop_pid(state.simulator_pid, "-m", "simulator"):
        verbose and say(f"  stopped simulator (pid {state.simulator_pid})")
    if state.pg_data_dir and stop_embedded_pg(state.pg_data_dir):
        verbose and say(f"  stopped PostgreSQL ({state.pg_data_dir})")
    state.remove()


def stop_embedded_pg(data_dir: str) -> bool:
    """Stop the embedded server on `data_dir` if it runs (start() adopts it: same system user)."""
    from storage.embedded import EmbeddedPostgres
    pg = EmbeddedPostgres(data_dir)
    if not pg.is_running():
        return False
    pg.start().stop()
    return True


def stop_command(data_dir: Path) -> int:
    state = RunState.load(data_dir)
    if state is None:
        say(f"nothing to stop: no run state in {data_dir}")
        return 0
    if launcher_alive(state):
        say(f"stopping the run (launcher pid {state.launcher_pid}) ...")
        os.kill(state.launcher_pid, signal.SIGTERM)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process_matches(state.launcher_pid, "launcher"):
            time.sleep(0.2)
        if not process_matches(state.launcher_pid, "launcher"):
            say("stopped")
            if RunState.load(data_dir) is None:
                return 0
    say("cleaning up what the run left behind:")
    cleanup(RunState.load(data_dir) or state)
    return 0


class Run:
    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.logs = data_dir / "logs"
        self.state = RunState(launcher_pid=os.getpid(), data_dir=str(data_dir), serve_port=settings.serve_port)
        self.ray_head: subprocess.Popen | None = None
        self.simulator: subprocess.Popen | None = None
        self.pg = None
        self.sectors = None
        self.ray_connected = False
        self.step_no = 0

    def step(self, what: str) -> float:
        self.step_no += 1
        say(f"[{self.step_no}/7] {what} ...")
        return time.monotonic()

    def done(self, t0: float, detail: str = "") -> None:
        say(f"      ok ({time.monotonic() - t0:.1f} s){' ' + detail if detail else ''}")

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        s = self.settings
        watchlist = parse_watchlist(os.environ.get("WATCHLIST"))
        self._check_ports()
        self.state.save()

        t0 = self.step("PostgreSQL")
        if s.database_url is not None:
            dsn = s.database_url.get_secret_value()
            self.done(t0, "DATABASE_URL")
        else:
            from storage.embedded import EmbeddedPostgres
            pg = EmbeddedPostgres(self.data_dir / "pg", port=int(os.environ.get("EMBEDDED_PG_PORT", "0") or 0))
            self.state.pg_data_dir = str(pg.data_dir)  # recorded first: a crash mid-start is cleaned up
            self.state.save()
            pg.start()
            if pg.owned:
                self.pg = pg
            else:
                self.state.pg_data_dir = None  # someone else's server: adopt, never stop it
            self.state.save()
            dsn = pg.dsn
            self.done(t0, f"embedded, {pg.data_dir}, port {pg.port}{'' if pg.owned else ' (adopted)'}")

        if s.uses_simulator:
            extra = []
            if os.environ.get("SIM_SPEED"):
                extra += ["--speed", os.environ["SIM_SPEED"]]
            if os.environ.get("SIM_CLOCK"):
                extra += ["--clock", os.environ["SIM_CLOCK"]]
            extra += shlex.split(os.environ.get("SIM_ARGS", ""))
            self.simulator = P.start_simulator(host=s.sim_host, rest_port=s.sim_rest_port, ws_port=s.sim_ws_port,
                                               log_path=self.logs / "simulator.log", env=dict(os.environ),
                                               extra=extra)
            self.state.simulator_pid = self.simulator.pid
            self.state.save()

        t0 = self.step("migrations")
        from storage.migrate import apply
        applied = asyncio.run(apply(dsn))
        self.done(t0, f"applied {applied}" if applied else "up to date")

        t0 = self.step("simulator" if s.uses_simulator else f"KIS {s.kis_env} (no simulator)")
        if self.simulator is not None:
            P.wait_for_ports(s.sim_host, [s.sim_rest_port, s.sim_ws_port], self.simulator, "simulator",
                             self.logs / "simulator.log")
            self.done(t0, f"REST {s.rest_base_url}, WS {s.ws_url}")
        else:
            self.done(t0, s.rest_base_url)

        t0 = self.step("Ray")
        self._start_ray(dsn)
        self.done(t0, self.state.ray_address or "")

        t0 = self.step("actors (KIS socket, candle writer, aggregate scheduler, alert sender)")
        from . import bootstrap as B
        socket, created = B.start_actors(s, dsn)
        self.state.actors = created
        self.state.save()
        self.done(t0, f"created {created}" if created else "all existed (attached)")

        t0 = self.step(f"Serve app on :{s.serve_port}")
        self.state.serve_started = not B.serve_running()
        self.state.serve_deployed = True
        self.state.save()
        B.deploy_serve(s, dsn, watchlist, s.api_key.get_secret_value() if s.api_key else None)
        P.wait_for_ports("127.0.0.1", [s.serve_port], None, "Serve", self.logs / "ray-head.log", timeout_s=60)
        self.done(t0)

        t0 = self.step(f"watchlist ({len(watchlist)} symbols, trades + books) and the 10 s sector cycle")
        result = B.subscribe_watchlist(socket, watchlist)
        states: dict[str, int] = {}
        for v in result.values():
            states[v] = states.get(v, 0) + 1
        self.sectors = B.SectorLoop(dsn)
        self.sectors.start()
        self.done(t0, ", ".join(f"{n} {k}" for k, n in sorted(states.items())))
        self._print_urls(watchlist)

    def _check_ports(self) -> None:
        """Fail before starting anything when a port we would bind is taken (another run, a test)."""
        s = self.settings
        wanted = {"SERVE_PORT": s.serve_port}
        if s.uses_simulator:
            wanted.update(SIM_REST_PORT=s.sim_rest_port, SIM_WS_PORT=s.sim_ws_port)
        if not s.ray_address:
            wanted.update(RAY_HEAD_PORT=int(os.environ.get("RAY_HEAD_PORT", "6379")),
                          RAY_DASHBOARD_PORT=int(os.environ.get("RAY_DASHBOARD_PORT", "8265")))
        taken = [f"{name}={port}" for name, port in wanted.items() if P.port_open("127.0.0.1", port)]
        if taken:
            raise P.StartError(f"port(s) already in use: {', '.join(taken)}; stop what uses them or set "
                               f"these variables to free ports" + ("" if s.ray_address else
                               " (or RAY_ADDRESS to join a running Ray)"))

    def _start_ray(self, dsn: str) -> None:
        import ray
        s = self.settings
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # one policy for every client we start
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        if s.ray_address:
            address = s.ray_address
        else:
            port = int(os.environ.get("RAY_HEAD_PORT", "6379"))
            dash = int(os.environ.get("RAY_DASHBOARD_PORT", "8265"))
            if P.port_open("127.0.0.1", port):
                raise P.StartError(f"port {port} is taken (another Ray?): set RAY_ADDRESS to join it, "
                                   f"or RAY_HEAD_PORT to start ours elsewhere")
            temp = ray_temp_dir(self.data_dir)
            env = dict(os.environ, BACKBONE_DATA_DIR=str(self.data_dir))
            if s.database_url is None:
                env["DATABASE_URL"] = dsn  # the embedded server, for every worker of this head
            self.state.ray_temp_dir = temp
            self.state.ray_address = address = f"127.0.0.1:{port}"
            self.state.urls["ray_dashboard"] = f"http://127.0.0.1:{dash}"
            self.state.save()
            cpus = int(os.environ.get("RAY_NUM_CPUS", "0") or 0) or max(2, os.cpu_count() or 2)
            for attempt in range(3):
                self.ray_head = P.start_ray_head(port=port, dashboard_port=dash, temp_dir=temp, num_cpus=cpus,
                                                 log_path=self.logs / "ray-head.log", env=env)
                self.state.ray_head_pid = self.ray_head.pid
                self.state.save()
                try:
                    P.wait_for_ray(address, self.ray_head, self.logs / "ray-head.log")
                    break
                except P.StartError as exc:
                    # `ray start` binds many auxiliary ports (agents, workers, metrics) that another
                    # Ray on the machine can take between our choice and its bind; it then exits.
                    # The head port itself was free: try again with fresh auxiliary ports.
                    if self.ray_head.poll() is None or attempt == 2 or P.port_open("127.0.0.1", port):
                        raise
                    say(f"  {exc}; starting the Ray head again (attempt {attempt + 2} of 3)")
                    P.stop_ray_head(self.ray_head.pid, temp)
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="WARNING")
        install_signal_handlers()  # ray.init replaces SIGTERM's handler with sys.exit
        self.ray_connected = True
        self.state.ray_address = address
        self.state.save()

    def _print_urls(self, watchlist: list[str]) -> None:
        s = self.settings
        base = f"http://127.0.0.1:{s.serve_port}"
        urls = {"dashboard": f"{base}/", "api": f"{base}/api/candles/{watchlist[0]}?interval=1m",
                "status": f"{base}/api/status", "websocket": f"ws://127.0.0.1:{s.serve_port}/ws",
                "streams": f"{base}/streams", "metrics": f"{base}/metrics", "healthz": f"{base}/healthz",
                "openapi": f"{base}/docs"}
        if "ray_dashboard" in self.state.urls:
            urls["ray_dashboard"] = self.state.urls["ray_dashboard"]
        if self.simulator is not None:
            urls["simulator"] = f"{s.rest_base_url}/_sim/stats"
        self.state.urls = urls
        self.state.save()
        width = max(len(k) for k in urls)
        say("\nKIS backbone is up" + (" (simulator)" if s.uses_simulator else f" (KIS {s.kis_env})"))
        for k, v in urls.items():
            say(f"  {k.ljust(width)}  {v}")
        say(f"  {'logs'.ljust(width)}  {self.logs}/")
        say("Ctrl-C (or `make stop` in another shell) stops everything this run started.\n")

    # ------------------------------------------------------------------ wait / stop
    def wait(self) -> None:
        warned = False
        while True:
            time.sleep(1.0)
            if self.ray_head is not None and self.ray_head.poll() is not None:
                say(f"the Ray head exited ({self.ray_head.returncode}); see {self.logs / 'ray-head.log'}")
                return
            if self.simulator is not None and self.simulator.poll() is not None and not warned:
                say(f"warning: the simulator exited ({self.simulator.returncode}); see {self.logs / 'simulator.log'}")
                warned = True

    def stop(self) -> None:
        say("stopping ...")
        from . import bootstrap as B
        steps = []
        if self.sectors is not None:
            steps.append(("sector cycle", self.sectors.stop))
        if self.ray_connected and (self.ray_head is not None or "candle-writer" in self.state.actors):
            steps.append(("candle writer flush", B.flush_candles))
        if self.ray_connected and self.ray_head is None:  # external cluster: remove only our parts
            steps.append(("Serve app and actors", lambda: B.remove_own(self.state)))
        if self.ray_connected:
            import ray
            steps.append(("Ray driver", ray.shutdown))
        if self.state.ray_temp_dir:
            steps.append(("Ray head", self._stop_ray_head))
        if self.state.simulator_pid:
            steps.append(("simulator", lambda: P.stop_pid(self.state.simulator_pid, "-m", "simulator")))
        if self.state.pg_data_dir:
            steps.append(("PostgreSQL", self._stop_pg))
        for name, fn in steps:
            t0 = time.monotonic()
            try:
                fn()
                say(f"  {name}: done ({time.monotonic() - t0:.1f} s)")
            except BaseException as exc:  # noqa: BLE001 - go on stopping the rest
                say(f"  {name}: {type(exc).__name__}: {exc}")
        self.state.remove()
        say("stopped")

    def _stop_ray_head(self) -> None:
        killed = P.stop_ray_head(self.state.ray_head_pid, self.state.ray_temp_dir)
        if killed:
            names = sorted(set(killed))
            say(f"  ({len(killed)} Ray processes needed SIGKILL after the grace period: {', '.join(names[:8])}"
                f"{' ...' if len(names) > 8 else ''})")

    def _stop_pg(self) -> None:
        if self.pg is not None:
            self.pg.stop()
        else:
            stop_embedded_pg(self.state.pg_data_dir)


def _config_error(exc: ValueError) -> str:
    from pydantic import ValidationError
    if isinstance(exc, ValidationError):
        return "bad configuration: " + "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors(include_input=False))
    return str(exc)  # check_production / WatchlistError: names only


def run_command(data_dir: Path) -> int:
    try:
        settings = Settings.from_env()
        settings.check_production()
        parse_watchlist(os.environ.get("WATCHLIST"))
    except ValueError as exc:  # pydantic's ValidationError is one; never echo the input (secrets)
        say(f"make run: {_config_error(exc)}")
        return 2
    data_dir.mkdir(parents=True, exist_ok=True)
    old = RunState.load(data_dir)
    if old is not None and launcher_alive(old):
        say(f"already running (launcher pid {old.launcher_pid}); nothing started. `make stop` stops it.")
        for k, v in old.urls.items():
            say(f"  {k}  {v}")
        return 1
    if old is not None:
        say("a previous run did not stop cleanly; cleaning up what it left:")
        cleanup(old)
    run = Run(settings, data_dir)
    install_signal_handlers()
    code = 0
    try:
        run.start()
        run.wait()
        code = 1
    except Interrupted as why:
        say(f"\n{why}")
    except P.StartError as exc:
        say(f"start failed: {exc}")
        code = 1
    except Exception as exc:  # noqa: BLE001 - stop what was started, then report
        import traceback
        traceback.print_exc()
        say(f"start failed: {type(exc).__name__}: {exc}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        run.stop()
    return code


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "run"
    # Ray's absl failure handler (installed by ray.init) would log SIGTERM as a crash and take
    # the driver down mid-shutdown; the launcher handles SIGTERM itself. Read when ray imports.
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    data_dir = Path(os.environ.get("BACKBONE_DATA_DIR") or ".data").resolve()
    os.environ["BACKBONE_DATA_DIR"] = str(data_dir)
    if cmd == "run":
        return run_command(data_dir)
    if cmd == "stop":
        return stop_command(data_dir)
    print("usage: python -m launcher [run|stop]", file=sys.stderr)
    return 2
