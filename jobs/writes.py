"""Writers for the job tables (sql/030_jobs.sql): atomic replacement of related-asset runs,
sector snapshots, news items. asyncpg, one connection per call site."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

import asyncpg

RELATED_COLUMNS = ("run_id", "symbol", "related_symbol", "reason", "direction", "rank", "score",
                   "p_value", "overlap", "detail")


@dataclass
class RunInfo:
    reason: str  # "correlation" | "news"
    interval: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    window_bars: int | None = None
    symbols: int = 0
    insufficient: list[dict] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    run_id: uuid.UUID = field(default_factory=uuid.uuid4)


async def replace_related(conn: asyncpg.Connection, run: RunInfo, rows: Iterable[Sequence]) -> int:
    """Insert a run and its rows, then drop every older run of the same reason, in one
    transaction: readers see the previous run until the commit and the new one after it.

    `rows`: (symbol, related_symbol, direction, rank, score, p_value, overlap, detail|None).
    A transaction-scoped advisory lock per reason serialises concurrent writers, so two runs
    finishing together still leave exactly one.
    """
    records = [(run.run_id, r[0], r[1], run.reason, r[2], int(r[3]), float(r[4]),
                None if r[5] is None or r[5] != r[5] else float(r[5]),
                None if r[6] is None else int(r[6]),
                None if r[7] is None else json.dumps(r[7], ensure_ascii=False)) for r in rows]
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('related_assets:' || $1))", run.reason)
        await conn.execute(
            """INSERT INTO related_runs (run_id, reason, "interval", window_start, window_end,
                                         window_bars, symbols, insufficient, params)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)""",
            run.run_id, run.reason, run.interval, run.window_start, run.window_end, run.window_bars,
            run.symbols, json.dumps(run.insufficient, ensure_ascii=False),
            json.dumps(run.params, ensure_ascii=False, default=str))
        if records:
            await conn.copy_records_to_table("related_assets", records=records, columns=RELATED_COLUMNS)
        await conn.execute("DELETE FROM related_runs WHERE reason = $1 AND run_id <> $2",
                           run.reason, run.run_id)
    return len(records)


SECTOR_COLUMNS = ("time", "sector", "symbols", "priced", "equal_weighted_change",
                  "value_weighted_change", "advancers", "decliners", "unchanged", "top_gainers",
                  "top_losers")


async def insert_sector_snapshots(conn: asyncpg.Connection, when: datetime, snapshots: Sequence) -> int:
    """One row per sector (backbone.sectors.SectorSnapshot) at `when`; re-running a cycle with the
    same time replaces its rows."""
    async with conn.transaction():
        await conn.execute("DELETE FROM sector_snapshots WHERE time = $1", when)
        await conn.copy_records_to_table("sector_snapshots", columns=SECTOR_COLUMNS, records=[
            (when, s.sector, s.symbols, s.priced, s.equal_weighted_change, s.value_weighted_change,
             s.advancers, s.decliners, s.unchanged,
             json.dumps([m.as_dict() for m in s.top_gainers], ensure_ascii=False),
             json.dumps([m.as_dict() for m in s.top_losers], ensure_ascii=False))
            for s in snapshots])
    return len(snapshots)


async def prune_sector_snapshots(conn: asyncpg.Connection, older_than: datetime) -> int:
    status = await conn.execute("DELETE FROM sector_snapshots WHERE time < $1", older_than)
    return int(status.split()[-1])


async def upsert_news(conn: asyncpg.Connection, items: Sequence) -> int:
    """backbone.news.NewsItem rows with their keywords and mentioned symbols; same id = update."""
    await conn.executemany(
        """INSERT INTO news_items (id, source, published_at, title, body, link, keywords, symbols)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET published_at = EXCLUDED.published_at,
               title = EXCLUDED.title, body = EXCLUDED.body, link = EXCLUDED.link,
               keywords = EXCLUDED.keywords, symbols = EXCLUDED.symbols""",
        [(i.id, i.source, i.published_at, i.title, i.body, i.link, list(i.keywords), list(i.symbols))
         for i in items])
    return len(items)
