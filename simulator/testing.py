"""Helpers for tests of other parts: run a simulator on ephemeral ports.

- `async with running_simulator(**config) as sim:` on the caller's event loop.
- `SimulatorThread(**config)`: its own loop in a background thread, for callers that block
  (e.g. a test thread waiting on Ray actors that connect over the network). `.start()` returns
  once both ports are bound; `.call(fn, *args)` runs a control method thread-safely.
Config keywords are the fields of simulator.config.SimulatorConfig; ports default to 0 here.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, AsyncIterator, Callable

from .server import Simulator


def _ephemeral(config: dict[str, Any]) -> dict[str, Any]:
    config.setdefault("rest_port", 0)
    config.setdefault("ws_port", 0)
    return config


@contextlib.asynccontextmanager
async def running_simulator(**config: Any) -> AsyncIterator[Simulator]:
    sim = Simulator(**_ephemeral(config))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


class SimulatorThread:
    def __init__(self, **config: Any) -> None:
        self._config = _ephemeral(config)
        self.sim: Simulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped: asyncio.Event | None = None

    def start(self, timeout: float = 30.0) -> "SimulatorThread":
        self._thread = threading.Thread(target=self._run, name="kis-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("simulator did not start")
        if self._error is not None:
            raise RuntimeError("simulator failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        try:
            self.sim = Simulator(**self._config)
            await self.sim.start()
        except BaseException as e:  # reported to start()
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        await self.sim.stop()

    @property
    def rest_url(self) -> str:
        assert self.sim is not None
        return self.sim.rest_url

    @property
    def ws_url(self) -> str:
        assert self.sim is not None
        return self.sim.ws_url

    def call(self, fn: Callable[..., Any] | str, *args: Any, timeout: float = 30.0) -> Any:
        """Run `fn(*args)` (a Simulator method or its name; sync or async) on the simulator's loop."""
        assert self._loop is not None and self.sim is not None
        target = getattr(self.sim, fn) if isinstance(fn, str) else fn

        async def run() -> Any:
            result = target(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stats(self) -> dict:
        return self.call("stats")

    def candles(self, symbol: str) -> list[dict]:
        return self.call("candles", symbol)

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stopped is not None and self._thread is not None:
            if self._thread.is_alive():
                self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout)

    def __enter__(self) -> "SimulatorThread":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
