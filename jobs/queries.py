"""Read queries over the job tables, for the HTTP API (GET /api/related/{symbol},
GET /api/market/sectors). Each takes an asyncpg connection (or pool) and returns plain JSON-ready
dicts; None when there is nothing to serve (the API answers NO_DATA_FOUND)."""
from __future__ import annotations

import json
from datetime import datetime


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _json(v):
    return json.loads(v) if isinstance(v, str) else v


async def related_for(conn, symbol: str, reason: str | None = None, limit: int = 10) -> dict | None:
    """Related symbols of `symbol` from the current run of each reason (correlation, news).

    {"symbol", "runs": {reason: {"run_id", "computed_at", "interval", "window_start",
     "window_end", "window_bars"}}, "related": [{"symbol", "reason", "direction", "rank",
     "score", "p_value", "overlap", "keywords"}]} — strongest first per reason and direction,
    at most `limit` per (reason, direction). None when no run has rows for the symbol.
    """
    rows = await conn.fetch(
        """SELECT a.related_symbol, a.reason, a.direction, a.rank, a.score, a.p_value, a.overlap,
                  a.detail, r.run_id, r.computed_at, r."interval", r.window_start, r.window_end,
                  r.window_bars
           FROM related_assets a JOIN related_runs r USING (run_id)
           WHERE a.symbol = $1 AND ($2::text IS NULL OR a.reason = $2) AND a.rank <= $3
           ORDER BY a.reason, a.direction DESC, a.rank""", symbol, reason, limit)
    if not rows:
        return None
    runs, related = {}, []
    for r in rows:
        runs.setdefault(r["reason"], {
            "run_id": str(r["run_id"]), "computed_at": _iso(r["computed_at"]),
            "interval": r["interval"], "window_start": _iso(r["window_start"]),
            "window_end": _iso(r["window_end"]), "window_bars": r["window_bars"]})
        detail = _json(r["detail"]) or {}
        related.append({"symbol": r["related_symbol"], "reason": r["reason"],
                        "direction": r["direction"], "rank": r["rank"], "score": r["score"],
                        "p_value": r["p_value"], "overlap": r["overlap"],
                        "keywords": detail.get("keywords", [])})
    return {"symbol": symbol, "runs": runs, "related": related}


async def correlation_run(conn) -> dict | None:
    """The current correlation run's metadata, including the symbols reported as insufficient."""
    r = await conn.fetchrow(
        """SELECT run_id, computed_at, "interval", window_start, window_end, window_bars, symbols,
                  insufficient, params
           FROM related_runs WHERE reason = 'correlation' ORDER BY computed_at DESC LIMIT 1""")
    if r is None:
        return None
    return {"run_id": str(r["run_id"]), "computed_at": _iso(r["computed_at"]),
            "interval": r["interval"], "window_start": _iso(r["window_start"]),
            "window_end": _iso(r["window_end"]), "window_bars": r["window_bars"],
            "symbols": r["symbols"], "insufficient": _json(r["insufficient"]),
            "params": _json(r["params"])}


async def latest_sectors(conn) -> dict | None:
    """The newest sector snapshot: {"time", "sectors": [{"sector", "symbols", "priced",
    "equal_weighted_change", "value_weighted_change", "advancers", "decliners", "unchanged",
    "top_gainers", "top_losers"}]} sorted by equal-weighted change, best first."""
    rows = await conn.fetch(
        """SELECT * FROM sector_snapshots
           WHERE time = (SELECT max(time) FROM sector_snapshots)
           ORDER BY equal_weighted_change DESC NULLS LAST, sector""")
    if not rows:
        return None
    return {"time": _iso(rows[0]["time"]), "sectors": [{
        "sector": r["sector"], "symbols": r["symbols"], "priced": r["priced"],
        "equal_weighted_change": r["equal_weighted_change"],
        "value_weighted_change": r["value_weighted_change"], "advancers": r["advancers"],
        "decliners": r["decliners"], "unchanged": r["unchanged"],
        "top_gainers": _json(r["top_gainers"]), "top_losers": _json(r["top_losers"])} for r in rows]}
