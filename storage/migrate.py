"""Versioned, idempotent schema migrations from `sql/`.

Files: `NNN_name.sql` runs on both backends; `NNN_name.timescale.sql` / `NNN_name.postgres.sql`
run after it on the matching backend only. The backend is chosen once per database: TimescaleDB
when the extension is available (the `.timescale` variant then creates it), plain PostgreSQL
otherwise (BACKBONE_DB_BACKEND=postgres forces the plain path). It is recorded in
`schema_migrations` with every applied version, so a later run never mixes the two.

Number ranges: 001-009 candle storage, 010-019 KIS socket state, 020-029 streams/alerts,
030-039 jobs. Each version runs in one transaction, under a session advisory lock so that
concurrent starters (tests, `make run`, `make migrate`) apply it once.

`python -m storage.migrate` applies them to DATABASE_URL, or to the embedded cluster.
"""
from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
LOCK_KEY = 0x6B15_0001  # pg_advisory_lock key of the migration runner
BACKENDS = ("timescale", "postgres")
_NAME = re.compile(r"^(\d{3})_([A-Za-z0-9_]+?)(?:\.(timescale|postgres))?\.sql$")


class MigrationError(RuntimeError):
    """A migration file is malformed or failed to apply (the message names the file)."""


@dataclass
class Migration:
    version: int
    name: str
    files: dict[str, Path] = field(default_factory=dict)  # "common" | "timescale" | "postgres"

    def scripts(self, backend: str) -> list[Path]:
        return [p for k in ("common", backend) if (p := self.files.get(k)) is not None]


def discover(directory: Path = SQL_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(Path(directory).glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"unexpected file name in sql/: {path.name}")
        version, name, variant = int(m.group(1)), m.group(2), m.group(3) or "common"
        mig = found.setdefault(version, Migration(version, name))
        if mig.name != name:
            raise MigrationError(f"version {version:03d} used by two names: {mig.name}, {name}")
        mig.files[variant] = path
    return [found[v] for v in sorted(found)]


async def detect_backend(conn: asyncpg.Connection) -> str:
    recorded = await conn.fetchval(
        "SELECT backend FROM schema_migrations ORDER BY version LIMIT 1") \
        if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL") else None
    if recorded:
        return recorded
    forced = os.environ.get("BACKBONE_DB_BACKEND", "").strip().lower()
    if forced in BACKENDS:
        return forced
    has_ts = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')")
    return "timescale" if has_ts else "postgres"


async def apply_on(conn: asyncpg.Connection, directory: Path = SQL_DIR,
                   versions: range | None = None) -> list[int]:
    """Apply pending migrations on an open connection; returns the versions applied now.
    `versions` restricts the run to a range (tests of one part of the schema)."""
    migrations = [m for m in discover(directory) if versions is None or m.version in versions]
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                backend    text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())""")
        backend = await detect_backend(conn)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for mig in migrations:
            if mig.version in done:
                continue
            async with conn.transaction():
                for path in mig.scripts(backend):
                    try:
                        await conn.execute(path.read_text())
                    except asyncpg.PostgresError as e:
                        raise MigrationError(f"{path.name}: {type(e).__name__}: {e}") from e
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, backend) VALUES ($1, $2, $3)",
                    mig.version, mig.name, backend)
            applied.append(mig.version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def apply(dsn: str, directory: Path = SQL_DIR, versions: range | None = None) -> list[int]:
    conn = await asyncpg.connect(dsn, timeout=30)
    try:
        return await apply_on(conn, directory, versions)
    finally:
        await conn.close()


async def backend_of(conn: asyncpg.Connection) -> str:
    """The backend recorded at migration time ("timescale" | "postgres")."""
    return await conn.fetchval("SELECT backend FROM schema_migrations ORDER BY version LIMIT 1")


def main() -> None:
    from .db import resolve_dsn

    dsn, server = resolve_dsn()
    try:
        applied = asyncio.run(apply(dsn))
        print(f"migrations applied: {applied or 'none (up to date)'}")
    finally:
        if server is not None and server.owned:
            server.stop()


if __name__ == "__main__":
    main()
