"""related_assets replacement is atomic: a reader sees the old run until the writer commits,
then only the new one."""
from __future__ import annotations

import asyncio

import asyncpg

from jobs.writes import RunInfo, replace_related


def test_reader_sees_old_run_until_commit_then_only_new(pg_dsn):
    async def go():
        w = await asyncpg.connect(pg_dsn)
        r = await asyncpg.connect(pg_dsn)
        try:
            await replace_related(w, RunInfo("correlation"), [("A", "B", "positive", 1, 0.5, 0.01, 50, None)])
            new = RunInfo("correlation")
            tx = w.transaction()
            await tx.start()  # the writer's transaction stays open across the reads below
            await replace_related(w, new, [("A", "C", "positive", 1, 0.7, 0.001, 50, None),
                                           ("C", "A", "positive", 1, 0.7, 0.001, 50, None)])
            during = await r.fetch("SELECT related_symbol FROM related_assets WHERE symbol = 'A'")
            await tx.commit()
            after = await r.fetch("SELECT related_symbol FROM related_assets WHERE symbol = 'A'")
            runs = await r.fetchval("SELECT count(*) FROM related_runs WHERE reason = 'correlation'")
            other = await r.fetchval("SELECT count(*) FROM related_runs WHERE reason = 'news'")
            return [x[0] for x in during], [x[0] for x in after], runs, other
        finally:
            await w.close()
            await r.close()
    during, after, runs, other = asyncio.run(go())
    assert during == ["B"] and after == ["C"] and runs == 1 and other == 0
