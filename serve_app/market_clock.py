"""The API's "now" when the market is the local simulator.

When the real KRX is closed, the simulator runs a simulated session (e.g. last Friday's, possibly
faster than real time), so every exchange timestamp follows the simulator's clock, not the wall
clock. Gap filling and default ranges must use that same "now": with the wall clock, a simulated
Friday session seen on a Sunday would be filled flat up to its close although it is only at 09:05.

`SimulatorClock` reads the simulator's clock from `/_sim/stats` and extrapolates between reads
(now = simulated time at the last read + elapsed monotonic time x speed). A background thread
re-reads it, so a request never waits on the simulator; until the first read succeeds (or when the
simulator is not there) it answers the wall clock.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx

log = logging.getLogger(__name__)


def parse_sim_clock(stats: dict) -> tuple[datetime, float] | None:
    """(simulated now, speed) from a /_sim/stats answer, or None when it has no usable clock."""
    clock = stats.get("clock") if isinstance(stats, dict) else None
    if not isinstance(clock, dict):
        return None
    try:
        now = datetime.fromisoformat(str(clock["now"]))
        speed = float(clock.get("speed", 1.0))
    except (KeyError, TypeError, ValueError):
        return None
    if now.tzinfo is None or speed <= 0:
        return None
    return now, speed


class SimulatorClock:
    def __init__(self, stats_url: str, resync_s: float = 15.0, timeout_s: float = 1.0) -> None:
        self._url = stats_url
        self._resync_s = resync_s
        self._timeout_s = timeout_s
        self._anchor: tuple[datetime, float, float] | None = None  # (sim now, monotonic, speed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulator-clock", daemon=True)
        self._thread.start()

    def __call__(self) -> datetime:
        anchor = self._anchor
        if anchor is None:
            return datetime.now(timezone.utc)
        sim_now, mono, speed = anchor
        return (sim_now + timedelta(seconds=(time.monotonic() - mono) * speed)).astimezone(timezone.utc)

    @property
    def synced(self) -> bool:
        return self._anchor is not None

    def sync_once(self) -> bool:
        try:
            r = httpx.get(self._url, timeout=self._timeout_s)
            parsed = parse_sim_clock(r.json()) if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("simulator clock not read: %s", type(exc).__name__)
            return False
        if parsed is None:
            return False
        self._anchor = (parsed[0], time.monotonic(), parsed[1])
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sync_once()
            self._stop.wait(self._resync_s if self._anchor else 1.0)

    def close(self) -> None:
        self._stop.set()


def market_clock_from_settings(settings) -> SimulatorClock | None:
    """The simulator's clock when the market is the simulator (KIS_ENV unset), else None (wall
    clock). MARKET_CLOCK=wall forces the wall clock."""
    import os

    if not settings.uses_simulator or os.environ.get("MARKET_CLOCK", "").lower() == "wall":
        return None
    return SimulatorClock(settings.rest_base_url + "/_sim/stats")
