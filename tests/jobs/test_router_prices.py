"""RouterLatestPrices against real RouterActors: quotes from the routers' last trades, symbols
without a router left out."""
from __future__ import annotations

import time

from backbone.sectors import Quote
from jobs.sectors import RouterLatestPrices
from upstream.ingest_batch import TRADE_COLUMNS

NS = "tests-jobs-routers"


def _trade_batch(symbol: str, price: int, change: int) -> dict:
    now = time.time_ns()
    row = {"ts_ns": now, "price": price, "size": 10, "side": "buy", "cum_volume": 100,
           "cum_value": price * 100, "open": price, "high": price, "low": price, "change": change,
           "change_rate": "0.00", "ask1": price + 100, "bid1": price, "session": "regular",
           "halted": False, "recv_ns": now}
    return {"v": 1, "symbol": symbol, "source": "test", "seq": 1,
            "trades": {c: [row[c]] for c in TRADE_COLUMNS}}


def test_latest_prices_from_real_routers(ray_session):
    ray = ray_session
    from actors.router import RouterActor, router_name

    handles = []
    try:
        for sym, price, change in (("005930", 71500, -500), ("000660", 190000, 5000)):
            h = RouterActor.options(name=router_name(sym), namespace=NS, lifetime="detached").remote(sym)
            handles.append(h)
            ray.get(h.ingest.remote(_trade_batch(sym, price, change)), timeout=60)
        got = RouterLatestPrices(NS, timeout_s=30).latest(["005930", "000660", "035420"])
        assert got == {"005930": Quote(71500.0, 72000.0), "000660": Quote(190000.0, 185000.0)}
    finally:
        for h in handles:
            ray.kill(h, no_restart=True)
