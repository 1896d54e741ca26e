"""Per-symbol router logic without Ray: live state, per-channel rings, book deltas, whales, candles.

Channels of one router: "trade", "book", "whale" (names on the wire: "<kind>:<symbol>"). Every
outgoing event is encoded ONCE here to its wire text (backbone.stream_protocol) and stored in the
channel's SeqRing; gateways long-poll `poll(kind, after_seq)` and forward the texts untouched.
All rings share the router's epoch: it changes when the router restarts or `reset()`s, so a client
that resumes with an old epoch gets a snapshot with `recovered: false`.

Book channel: each KIS book becomes a `delta` of the changed top-10 levels (backbone.book); every
`snapshot_every` deltas a full `snapshot` event is stored instead, so a reader that joins from the
ring never has to replay from the beginning. `resync()` stores a snapshot on demand (upstream
reconnect). Trades pass the tick-loss check first (a replayed print is dropped, a volume gap is
recorded for repair), then feed the 1m candle builder (closed candles -> `on_candles`) and the whale
detector (alerts -> `whale` ring and `take_alerts()` for the alert sender).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from backbone.book import BookDiffer, BookError
from backbone.candles import MinuteCandleBuilder
from backbone.kis.events import OrderBook, Trade
from backbone.models import Candle
from backbone.ring import SeqRing, new_epoch
from backbone.router_batch import ReorderBuffer, books_of, trades_of
from backbone.stream_protocol import encode, message, snapshot_message
from backbone.tickloss import Gap, TickLossDetector
from backbone.whale import WhaleAlert, WhaleDetector

KINDS = ("trade", "book", "whale")
RECENT_ALERTS = 20


@dataclass
class RouterConfig:
    ring_events: int = 20_000  # per channel
    ring_age_s: float = 60.0  # events older than this (arrival clock) are evicted
    snapshot_every: int = 100  # book deltas between stored full snapshots
    depth: int = 10
    whale_notional: int = 100_000_000  # KRW
    whale_quantile: float = 0.99
    whale_window: int = 2000
    whale_warmup: int = 200
    whale_merge_s: float = 1.0
    reorder_max_held: int = 4
    keep_gaps: int = 256


WHALE_ENV = "WHALE_NOTIONAL_KRW"  # "100000000" or "KOSPI=100000000,KOSDAQ=50000000,*=100000000"


def whale_notional_for(market: str | None, spec: str | None, default: int = 100_000_000) -> int:
    """Absolute whale threshold for a market from a spec like "KOSPI=1e8,KOSDAQ=5e7,*=1e8" (or one
    number for every market). Malformed parts are ignored (the default stays)."""
    if not spec:
        return default
    table: dict[str, int] = {}
    for part in spec.split(","):
        key, sep, value = part.strip().rpartition("=")
        key = key.strip().upper() if sep else "*"
        try:
            table[key] = int(float(value))
        except ValueError:
            continue
    return table.get((market or "").upper(), table.get("*", default))


def config_for_symbol(symbol: str, spec: str | None = None, base: RouterConfig | None = None) -> RouterConfig:
    """The router config of one symbol: the whale threshold of its market (backbone.symbols)."""
    from dataclasses import replace

    from backbone import symbols
    sym = symbols.get(symbol)
    base = base or RouterConfig()
    return replace(base, whale_notional=whale_notional_for(sym.market if sym else None, spec, base.whale_notional))


def trade_data(t: Trade, recv_ns: int) -> dict[str, Any]:
    return {"symbol": t.symbol, "time": t.time.isoformat(), "price": t.price, "size": t.size,
            "side": t.side.value, "cum_volume": t.cum_volume, "cum_value": t.cum_value, "change": t.change,
            "change_rate": str(t.change_rate), "recv_ns": recv_ns}


class RouterCore:
    def __init__(self, symbol: str, config: RouterConfig | None = None,
                 on_candles: Callable[[list[Candle]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.symbol = symbol
        self.cfg = config or RouterConfig()
        self.on_candles = on_candles
        self.clock = clock
        self.rings: dict[str, SeqRing[tuple[str, str]]] = {
            k: SeqRing(self.cfg.ring_events, self.cfg.ring_age_s) for k in KINDS}
        self.differ = BookDiffer(self.cfg.depth, symbol)
        self.whales = WhaleDetector(self.cfg.whale_notional, self.cfg.whale_quantile, self.cfg.whale_window,
                                    self.cfg.whale_warmup, self.cfg.whale_merge_s)
        self.candles = MinuteCandleBuilder(symbol)
        self.tickloss = TickLossDetector()
        self.reorder = ReorderBuffer(self.cfg.reorder_max_held)
        self.gaps: deque[Gap] = deque(maxlen=self.cfg.keep_gaps)
        self.recent_alerts: deque[dict] = deque(maxlen=RECENT_ALERTS)
        self._alerts_out: list[WhaleAlert] = []
        self.last_trade: dict | None = None
        self.last_book: OrderBook | None = None
        self.polled: dict | None = None
        self._last_exch: tuple[datetime, float] | None = None  # (exchange time, arrival clock)
        self._deltas_since_snapshot = 0
        self.counters = {"batches": 0, "trades": 0, "books": 0, "duplicates": 0, "bad_rows": 0,
                         "bad_books": 0, "deltas": 0, "snapshots": 0, "alerts": 0, "candles": 0}
        self.epoch = ""
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """New epoch: every ring starts over (clients resync from a snapshot)."""
        self.epoch = new_epoch()
        for ring in self.rings.values():
            ring.reset()
            ring.epoch = self.epoch
        self._deltas_since_snapshot = 0

    def channel(self, kind: str) -> str:
        return f"{kind}:{self.symbol}"

    # ------------------------------------------------------------------ input
    def ingest(self, batch: dict) -> int:
        """Apply one micro-batch (in producer order, see ReorderBuffer); returns events applied."""
        n = 0
        for b, late in self.reorder.push(batch):
            n += self._apply(b, late)
        return n

    def _apply(self, batch: dict, late: bool) -> int:
        self.counters["batches"] += 1
        now = self.clock()
        n = 0
        try:
            trades = trades_of(self.symbol, batch["trades"]) if batch.get("trades") else []
        except (KeyError, IndexError, TypeError, ValueError):
            self.counters["bad_rows"] += 1
            trades = []
        for trade, recv_ns in trades:
            n += self._on_trade(trade, recv_ns, now)
        if batch.get("books") and not late:  # a late batch's books are older than the current one
            try:
                books = books_of(self.symbol, batch["books"])
            except (KeyError, IndexError, TypeError, ValueError):
                self.counters["bad_rows"] += 1
                books = []
            for book, _recv in books:
                n += self._on_book(book, now)
        if batch.get("polled") and not late:
            self.polled = dict(batch["polled"][-1])
            n += len(batch["polled"])
        return n

    def _on_trade(self, trade: Trade, recv_ns: int, now: float) -> int:
        check = self.tickloss.on_trade(trade)
        if check.duplicate:
            self.counters["duplicates"] += 1
            return 0
        if check.gap is not None:
            self.gaps.append(check.gap)
        self.counters["trades"] += 1
        if self._last_exch is None or trade.time >= self._last_exch[0]:
            self._last_exch = (trade.time, now)
        data = trade_data(trade, recv_ns)
        self.last_trade = data
        self._append("trade", "trade", data, now)
        closed = self.candles.on_trade(trade)
        if closed:
            self._emit_candles(closed)
        self._emit_alerts(self.whales.on_trade(trade), now)
        return 1

    def _on_book(self, book: OrderBook, now: float) -> int:
        try:
            delta = self.differ.update(book)
        except BookError:
            self.counters["bad_books"] += 1
            return 0
        self.counters["books"] += 1
        self.last_book = book
        if delta is None:
            return 0
        self._deltas_since_snapshot += 1
        if self._deltas_since_snapshot >= self.cfg.snapshot_every:
            self._store_book_snapshot(now)
        else:
            self.counters["deltas"] += 1
            self._append("book", "delta", delta.to_dict(), now)
        return 1

    def _store_book_snapshot(self, now: float) -> None:
        self._deltas_since_snapshot = 0
        self.counters["snapshots"] += 1
        self._append("book", "snapshot", self.differ.snapshot().to_dict(), now)

    def resync(self) -> int:
        """Store a full book snapshot now (after an upstream reconnect); returns its seq."""
        self._store_book_snapshot(self.clock())
        return self.rings["book"].last_seq

    def tick(self, exchange_now: datetime | None = None) -> None:
        """Idle housekeeping: release held batches, close the minute, end whale bursts, evict."""
        now = self.clock()
        for b, late in self.reorder.release_all():
            self._apply(b, late)
        exch = exchange_now or self.exchange_now(now)
        if exch is not None:
            closed = self.candles.close_until(exch)
            if closed:
                self._emit_candles(closed)
            self._emit_alerts(self.whales.flush(exch), now)
        for ring in self.rings.values():
            ring.evict(now)

    def exchange_now(self, now: float | None = None) -> datetime | None:
        """Exchange time estimated from the last print (the feed's clock, not this machine's)."""
        if self._last_exch is None:
            return None
        t, at = self._last_exch
        return t + timedelta(seconds=(self.clock() if now is None else now) - at)

    def _emit_candles(self, closed: list[Candle]) -> None:
        self.counters["candles"] += len(closed)
        if self.on_candles is not None:
            self.on_candles(closed)

    def _emit_alerts(self, alerts: list[WhaleAlert], now: float) -> None:
        for a in alerts:
            self.counters["alerts"] += 1
            data = a.to_dict()
            self.recent_alerts.append(data)
            self._alerts_out.append(a)
            self._append("whale", "whale", data, now)

    def take_alerts(self) -> list[WhaleAlert]:
        """Alerts produced since the last call (for the alert sender)."""
        out, self._alerts_out = self._alerts_out, []
        return out

    def _append(self, kind: str, type_: str, data: Any, now: float) -> int:
        ring = self.rings[kind]
        seq = ring.last_seq + 1
        text = encode(message(type_, self.channel(kind), seq, self.epoch, data))
        return ring.append((type_, text), now)

    # ------------------------------------------------------------------ output
    def snapshot_data(self, kind: str) -> Any:
        if kind == "book":
            return self.differ.snapshot().to_dict()
        if kind == "trade":
            return {"symbol": self.symbol, "last": self.last_trade}
        if kind == "whale":
            return {"symbol": self.symbol, "recent": list(self.recent_alerts)}
        raise KeyError(kind)

    def snapshot(self, kind: str, recovered: bool | None = None) -> tuple[int, str]:
        """(seq, wire text) of the channel's full state as of its last seq."""
        seq = self.rings[kind].last_seq
        return seq, encode(snapshot_message(self.channel(kind), seq, self.epoch, self.snapshot_data(kind),
                                            recovered))

    def poll(self, kind: str, after_seq: int | None, epoch: str | None = None, limit: int | None = None,
             with_snapshot: bool = False) -> dict[str, Any]:
        """Events of `kind` after `after_seq` (of `epoch`, when given).

        Returns {"epoch", "last_seq", "events": [(seq, type, text)], "snapshot": (seq, text) | None,
        "recovered": bool | None}. `after_seq` None asks for the snapshot only (a new subscriber).
        When the ring cannot answer exactly (other epoch, too old, from the future) there are no
        events and a snapshot with recovered=false. A KeyError for an unknown kind.
        """
        ring = self.rings[kind]
        out: dict[str, Any] = {"epoch": self.epoch, "last_seq": ring.last_seq, "events": [],
                               "snapshot": None, "recovered": None}
        if after_seq is None:
            out["snapshot"] = self.snapshot(kind)
            return out
        got = None if (epoch is not None and epoch != self.epoch) else ring.since(after_seq, limit)
        if got is None:
            out["snapshot"] = self.snapshot(kind, recovered=False)
            out["recovered"] = False
            return out
        out["events"] = [(seq, t, text) for seq, (t, text) in got]
        if got:
            out["last_seq"] = got[-1][0]
        if with_snapshot:
            out["snapshot"] = self.snapshot(kind)
        return out

    def last_seq(self, kind: str) -> int:
        return self.rings[kind].last_seq

    def status(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "epoch": self.epoch, **self.counters,
                "reorder": {"held": self.reorder.held(), "skipped": self.reorder.skipped,
                            "late": self.reorder.late},
                "rings": {k: r.snapshot_state() for k, r in self.rings.items()},
                "gaps": len(self.gaps), "candles_dropped_late": self.candles.dropped_late,
                "whale_pending": self.whales.pending(),
                "book_checksum": self.differ.snapshot().checksum}
