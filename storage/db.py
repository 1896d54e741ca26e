"""Connection helpers: the asyncpg pool and the DSN the project uses.

With DATABASE_URL set, that database is used; without it, the embedded cluster under
`<data_dir>/pg` is started (and adopted if it already runs).
"""
from __future__ import annotations

import os
from pathlib import Path

import asyncpg

from backbone.settings import Settings

from .embedded import EmbeddedPostgres


async def connect_pool(dsn: str, *, min_size: int = 1, max_size: int = 4, **kwargs) -> asyncpg.Pool:
    """A pool whose connections use UTC and fail fast instead of hanging on a dead server."""
    kwargs.setdefault("timeout", 10)
    kwargs.setdefault("command_timeout", 120)
    server_settings = {"timezone": "UTC", "application_name": "kis-backbone"}
    server_settings.update(kwargs.pop("server_settings", {}) or {})
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                     server_settings=server_settings, **kwargs)


def embedded_for(settings: Settings | None = None, *, port: int = 0) -> EmbeddedPostgres:
    settings = settings or Settings.from_env()
    return EmbeddedPostgres(Path(settings.data_dir) / "pg", port=port)


def resolve_dsn(settings: Settings | None = None) -> tuple[str, EmbeddedPostgres | None]:
    """(dsn, embedded server or None). Starts the embedded cluster when DATABASE_URL is unset;
    the caller stops it (`server.stop()`) when it owns it (`server.owned`)."""
    settings = settings or Settings.from_env()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value(), None
    port = int(os.environ.get("EMBEDDED_PG_PORT", "0") or 0)
    server = embedded_for(settings, port=port).start()
    return server.dsn, server
