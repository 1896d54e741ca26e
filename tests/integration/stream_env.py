"""Helpers for stream tests: the gateway app under uvicorn in a background thread, talking to the real
Ray actors (socket actor, routers), plus a small JSON WebSocket client."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import uvicorn
import websockets

from actors.kis_socket import get_or_create_socket_actor


class GatewayServer:
    """uvicorn serving `app` on 127.0.0.1:<ephemeral> in its own thread and event loop."""

    def __init__(self, app) -> None:
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="off", ws_max_size=1 << 20))
        self.thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)
        self.port = 0

    def start(self, timeout: float = 20.0) -> "GatewayServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def hub(self):
        return self.app.state.stream_hub

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_stack(env, **opts):
    """Socket actor for the env's simulator + a gateway app bound to it. Returns (actor, gateway)."""
    from serve_app.stream import create_stream_app
    actor = get_or_create_socket_actor(env.settings, env.options(**opts))
    gw = GatewayServer(create_stream_app(env.settings)).start()
    return actor, gw


class WsClient:
    """Collects every message; helpers wait for conditions with a timeout (never hang)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.messages: list[dict] = []

    @classmethod
    async def connect(cls, url: str, **kw) -> "WsClient":
        return cls(await websockets.connect(url, open_timeout=10, close_timeout=2, max_size=None, **kw))

    async def send(self, obj) -> None:
        await self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    async def recv(self, timeout: float = 10.0) -> dict:
        m = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.messages.append(m)
        return m

    async def until(self, pred, timeout: float = 20.0, what: str = "message") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; got {len(self.messages)} messages, "
                                     f"last: {self.messages[-3:]!r}")
            try:
                m = await self.recv(left)
            except asyncio.TimeoutError:
                continue
            if pred(m):
                return m

    async def close(self) -> None:
        await self.ws.close()
