"""The HTTP API as a Ray Serve deployment (FastAPI ingress), built on each replica.

`app` is the bound application used by `serve deploy serve_config.yaml` and `serve.run`;
`build_app(args)` is the typed builder for YAML `args:` / scripts (dsn, max_rows, ...). The
FastAPI app is created inside the replica (late-bound ingress), so its pool, cache and change
feed live in the replica's event loop. Configuration otherwise comes from the environment
(`DATABASE_URL`, `API_KEY`), as everywhere in the project.

Replicas are I/O bound: `num_cpus: 0` so they fit next to the actors on a 2-CPU node. The
stream gateway (`/ws`, serve_app.stream) is mounted on the same app when present.
"""
from __future__ import annotations

import logging
from typing import Any

from ray import serve

from .app import ApiConfig, create_app
from .live import NoLiveSource

log = logging.getLogger("serve_app")
DEPLOYMENT_NAME = "api"
APP_NAME = "api"


def _live_source():
    """The Ray-backed live source when the live actors are importable, else NoLiveSource."""
    try:
        from .live_ray import RayLiveSource
    except ImportError:  # the live actors are not part of this build
        return NoLiveSource()
    return RayLiveSource()


def _mount_stream_gateway(app, config: ApiConfig) -> None:
    """The /ws gateway (serve_app.stream, issue 4) on the same app, when it is part of the build.
    A WebSocket holds one request slot for its whole life: hence max_ongoing_requests below."""
    try:
        from .stream import install_stream
    except ImportError:
        log.info("no stream gateway in this build: serving the HTTP API only")
        return
    from backbone.settings import Settings
    install_stream(app, settings=Settings.from_env(), api_key=config.api_key)


@serve.deployment(name=DEPLOYMENT_NAME, ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000,
                  health_check_period_s=10)
@serve.ingress()
class ApiDeployment:
    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        # ApiConfig fields only (dsn, max_rows, cache_ttl_s, warm_symbols, ...).
        self._config = ApiConfig.from_settings(**(overrides or {}))

    def __serve_build_asgi_app__(self):
        log.info("building the API app on this replica: %r", self._config)
        from backbone.settings import Settings

        from .market_clock import market_clock_from_settings
        # With the simulator as the market, "now" is the simulator's clock (see market_clock.py).
        app = create_app(self._config, live=_live_source(), clock=market_clock_from_settings(Settings.from_env()))
        _mount_stream_gateway(app, self._config)
        return app


def build_app(args: dict[str, Any] | None = None):
    """Typed application builder: `serve run serve_app.deployment:build_app dsn=...`."""
    overrides = dict(args or {})
    if "warm_symbols" in overrides and isinstance(overrides["warm_symbols"], str):
        overrides["warm_symbols"] = tuple(s for s in overrides["warm_symbols"].split(",") if s)
    for key in ("max_rows", "cache_max_entries"):
        if key in overrides:
            overrides[key] = int(overrides[key])
    return ApiDeployment.bind(overrides)


app = ApiDeployment.bind()
