"""Persistence of the socket owner's state: the access token and the wanted registrations.

`PgStateStore` keeps them in Postgres (sql/010_kis_state.sql) so that a restarted actor, possibly
on another node, reuses a still-valid token and restores every registration without being asked.
`MemoryStateStore` has the same interface for runs without a database.
Times are wall-clock epoch seconds (they must mean the same thing after a restart).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Mapping, Protocol

Key = tuple[str, str]
Wanted = dict[Key, dict[str, int]]
Leases = dict[str, float]  # requester -> lease length in seconds (backbone/leases.py)


@dataclass(frozen=True, slots=True, repr=False)
class StoredToken:
    access_token: str | None
    expires_at: float | None
    issued_at: float | None
    last_attempt_at: float | None

    def __repr__(self) -> str:  # never show the token
        return f"StoredToken(expires_at={self.expires_at}, issued_at={self.issued_at})"


class StateStore(Protocol):
    async def load_token(self) -> StoredToken | None: ...
    async def save_token(self, token: StoredToken) -> None: ...
    async def record_attempt(self, at: float) -> None: ...
    async def load_wanted(self) -> Wanted: ...
    async def load_leases(self) -> Leases: ...
    async def save_wanted(self, wanted: Mapping[Key, Mapping[str, int]],
                          leases: Mapping[str, float] | None = None) -> None: ...
    async def close(self) -> None: ...


class MemoryStateStore:
    def __init__(self) -> None:
        self.token: StoredToken | None = None
        self.wanted: Wanted = {}
        self.leases: Leases = {}

    async def load_token(self) -> StoredToken | None:
        return self.token

    async def save_token(self, token: StoredToken) -> None:
        self.token = token

    async def record_attempt(self, at: float) -> None:
        self.token = replace(self.token, last_attempt_at=at) if self.token else StoredToken(None, None, None, at)

    async def load_wanted(self) -> Wanted:
        return {k: dict(v) for k, v in self.wanted.items()}

    async def load_leases(self) -> Leases:
        return dict(self.leases)

    async def save_wanted(self, wanted: Mapping[Key, Mapping[str, int]],
                          leases: Mapping[str, float] | None = None) -> None:
        self.wanted = {tuple(k): dict(v) for k, v in wanted.items()}
        held = {r for reqs in self.wanted.values() for r in reqs}
        self.leases = {r: float(x) for r, x in (leases or {}).items() if r in held}

    async def close(self) -> None:
        pass


def _ts(x: float | None) -> datetime | None:
    return None if x is None else datetime.fromtimestamp(x, tz=timezone.utc)


def _epoch(d: datetime | None) -> float | None:
    return None if d is None else d.timestamp()


class PgStateStore:
    def __init__(self, pool, app_key_id: str) -> None:
        self._pool = pool
        self._id = app_key_id
        self._wanted_lock = asyncio.Lock()

    @classmethod
    async def connect(cls, dsn: str, app_key_id: str) -> "PgStateStore":
        import asyncpg  # I/O dependency kept out of import time of the pure parts

        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, timeout=10, command_timeout=30,
                                         server_settings={"application_name": "kis-socket"})
        return cls(pool, app_key_id)

    async def load_token(self) -> StoredToken | None:
        row = await self._pool.fetchrow(
            "SELECT access_token, expires_at, issued_at, last_attempt_at FROM kis_tokens WHERE app_key_id=$1",
            self._id)
        if row is None:
            return None
        return StoredToken(row["access_token"], _epoch(row["expires_at"]), _epoch(row["issued_at"]),
                           _epoch(row["last_attempt_at"]))

    async def save_token(self, token: StoredToken) -> None:
        await self._pool.execute(
            """INSERT INTO kis_tokens (app_key_id, access_token, expires_at, issued_at, last_attempt_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, now())
               ON CONFLICT (app_key_id) DO UPDATE SET access_token=$2, expires_at=$3, issued_at=$4,
                   last_attempt_at=$5, updated_at=now()""",
            self._id, token.access_token, _ts(token.expires_at), _ts(token.issued_at), _ts(token.last_attempt_at))

    async def record_attempt(self, at: float) -> None:
        await self._pool.execute(
            """INSERT INTO kis_tokens (app_key_id, last_attempt_at) VALUES ($1, $2)
               ON CONFLICT (app_key_id) DO UPDATE SET last_attempt_at=$2, updated_at=now()""",
            self._id, _ts(at))

    async def load_wanted(self) -> Wanted:
        rows = await self._pool.fetch(
            "SELECT tr_id, tr_key, requester, priority FROM kis_wanted_subscriptions WHERE app_key_id=$1",
            self._id)
        out: Wanted = {}
        for r in rows:
            out.setdefault((r["tr_id"], r["tr_key"]), {})[r["requester"]] = r["priority"]
        return out

    async def load_leases(self) -> Leases:
        rows = await self._pool.fetch(
            "SELECT DISTINCT requester, lease_s FROM kis_wanted_subscriptions "
            "WHERE app_key_id=$1 AND lease_s IS NOT NULL", self._id)
        return {r["requester"]: float(r["lease_s"]) for r in rows}

    async def save_wanted(self, wanted: Mapping[Key, Mapping[str, int]],
                          leases: Mapping[str, float] | None = None) -> None:
        """Replace the whole set (small: tens to hundreds of rows) in one transaction."""
        leases = leases or {}
        rows = [(self._id, k[0], k[1], req, prio, leases.get(req))
                for k, reqs in wanted.items() for req, prio in reqs.items()]
        async with self._wanted_lock, self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM kis_wanted_subscriptions WHERE app_key_id=$1", self._id)
            if rows:
                await conn.executemany(
                    "INSERT INTO kis_wanted_subscriptions (app_key_id, tr_id, tr_key, requester, priority, lease_s) "
                    "VALUES ($1, $2, $3, $4, $5, $6)", rows)

    async def close(self) -> None:
        await self._pool.close()
