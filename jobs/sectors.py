"""Sector aggregation every 10 s: `python -m jobs.sectors`.

Each cycle: latest quotes from the routers (`RouterLatestPrices`, one wave of calls per router
group), per-sector aggregation in parallel Ray tasks (backbone.sectors does the maths), rows to
`sector_snapshots`, and the channel message to `on_snapshot` (the stream gateway's hook for the
`sectors` WebSocket channel). Cycles start on a fixed 10 s grid; a cycle that overruns is logged
and the missed ticks are skipped, never stacked.

    python -m jobs.sectors                      # every 10 s until Ctrl-C
    python -m jobs.sectors --once               # one cycle
    python -m jobs.sectors --master kospi_code.mst --master kosdaq_code.mst
    ray job submit --address http://127.0.0.1:8265 -- python -m jobs.sectors
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping, Sequence

from backbone import sectors as S

from .common import add_db_args, database, ensure_ray, setup_logging

log = logging.getLogger("jobs.sectors")

PERIOD_S = 10.0


class RouterLatestPrices:
    """LatestPrices from the RouterActors ("router:<symbol>"): the calls of a group are issued
    together and collected with one `ray.get`, so a cycle costs one round trip per group, not
    one per symbol. Symbols without a router or a trade yet are left out."""

    def __init__(self, namespace: str | None = None, timeout_s: float = 3.0, group_size: int = 256):
        from backbone.settings import NAMESPACE

        self.namespace = namespace or NAMESPACE
        self.timeout_s = timeout_s
        self.group_size = group_size
        self._handles: dict[str, object] = {}

    def _handle(self, symbol: str):
        import ray

        from actors.router import router_name

        h = self._handles.get(symbol)
        if h is None:
            try:
                h = ray.get_actor(router_name(symbol), namespace=self.namespace)
            except ValueError:  # no router for this symbol (not subscribed)
                return None
            self._handles[symbol] = h
        return h

    def latest(self, symbols: Sequence[str]) -> dict[str, S.Quote]:
        import ray

        out: dict[str, S.Quote] = {}
        for i in range(0, len(symbols), self.group_size):
            group = [(s, h) for s in symbols[i:i + self.group_size] if (h := self._handle(s)) is not None]
            refs = [h.latest.remote() for _, h in group]
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=self.timeout_s)
            ready_set = set(ready)
            for (s, _), ref in zip(group, refs):
                if ref not in ready_set:
                    continue
                try:
                    q = S.quote_from_router_latest(ray.get(ref))
                except Exception as e:  # a dead or restarting router: skip it this cycle
                    log.debug("router %s unavailable: %s", s, type(e).__name__)
                    self._handles.pop(s, None)
                    continue
                if q is not None:
                    out[s] = q
        return out


def _aggregate_task(sector: str, members, quotes, top_n: int):
    return S.aggregate_sector(sector, members, quotes, top_n)


def aggregate_parallel(groups: Mapping[str, Sequence[S.Member]], quotes: Mapping[str, S.Quote],
                       top_n: int = 3, use_ray: bool = True) -> list[S.SectorSnapshot]:
    """One Ray task per sector, each given only its members' quotes."""
    per_sector = {sec: {m.symbol: quotes[m.symbol] for m in mem if m.symbol in quotes}
                  for sec, mem in groups.items()}
    if not use_ray:
        return [S.aggregate_sector(sec, mem, per_sector[sec], top_n) for sec, mem in groups.items()]
    import ray

    task = ray.remote(num_cpus=0.25, max_retries=1)(_aggregate_task)
    refs = [task.remote(sec, list(mem), per_sector[sec], top_n) for sec, mem in groups.items()]
    return ray.get(refs)


class SectorCycle:
    """One aggregation cycle and the 10 s loop around it."""

    def __init__(self, groups: Mapping[str, Sequence[S.Member]], prices: S.LatestPrices, *,
                 dsn: str | None = None, on_snapshot: Callable[[dict], None] | None = None,
                 top_n: int = 3, use_ray: bool = True, retain: timedelta = timedelta(days=7)):
        self.groups = groups
        self.symbols = [m.symbol for mem in groups.values() for m in mem]
        self.prices, self.dsn, self.on_snapshot = prices, dsn, on_snapshot
        self.top_n, self.use_ray, self.retain = top_n, use_ray, retain
        self.cycles = self.skipped = 0
        self._conn = None

    async def run_once(self, when: datetime | None = None) -> list[S.SectorSnapshot]:
        when = when or datetime.now(timezone.utc)
        quotes = await asyncio.to_thread(self.prices.latest, self.symbols)
        snaps = await asyncio.to_thread(aggregate_parallel, self.groups, quotes, self.top_n, self.use_ray)
        if self.dsn:
            await self._store(when, snaps)
        if self.on_snapshot is not None:
            try:
                self.on_snapshot(S.channel_message(when.isoformat(), snaps))
            except Exception:  # a failing subscriber must not stop the aggregation
                log.exception("on_snapshot hook failed")
        self.cycles += 1
        log.info("cycle %d: %d sectors, %d/%d symbols priced", self.cycles, len(snaps), len(quotes),
                 len(self.symbols))
        return snaps

    async def _store(self, when: datetime, snaps) -> None:
        import asyncpg

        from .writes import insert_sector_snapshots, prune_sector_snapshots

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.dsn, timeout=10)
        await insert_sector_snapshots(self._conn, when, snaps)
        if self.cycles % 360 == 0:  # hourly at 10 s
            await prune_sector_snapshots(self._conn, when - self.retain)

    async def run_forever(self, period_s: float = PERIOD_S, max_cycles: int | None = None,
                          clock: Callable[[], float] = time.time, sleep=asyncio.sleep) -> None:
        anchor = clock()
        while True:
            started = anchor
            try:
                await self.run_once(datetime.fromtimestamp(started, timezone.utc))
            except Exception:  # one bad cycle (DB blip, router restart) must not end the job
                log.exception("sector cycle failed")
                self.cycles += 1
            if max_cycles is not None and self.cycles >= max_cycles:
                return
            anchor, missed = S.next_tick(period_s, started, clock())
            if missed:
                self.skipped += missed
                log.warning("sector cycle overran %.1f s period (took %.1f s): skipping %d tick(s)",
                            period_s, clock() - started, missed)
            await sleep(max(anchor - clock(), 0.0))

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


def load_groups(master_files: Sequence[str]) -> dict[str, tuple[S.Member, ...]]:
    """Sector groups from KIS master files when given, else the shipped default master."""
    if master_files:
        from backbone.kis_master import parse_master_file

        records = [r for f in master_files for r in parse_master_file(f)]
        return S.members_by_sector(records)
    from backbone.symbols import DOMESTIC

    return S.members_by_sector(DOMESTIC)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.sectors", description=__doc__.split("\n")[0])
    p.add_argument("--once", action="store_true", help="run one cycle and exit")
    p.add_argument("--period", type=float, default=PERIOD_S)
    p.add_argument("--master", action="append", default=[], help="KIS kospi_code.mst / kosdaq_code.mst")
    p.add_argument("--namespace", default=None, help="Ray namespace of the routers")
    p.add_argument("--top", type=int, default=3, help="top movers per sector")
    p.add_argument("--in-process", action="store_true",
                   help="aggregate in the driver instead of one Ray task per sector (cheaper for "
                        "a few thousand symbols, see bench/sectors.py)")
    add_db_args(p)
    a = p.parse_args(argv)
    setup_logging()
    groups = load_groups(a.master)
    ensure_ray()
    with database(a.dsn) as dsn:
        cycle = SectorCycle(groups, RouterLatestPrices(a.namespace), dsn=dsn, top_n=a.top,
                            use_ray=not a.in_process)

        async def go():
            try:
                await cycle.run_forever(a.period, max_cycles=1 if a.once else None)
            finally:
                await cycle.close()
        try:
            asyncio.run(go())
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
