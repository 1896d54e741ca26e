"""The batch a RouterActor's `ingest` receives: one symbol, columnar, cheap to serialize.

```
{
  "v": 1,
  "symbol": "005930",
  "source": "3f9c0a1b2c4d",   # producer incarnation; `seq` restarts when it changes
  "seq": 17,                  # per (source, symbol), +1 per batch: calls may run out of order
  "trades": {                 # H0STCNT0, one entry per print, in arrival order (columns of equal length)
      "ts_ns": [...],         # exchange time, UTC epoch ns
      "price": [...], "size": [...], "side": [...],   # side: "buy" | "sell" | "auction" | "unknown"
      "cum_volume": [...], "cum_value": [...], "open": [...], "high": [...], "low": [...],
      "change": [...], "change_rate": [...],          # change_rate: decimal string (exact)
      "ask1": [...], "bid1": [...], "session": [...], "halted": [...],
      "recv_ns": [...],       # when the frame reached the socket owner (wall clock ns)
  },
  "books": {                  # H0STASP0 snapshots, same column style; levels best first
      "ts_ns": [...], "ask_px": [[...]], "ask_sz": [[...]], "bid_px": [[...]], "bid_sz": [[...]],
      "total_ask_size": [...], "total_bid_size": [...], "cum_volume": [...], "recv_ns": [...],
  },
  "other": [...],             # rarer events as objects: MarketStatus, IndexTick, OverseasTrade
  "polled": [...],            # REST current-price quotes for symbols without a registration:
                              # {"price", "cum_volume", "change", "change_rate", "ts_ns", "source": "rest"}
}
```
Sections without content are omitted. Columns (lists of scalars) pickle far faster than lists of
event objects, which is what lets one remote call carry hundreds of events.
"""
from __future__ import annotations

from backbone.kis.events import ExecutionNotice, IndexTick, OrderBook, OverseasTrade, Trade

TRADE_COLUMNS = ("ts_ns", "price", "size", "side", "cum_volume", "cum_value", "open", "high", "low", "change",
                 "change_rate", "ask1", "bid1", "session", "halted", "recv_ns")
BOOK_COLUMNS = ("ts_ns", "ask_px", "ask_sz", "bid_px", "bid_sz", "total_ask_size", "total_bid_size",
                "cum_volume", "recv_ns")


def route_of(ev) -> str | None:
    """The router (symbol) an event belongs to; None for events no symbol router handles."""
    if isinstance(ev, tuple):  # ("polled", symbol, quote)
        return ev[1]
    if isinstance(ev, ExecutionNotice):
        return None
    if isinstance(ev, IndexTick):
        return ev.index_code
    if isinstance(ev, OverseasTrade):
        return ev.rsym
    return getattr(ev, "symbol", None)


def _ns(dt) -> int:
    return int(dt.timestamp() * 1_000_000) * 1000


def build_batch(symbol: str, source: str, seq: int, events: list, recv_ns: list[int]) -> dict:
    batch: dict = {"v": 1, "symbol": symbol, "source": source, "seq": seq}
    trades: dict[str, list] | None = None
    books: dict[str, list] | None = None
    for ev, rns in zip(events, recv_ns):
        if type(ev) is Trade:
            if trades is None:
                trades = {c: [] for c in TRADE_COLUMNS}
            t = trades
            t["ts_ns"].append(_ns(ev.time)); t["price"].append(ev.price); t["size"].append(ev.size)
            t["side"].append(ev.side.value); t["cum_volume"].append(ev.cum_volume)
            t["cum_value"].append(ev.cum_value); t["open"].append(ev.open); t["high"].append(ev.high)
            t["low"].append(ev.low); t["change"].append(ev.change); t["change_rate"].append(str(ev.change_rate))
            t["ask1"].append(ev.ask1); t["bid1"].append(ev.bid1); t["session"].append(ev.session)
            t["halted"].append(ev.halted); t["recv_ns"].append(rns)
        elif type(ev) is OrderBook:
            if books is None:
                books = {c: [] for c in BOOK_COLUMNS}
            b = books
            b["ts_ns"].append(_ns(ev.time))
            b["ask_px"].append([lv.price for lv in ev.asks]); b["ask_sz"].append([lv.size for lv in ev.asks])
            b["bid_px"].append([lv.price for lv in ev.bids]); b["bid_sz"].append([lv.size for lv in ev.bids])
            b["total_ask_size"].append(ev.total_ask_size); b["total_bid_size"].append(ev.total_bid_size)
            b["cum_volume"].append(ev.cum_volume); b["recv_ns"].append(rns)
        elif isinstance(ev, tuple):
            batch.setdefault("polled", []).append(ev[2])
        else:
            batch.setdefault("other", []).append(ev)
    if trades is not None:
        batch["trades"] = trades
    if books is not None:
        batch["books"] = books
    return batch


def batch_size(batch: dict) -> int:
    """Number of events in a batch."""
    return (len(batch.get("trades", {}).get("ts_ns", ())) + len(batch.get("books", {}).get("ts_ns", ()))
            + len(batch.get("other", ())) + len(batch.get("polled", ())))
