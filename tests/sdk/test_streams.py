"""Streams against the running backend: survive server-side disconnects (socket closed by the
gateway; gateway restart) and an upstream KIS reconnect with no gaps or duplicates; a corrupted
book copy is resynced; lost history gives an explicit Resync."""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import httpx

from backbone.client import MarketDataBackbone, OrderBookData, Resync, TickerData

from .conftest import SYMS


class Collector:
    """Runs one stream generator in a task, keeps every item per channel."""

    def __init__(self, gen) -> None:
        self.items: dict[str, list] = defaultdict(list)
        self.resyncs: list[Resync] = []
        self.task = asyncio.get_running_loop().create_task(self._run(gen))

    async def _run(self, gen) -> None:
        async for item in gen:
            if isinstance(item, Resync):
                self.resyncs.append(item)
            elif isinstance(item, TickerData):
                self.items[f"trade:{item.symbol}"].append(item)
            elif isinstance(item, OrderBookData):
                self.items[f"book:{item.symbol}"].append(item)

    def count(self, ch: str) -> int:
        return len(self.items[ch])

    async def until(self, pred, timeout: float = 30.0, what: str = "items") -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if self.task.done():
                self.task.result()
            assert time.monotonic() < deadline, f"timed out waiting for {what}: " \
                f"{ {k: len(v) for k, v in self.items.items()} }, resyncs {self.resyncs}"
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def assert_continuous(items: list, ch: str) -> None:
    """One epoch, seq strictly +1 from item to item (no gap, no duplicate)."""
    assert items, ch
    assert len({i.epoch for i in items}) == 1, f"{ch}: epochs {sorted({i.epoch for i in items})}"
    seqs = [i.seq for i in items]
    bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1]
    assert not bad, f"{ch}: discontinuities {bad[:5]} in {len(seqs)} events"


async def test_streams_survive_server_disconnects_and_kis_reconnect(backend):
    a, b = SYMS[0], SYMS[1]
    async with MarketDataBackbone(backend.url) as bb:
        trades = Collector(bb.stream_ticker([a, b]))
        books = Collector(bb.stream_orderbook([a]))
        chans = [f"trade:{a}", f"trade:{b}"]
        await trades.until(lambda: all(trades.count(c) >= 3 for c in chans), 60, "first trades")
        await books.until(lambda: books.count(f"book:{a}") >= 3, 60, "first books")

        # 0) the server closes the client's socket (gateway stays up)
        before = {c: trades.count(c) for c in chans}
        nbook = books.count(f"book:{a}")
        async with httpx.AsyncClient() as http:
            assert (await http.post(backend.url + "/_test/drop_sockets")).json()["dropped"] == 1
        await trades.until(lambda: bb.stream_stats.reconnects >= 1, 30, "reconnect")
        await trades.until(lambda: all(trades.count(c) >= before[c] + 5 for c in chans), 60, "trades after kill")
        await books.until(lambda: books.count(f"book:{a}") >= nbook + 5, 60, "books after kill")

        # 1) server-side disconnect: the gateway goes away and comes back on the same port
        before = {c: trades.count(c) for c in chans}
        nbook = books.count(f"book:{a}")
        await asyncio.to_thread(backend.restart)
        await trades.until(lambda: bb.stream_stats.reconnects >= 2, 30, "reconnect")
        await trades.until(lambda: all(trades.count(c) >= before[c] + 5 for c in chans), 60, "trades after restart")
        await books.until(lambda: books.count(f"book:{a}") >= nbook + 5, 60, "books after restart")

        # 2) upstream KIS reconnect: the simulator closes every socket, the socket actor reconnects
        before = {c: trades.count(c) for c in chans}
        nbook = books.count(f"book:{a}")
        await asyncio.to_thread(backend.env.fault, "drop")
        await trades.until(lambda: backend.env.stats()["connections"]["total"] >= 2, 30, "KIS reconnect")
        await trades.until(lambda: all(trades.count(c) >= before[c] + 5 for c in chans), 60, "trades after drop")
        await books.until(lambda: books.count(f"book:{a}") >= nbook + 5, 60, "books after drop")
        await trades.stop()
        await books.stop()

        assert trades.resyncs == [] and books.resyncs == []
        for ch in chans:
            assert_continuous(trades.items[ch], ch)
        assert_continuous(books.items[f"book:{a}"], f"book:{a}")
        st = bb.stream_stats
        assert st.connects >= 3 and st.checksum_mismatches == 0 and st.gaps == 0
        assert st.last_reconnect_s is not None
        assert bb.stream_stats.connects == st.connects  # one socket for both generators


async def test_checksum_mismatch_triggers_resync_and_a_correct_book(backend):
    sym = SYMS[0]
    ch = f"book:{sym}"
    async with MarketDataBackbone(backend.url) as bb:
        books = Collector(bb.stream_orderbook([sym]))
        await books.until(lambda: books.count(ch) >= 2, 60, "first books")
        assert bb.stream.state(ch).corrupt_book_for_test()
        await books.until(lambda: any(r.reason == "checksum_mismatch" for r in books.resyncs), 30, "resync")
        n = books.count(ch)
        await books.until(lambda: books.count(ch) >= n + 5, 30, "books after resync")  # each delta verified
        await books.stop()
        assert bb.stream_stats.checksum_mismatches == 1
        after = books.items[ch][n - 1:]
        assert_continuous(after, ch)


async def test_history_lost_while_disconnected_gives_an_explicit_resync(backend):
    """The router restarts (new epoch) while the SDK is cut off: its resume cannot be answered
    exactly, so it yields a Resync, then continues gap-free in the new epoch."""
    import ray

    from actors.router import router_name
    from backbone.settings import NAMESPACE
    sym = SYMS[0]
    ch = f"trade:{sym}"
    async with MarketDataBackbone(backend.url) as bb:
        trades = Collector(bb.stream_ticker([sym]))
        await trades.until(lambda: trades.count(ch) >= 3, 60, "first trades")
        old_epoch = trades.items[ch][-1].epoch
        await asyncio.to_thread(backend.stop)
        ray.kill(ray.get_actor(router_name(sym), namespace=NAMESPACE), no_restart=False)  # crash: new epoch
        await asyncio.to_thread(backend.start)
        await trades.until(lambda: trades.resyncs, 60, "a resync")
        n = trades.count(ch)
        await trades.until(lambda: trades.count(ch) >= n + 3, 60, "trades in the new epoch")
        await trades.stop()
        r = trades.resyncs[0]
        assert r.channel == ch and r.reason in ("not_recoverable", "epoch_changed") and r.epoch != old_epoch
        after = [t for t in trades.items[ch] if t.epoch == r.epoch]
        assert after and after[0].seq >= r.to_seq
        assert_continuous(after, ch)
        assert len(trades.resyncs) == 1
