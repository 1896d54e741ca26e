"""Helpers for stream tests: the gateway app under uvicorn in a background thread, talking to the real
Ray actors (socket actor, routers), plus a small JSON WebSocket client."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import uvicorn
import websockets

from actors.kis_socket import get_or_create_socket_actor


class GatewayServer:
    """uvicorn serving `app` on 127.0.0.1:<ephemeral> in its own thread and event loop."""

    def __init__(self, app, sndbuf: int | None = None) -> None:
        self.app = app
        # Accepted sockets inherit SO_SNDBUF from the listening socket: a small one makes a client
        # that stops reading push back on the gateway within KBs instead of MBs of kernel buffer.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.bind(("127.0.0.1", 0))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="off", ws_max_size=1 << 20,
                                                    ws_ping_interval=None))  # a stuck test client stays
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, name="gateway",
                                       daemon=True)
        self.port = 0

    def start(self, timeout: float = 20.0) -> "GatewayServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.02)
        self.port = self.sock.getsockname()[1]
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


def start_stack(env, gateway: dict | None = None, sndbuf: int | None = None, **opts):
    """Socket actor for the env's simulator + a gateway app bound to it. Returns (actor, gateway).
    `gateway`: keyword arguments of serve_app.stream.install_stream (queue bounds, api_key...)."""
    from serve_app.stream import create_stream_app
    actor = get_or_create_socket_actor(env.settings, env.options(**opts))
    gw = GatewayServer(create_stream_app(env.settings, **(gateway or {})), sndbuf).start()
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
