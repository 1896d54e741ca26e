import json
from datetime import datetime, timedelta
from decimal import Decimal

from backbone.book import apply_delta, delta_from_dict, snapshot_from_dict
from backbone.kis.events import KST, BookLevel, OrderBook, Side, Trade
from backbone.router_core import RouterConfig, RouterCore
from upstream.ingest_batch import build_batch

SYM = "005930"
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=KST)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def trade(i, price=71000, size=10, side=Side.BUY, cum=None, t=None):
    return Trade(SYM, t or T0 + timedelta(seconds=i), price, size, side, cum if cum is not None else (i + 1) * size,
                 0, 70000, 72000, 69000, 100, Decimal("0.5"), price + 100, price, "20", False)


def book(i, base=71000, n=10, bump=0):
    asks = tuple(BookLevel(base + 100 * (k + 1), 10 + k + bump) for k in range(n))
    bids = tuple(BookLevel(base - 100 * k, 20 + k + bump) for k in range(n))
    return OrderBook(SYM, T0 + timedelta(seconds=i), asks, bids, 100, 200, None)


class Feed:
    def __init__(self, source="src"):
        self.seq, self.source = 0, source

    def batch(self, events):
        self.seq += 1
        return build_batch(SYM, self.source, self.seq, events, [123] * len(events))


def core(**cfg):
    clock = Clock()
    candles = []
    c = RouterCore(SYM, RouterConfig(**cfg), on_candles=candles.extend, clock=clock)
    return c, clock, candles


def msgs(poll):
    return [json.loads(text) for _seq, _t, text in poll["events"]]


def test_trades_get_seq_epoch_and_wire_shape():
    c, _, _ = core()
    f = Feed()
    assert c.ingest(f.batch([trade(0), trade(1)])) == 2
    r = c.poll("trade", 0)
    m = msgs(r)
    assert [x["seq"] for x in m] == [1, 2] and {x["epoch"] for x in m} == {c.epoch}
    assert m[0]["type"] == "trade" and m[0]["channel"] == f"trade:{SYM}"
    assert m[0]["data"]["price"] == 71000 and m[0]["data"]["side"] == "buy" and m[0]["data"]["cum_volume"] == 10
    assert c.poll("trade", 2)["events"] == []


def test_book_deltas_rebuild_to_router_checksum_and_periodic_snapshots():
    c, _, _ = core(snapshot_every=5)
    f = Feed()
    for i in range(12):
        c.ingest(f.batch([book(i, base=71000 + 100 * (i % 3), bump=i)]))
    first = json.loads(c.poll("book", None)["snapshot"][1])
    assert first["type"] == "snapshot"
    # a client that starts from an empty book and applies everything from seq 0
    state = snapshot_from_dict({"asks": [], "bids": [], "checksum": 0})
    types = []
    for m in msgs(c.poll("book", 0)):
        types.append(m["type"])
        state = snapshot_from_dict(m["data"]) if m["type"] == "snapshot" else apply_delta(state, delta_from_dict(m["data"]))
    assert state.checksum == c.differ.snapshot().checksum == first["data"]["checksum"]
    assert types.count("snapshot") == 2 and types[4] == "snapshot"


def test_unchanged_book_emits_nothing():
    c, _, _ = core()
    f = Feed()
    c.ingest(f.batch([book(0)]))
    c.ingest(f.batch([book(1)]))
    assert c.last_seq("book") == 1


def test_resume_exact_and_too_old_and_wrong_epoch():
    c, _, _ = core(ring_events=5)
    f = Feed()
    for i in range(8):
        c.ingest(f.batch([trade(i)]))
    r = c.poll("trade", 5, epoch=c.epoch)
    assert [e[0] for e in r["events"]] == [6, 7, 8] and r["recovered"] is None and r["snapshot"] is None
    old = c.poll("trade", 1, epoch=c.epoch)
    assert old["events"] == [] and old["recovered"] is False
    snap = json.loads(old["snapshot"][1])
    assert snap["recovered"] is False and snap["seq"] == 8 and snap["data"]["last"]["cum_volume"] == 80
    other = c.poll("trade", 5, epoch="someother")
    assert other["recovered"] is False
    future = c.poll("trade", 50, epoch=c.epoch)
    assert future["recovered"] is False


def test_age_eviction_makes_resume_too_old():
    c, clock, _ = core(ring_age_s=60)
    f = Feed()
    c.ingest(f.batch([trade(0)]))
    clock.t += 61
    c.ingest(f.batch([trade(1)]))
    assert c.poll("trade", 0)["recovered"] is False
    assert [e[0] for e in c.poll("trade", 1)["events"]] == [2]


def test_reset_changes_epoch():
    c, _, _ = core()
    e = c.epoch
    c.ingest(Feed().batch([trade(0)]))
    c.reset()
    assert c.epoch != e and c.last_seq("trade") == 0
    assert c.poll("trade", 1, epoch=e)["recovered"] is False


def test_out_of_order_batches_are_reordered():
    c, _, _ = core()
    f = Feed()
    b1, b2, b3 = f.batch([trade(0)]), f.batch([trade(1)]), f.batch([trade(2)])
    c.ingest(b1)
    assert c.ingest(b3) == 0  # held until 2 arrives
    assert c.ingest(b2) == 2
    assert [json.loads(t)["data"]["cum_volume"] for _, _, t in c.poll("trade", 0)["events"]] == [10, 20, 30]
    assert c.counters["duplicates"] == 0


def test_lost_batch_is_skipped_after_hold_limit_and_on_tick():
    c, _, _ = core(reorder_max_held=2)
    f = Feed()
    c.ingest(f.batch([trade(0)]))
    f.seq += 1  # batch 2 never arrives
    c.ingest(f.batch([trade(2, cum=30)]))
    c.tick()
    assert c.last_seq("trade") == 2 and c.reorder.skipped == 1
    assert len(c.gaps) == 1 and c.gaps[0].missing_volume == 10  # tick loss marked for repair


def test_new_source_restarts_sequence():
    c, _, _ = core()
    c.ingest(Feed("a").batch([trade(0)]))
    c.ingest(Feed("b").batch([trade(1)]))
    assert c.last_seq("trade") == 2


def test_duplicate_trades_dropped():
    c, _, _ = core()
    f = Feed()
    c.ingest(f.batch([trade(0), trade(1), trade(1)]))
    assert c.last_seq("trade") == 2 and c.counters["duplicates"] == 1


def test_whale_alerts_absolute_merged_into_whale_ring_and_outbox():
    c, _, _ = core(whale_notional=100_000_000)
    f = Feed()
    t = T0
    evs, cum = [], 0
    for k, size in enumerate([10, 2000, 1500, 10]):  # 2000*71000 = 142M: whale; 1500 merges (0.5 s later)
        cum += size
        evs.append(trade(0, size=size, cum=cum, t=t + timedelta(milliseconds=500 * k if k < 3 else 5000)))
    c.ingest(f.batch(evs))
    alerts = c.take_alerts()
    assert len(alerts) == 1 and alerts[0].count == 2 and alerts[0].total_size == 3500
    assert "absolute" in alerts[0].reasons
    m = msgs(c.poll("whale", 0))
    assert m[0]["type"] == "whale" and m[0]["channel"] == f"whale:{SYM}" and m[0]["data"]["total_size"] == 3500
    assert c.take_alerts() == []
    snap = json.loads(c.poll("whale", None)["snapshot"][1])
    assert snap["data"]["recent"][0]["alert_id"] == alerts[0].alert_id


def test_whale_burst_flushed_by_tick_with_exchange_clock():
    c, clock, _ = core()
    c.ingest(Feed().batch([trade(0, size=5000, cum=5000)]))
    assert c.take_alerts() == []
    clock.t += 2
    c.tick()
    assert len(c.take_alerts()) == 1


def test_candles_closed_by_exchange_time():
    c, clock, candles = core()
    f = Feed()
    c.ingest(f.batch([trade(0), trade(30), trade(61)]))  # crosses 10:01
    assert len(candles) == 1 and candles[0].volume == 20 and candles[0].time == T0
    clock.t += 120
    c.tick()
    assert len(candles) == 2 and candles[1].volume == 10


def test_malformed_batch_is_counted_not_raised():
    c, _, _ = core()
    assert c.ingest({"source": "x", "seq": 1, "trades": {"ts_ns": [1]}}) == 0
    assert c.counters["bad_rows"] == 1
    b = Feed().batch([book(0)])
    b["books"]["ask_px"][0] = [71100, 71100]  # duplicate price
    b["books"]["ask_sz"][0] = [1, 2]
    c.ingest(b)
    assert c.counters["bad_books"] == 1


def test_resync_stores_snapshot_event():
    c, _, _ = core()
    f = Feed()
    c.ingest(f.batch([book(0)]))
    seq = c.resync()
    m = msgs(c.poll("book", seq - 1))
    assert m[0]["type"] == "snapshot" and m[0]["seq"] == seq
    assert c.poll("book", seq, with_snapshot=True)["snapshot"][0] == seq


def test_whale_threshold_per_market():
    from backbone.router_core import config_for_symbol, whale_notional_for
    assert whale_notional_for("KOSPI", None) == 100_000_000
    assert whale_notional_for("KOSDAQ", "50000000") == 50_000_000
    spec = "KOSPI=200000000, KOSDAQ=5e7, *=1e8, bad=x"
    assert whale_notional_for("KOSDAQ", spec) == 50_000_000
    assert whale_notional_for("NASDAQ", spec) == 100_000_000
    assert whale_notional_for("kospi", spec) == 200_000_000
    assert config_for_symbol("005930", "KOSPI=123").whale_notional == 123
    assert config_for_symbol("NOTASYMBOL", "KOSPI=123").whale_notional == 100_000_000
