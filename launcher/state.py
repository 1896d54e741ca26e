"""The run-state file `<data_dir>/run.json`: what one `make run` started, so that Ctrl-C,
`make stop` (another shell) and the next `make run` after a crash stop exactly that and nothing else.

Written before each component starts (so a crash mid-start still leaves a complete list) and
removed when the run has stopped everything. Pids are checked against their command line before
any signal is sent, so a recycled pid never gets killed.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

STATE_NAME = "run.json"


@dataclass
class RunState:
    launcher_pid: int
    data_dir: str
    serve_port: int
    urls: dict[str, str] = field(default_factory=dict)
    ray_address: str | None = None
    ray_head_pid: int | None = None  # the `ray start --head --block` process (own session)
    ray_temp_dir: str | None = None  # our head's --temp-dir: every process of it names it
    simulator_pid: int | None = None
    pg_data_dir: str | None = None  # set only when this run started the embedded server
    actors: list[str] = field(default_factory=list)  # detached actors this run created
    serve_deployed: bool = False
    serve_started: bool = False  # Serve was not running on the cluster before this run

    @staticmethod
    def path(data_dir: str | os.PathLike) -> Path:
        return Path(data_dir) / STATE_NAME

    def save(self) -> None:
        p = self.path(self.data_dir)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(p)  # atomic: a reader never sees half a file

    @classmethod
    def load(cls, data_dir: str | os.PathLike) -> "RunState | None":
        try:
            raw = json.loads(cls.path(data_dir).read_text())
        except (OSError, ValueError):
            return None
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except TypeError:
            return None

    def remove(self) -> None:
        self.path(self.data_dir).unlink(missing_ok=True)


def process_matches(pid: int | None, *needles: str) -> bool:
    """The pid is alive and its command line contains every needle (guards against pid reuse)."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmd = " ".join(proc.cmdline())
    except (psutil.Error, OSError):
        return False
    return all(n in cmd for n in needles)


def launcher_alive(state: RunState) -> bool:
    return state.launcher_pid != os.getpid() and process_matches(state.launcher_pid, "launcher")
