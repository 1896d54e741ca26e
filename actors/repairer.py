"""CandleRepairer: the named, detached actor "candle-repairer" that rewrites 1m candles lost to
tick loss, from the KIS minute-chart REST endpoint.

Every `period_s` it asks every router it knows (named "router:<sym>") for its gaps and latest print
in one batched round, lets `backbone.repair_queue.RepairQueue` decide which minutes are closed and
settled, makes the candle writer flush (so the stream's incomplete row is written before the REST
one), and calls `storage.repair.repair_minutes` with the socket actor's `rest_minute_bars` (the
socket actor owns the token and the shared REST rate limiter). `backfill(symbols)` repairs today's
missing minutes at start-up. Thin shell: the decisions are in the pure queue and storage.repair.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, datetime, timezone

import asyncpg
import ray

from backbone.kis.events import KST
from backbone.repair_queue import RepairQueue
from backbone.settings import NAMESPACE
from storage.repair import backfill_session, repair_minutes

log = logging.getLogger(__name__)
ACTOR_NAME = "candle-repairer"
ROUND_TIMEOUT_S = 10.0


class RestFetchError(Exception):
    """The socket actor answered a minute-chart call with a typed error (code only; never a secret)."""


def _router_symbols() -> list[str]:
    from actors.router import ROUTER_PREFIX
    out = []
    for a in ray.util.list_named_actors(all_namespaces=True):
        if a.get("namespace") == NAMESPACE and a["name"].startswith(ROUTER_PREFIX):
            out.append(a["name"][len(ROUTER_PREFIX):])
    return sorted(out)


@ray.remote(num_cpus=0, max_restarts=-1, concurrency_groups={"control": 2})
class CandleRepairer:
    def __init__(self, dsn: str, socket_name: str, period_s: float = 3.0, settle_s: float = 2.0,
                 autostart: bool = True) -> None:
        self._dsn, self._socket_name, self._period_s = dsn, socket_name, period_s
        self._queue = RepairQueue(settle_s=settle_s)
        self._routers: dict[str, object] = {}
        self._lock = asyncio.Lock()
        self.counters = {"rounds": 0, "repairs": 0, "minutes_requested": 0, "rows_rewritten": 0,
                         "rest_calls": 0, "not_found": 0, "errors": 0, "backfills": 0}
        self.last_error: str | None = None
        self._task = asyncio.get_running_loop().create_task(self._loop()) if autostart else None

    async def _fetch(self, symbol: str, until_hhmmss: str) -> list:
        sock = ray.get_actor(self._socket_name, namespace=NAMESPACE)
        r = await sock.rest_minute_bars.remote(symbol, until_hhmmss)
        if isinstance(r, dict):
            raise RestFetchError(str(r.get("error", {}).get("code", "unknown")))
        return r

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._period_s)
            try:
                await self.run_once()
            except Exception as e:  # noqa: BLE001 - the loop must survive anything; reported in stats
                self.last_error = f"{type(e).__name__}: {str(e)[:200]}"
                log.warning("candle repairer round failed: %s", self.last_error)

    async def _collect(self) -> dict[str, datetime]:
        """One batched round: every router's gaps and latest print; returns exchange time per symbol."""
        from actors.router import router_name
        for sym in await asyncio.to_thread(_router_symbols):
            if sym not in self._routers:
                try:
                    self._routers[sym] = ray.get_actor(router_name(sym), namespace=NAMESPACE)
                except ValueError:
                    continue
        syms = list(self._routers)
        calls = [c for s in syms for c in (self._routers[s].gaps.remote(), self._routers[s].latest.remote())]
        results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), ROUND_TIMEOUT_S)
        exch: dict[str, datetime] = {}
        for i, sym in enumerate(syms):
            gaps, latest = results[2 * i], results[2 * i + 1]
            if isinstance(gaps, BaseException) or isinstance(latest, BaseException):
                self._routers.pop(sym, None)  # gone or restarting: looked up again next round
                continue
            self._queue.offer(sym, gaps)
            trade = (latest or {}).get("trade") or {}
            if trade.get("ts_ns"):
                # the router's own estimate: last print's exchange time + real time since it arrived
                # (so a quiet symbol's minute still closes; an accelerated feed is never overtaken)
                since = max(0, time.time_ns() - int(trade.get("recv_ns") or time.time_ns()))
                exch[sym] = datetime.fromtimestamp((int(trade["ts_ns"]) + since) / 1e9, timezone.utc)
        return exch

    async def _writer_flushed(self) -> bool:
        from actors.candle_writer import ACTOR_NAME as WRITER
        try:
            writer = ray.get_actor(WRITER, namespace=NAMESPACE)
        except ValueError:
            return True  # no writer: nothing of the stream's can overwrite the repair
        return bool(await writer.flush.remote(5.0))

    async def run_once(self) -> dict:
        """Collect gaps, repair the due minutes; returns {symbol: rows rewritten} of this round."""
        async with self._lock:
            self.counters["rounds"] += 1
            due = self._queue.take_due(await self._collect(), time.monotonic())
            if not due:
                return {}
            now = time.monotonic()
            if not await self._writer_flushed():  # database down: the writer still holds stream rows
                for sym, minutes in due.items():
                    self._queue.requeue(sym, minutes, now, failed=False)
                return {}
            out = {}
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
            except Exception as e:  # noqa: BLE001 - database down: retry next round
                self.last_error = f"connect: {type(e).__name__}"
                for sym, minutes in due.items():
                    self._queue.requeue(sym, minutes, now, failed=False)
                return {}
            try:
                for sym, minutes in due.items():
                    try:
                        res = await repair_minutes(conn, sym, minutes, self._fetch)
                    except Exception as e:  # noqa: BLE001 - the write failed: try again later
                        self.last_error = f"repair {sym}: {type(e).__name__}: {str(e)[:200]}"
                        self._queue.requeue(sym, minutes, now)
                        continue
                    self._count(res)
                    out[sym] = res.rewritten
                    retry = list(res.not_found) if res.errors else []  # a fetch failed: try those again
                    self._queue.done(sym, [m for m in minutes if m not in set(retry)])
                    if retry:
                        self.last_error = res.errors[-1]
                        self._queue.requeue(sym, retry, now)
            finally:
                await conn.close()
            return out

    def _count(self, res) -> None:
        c = self.counters
        c["repairs"] += 1
        c["minutes_requested"] += res.requested
        c["rows_rewritten"] += res.rewritten
        c["rest_calls"] += res.calls
        c["not_found"] += len(res.not_found)
        c["errors"] += len(res.errors)

    async def backfill(self, symbols: list[str], day: str | None = None, now_iso: str | None = None) -> dict:
        """Repair today's (KST, or `day`) missing closed minutes of `symbols`; {symbol: rows rewritten}."""
        session_day = date.fromisoformat(day) if day else datetime.now(KST).date()
        now = datetime.fromisoformat(now_iso) if now_iso else None
        async with self._lock:
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                try:
                    results = await backfill_session(conn, symbols, session_day, self._fetch, now)
                finally:
                    await conn.close()
            except Exception as e:  # noqa: BLE001 - typed answer; the caller may not await it
                self.last_error = f"backfill: {type(e).__name__}: {str(e)[:200]}"
                return {"error": {"code": "BACKFILL_FAILED", "message": self.last_error}}
            self.counters["backfills"] += 1
            for r in results:
                self._count(r)
            return {r.symbol: r.rewritten for r in results}

    @ray.method(concurrency_group="control")
    def stats(self) -> dict:
        return {**self.counters, "gaps_seen": self._queue.gaps_seen, "pending_minutes": self._queue.pending(),
                "dropped_minutes": self._queue.dropped, "routers": len(self._routers),
                "last_error": self.last_error}


def get_or_create(dsn: str, socket_name: str, **options):
    """The one named, detached repairer (race-safe get-or-create; args ignored if it exists)."""
    return CandleRepairer.options(name=ACTOR_NAME, namespace=NAMESPACE, lifetime="detached",
                                  get_if_exists=True).remote(dsn, socket_name, **options)
