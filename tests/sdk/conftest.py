"""SDK tests against a running backend: the integration fixtures (session Ray, throwaway Postgres,
a simulator per test) plus the full API app (HTTP + /ws) under uvicorn, restartable on its port."""
from __future__ import annotations

import socket
import threading

import pytest

from tests.integration.conftest import make_env, pg_dsn, ray_env, ray_session  # noqa: F401
from tests.integration.stream_env import GatewayServer

SYMS = ("005930", "000660", "035420")


class PortServer(GatewayServer):
    """GatewayServer on a given port (0: ephemeral), so a restart keeps the client's URL."""

    def __init__(self, app, port: int = 0) -> None:
        super().__init__(app)
        if port:
            self.sock.close()
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", port))
            self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                           name="gateway", daemon=True)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Backend:
    """Simulator + socket actor + routers (Ray) + the API app (create_app with RayLiveSource)."""

    def __init__(self, env, dsn: str, monkeypatch, port: int = 0, api_key: str | None = None) -> None:
        from actors.kis_socket import get_or_create_socket_actor
        self.env, self.dsn, self.api_key = env, dsn, api_key
        # the app's /ws gateway finds the socket actor through Settings.from_env()
        for k, v in {"KIS_APP_KEY": env.app_key, "KIS_APP_SECRET": env.app_secret,
                     "SIM_REST_PORT": str(env.settings.sim_rest_port),
                     "SIM_WS_PORT": str(env.settings.sim_ws_port)}.items():
            monkeypatch.setenv(k, v)
        self.actor = get_or_create_socket_actor(env.settings, env.options())
        self.port = port or free_port()
        self.server: PortServer | None = None

    def app(self):
        from serve_app.app import ApiConfig, create_app
        from serve_app.live_ray import RayLiveSource
        app = create_app(ApiConfig(dsn=self.dsn, change_feed=False, api_key=self.api_key),
                         live=RayLiveSource(self.env.settings))

        @app.post("/_test/drop_sockets")
        async def drop_sockets() -> dict:
            """Close every client WebSocket from the server side (the gateway itself stays up)."""
            hub = app.state.stream_hub
            return {"dropped": await hub.close_clients() if hub is not None else 0}
        return app

    def start(self) -> "Backend":
        self.server = PortServer(self.app(), self.port).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self) -> None:
        """Server-side disconnect of every client: the gateway process goes away and comes back."""
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def backend(ray_env, make_env, pg_dsn, monkeypatch):  # noqa: F811
    env = make_env(symbols=SYMS, rate=20.0, book_rate=10.0)
    b = Backend(env, pg_dsn, monkeypatch).start()
    yield b
    b.stop()
