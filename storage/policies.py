"""Refresh and retention policies, run on a schedule (actors/aggregate_scheduler.py calls this).

Plain PostgreSQL: each aggregate's policy refreshes [now - start_offset, now - end_offset) every
schedule_interval, levels bottom-up (a lower level's materialization invalidates the one above);
the retention policy deletes raw rows older than drop_after. On TimescaleDB the native background
jobs do this, so `run_policies` does nothing there unless `force=True` (e.g. PGlite, which has no
background worker), in which case it runs the native policies' windows by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import asyncpg

from .migrate import backend_of

REFRESH_SQL = "CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz)"
LEVEL_ORDER = ("market_candles_5m", "market_candles_15m", "market_candles_1h", "market_candles_1d")


@dataclass
class PolicyRun:
    backend: str
    refreshed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not due, or window too small
    errors: dict[str, str] = field(default_factory=dict)
    retention_deleted: dict[str, int] = field(default_factory=dict)


async def run_policies(conn: asyncpg.Connection, now: datetime | None = None, *,
                       force: bool = False) -> PolicyRun:
    """Run the due policies once. `conn` must not be inside a transaction (refresh commits)."""
    now = now or datetime.now(timezone.utc)
    backend = await backend_of(conn)
    run = PolicyRun(backend)
    if backend == "timescale":
        if force:
            await _run_native_policies(conn, now, run)
        return run
    caggs = await conn.fetch("SELECT name, start_offset, end_offset, schedule_interval, last_run_at "
                             "FROM _cagg_catalog ORDER BY level")
    for c in caggs:
        due = force or c["last_run_at"] is None or now >= c["last_run_at"] + c["schedule_interval"]
        if not due:
            run.skipped.append(c["name"])
            continue
        await _refresh(conn, c["name"], now - c["start_offset"], now - c["end_offset"], run)
        await conn.execute("UPDATE _cagg_catalog SET last_run_at = $2, last_error = $3 WHERE name = $1",
                           c["name"], now, run.errors.get(c["name"]))
    due_retention = await conn.fetchval(
        "SELECT count(*) FROM _retention_policies WHERE $2 OR last_run_at IS NULL "
        "OR $1 >= last_run_at + schedule_interval", now, force)
    if due_retention:
        for r in await conn.fetch("SELECT * FROM run_retention_policies($1)", now):
            run.retention_deleted[r["table_name"]] = r["deleted"]
    return run


async def _refresh(conn, name: str, start: datetime, end: datetime, run: PolicyRun) -> None:
    try:
        await conn.execute(REFRESH_SQL, name, start, end)
        run.refreshed.append(name)
    except asyncpg.InvalidParameterValueError as e:  # "refresh window too small": nothing complete yet
        if "refresh window too small" not in str(e):
            run.errors[name] = f"{type(e).__name__}: {e}"
        else:
            run.skipped.append(name)
    except asyncpg.PostgresError as e:
        run.errors[name] = f"{type(e).__name__}: {e}"


async def _run_native_policies(conn, now: datetime, run: PolicyRun) -> None:
    jobs = await conn.fetch(
        "SELECT hypertable_name, config FROM timescaledb_information.jobs "
        "WHERE proc_name = 'policy_refresh_continuous_aggregate'")
    by_name = {j["hypertable_name"]: j["config"] for j in jobs}
    import json
    for name in LEVEL_ORDER:
        if name not in by_name:
            continue
        cfg = json.loads(by_name[name]) if isinstance(by_name[name], str) else by_name[name]
        start = now - await conn.fetchval("SELECT $1::text::interval", str(cfg["start_offset"]))
        end = now - await conn.fetchval("SELECT $1::text::interval", str(cfg["end_offset"]))
        await _refresh(conn, name, start, end, run)


async def set_raw_retention(conn: asyncpg.Connection, days: int) -> None:
    """Keep raw 1m rows `days` days (aggregates are kept regardless)."""
    if days < 1:
        raise ValueError("retention must be at least one day")
    keep = timedelta(days=days)
    if await backend_of(conn) == "timescale":
        await conn.execute("SELECT remove_retention_policy('market_candles', if_exists => TRUE)")
        await conn.execute("SELECT add_retention_policy('market_candles', drop_after => $1::interval)", keep)
    else:
        await conn.execute("UPDATE _retention_policies SET drop_after = $1 WHERE table_name = 'market_candles'",
                           keep)
