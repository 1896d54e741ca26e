"""The dashboard's JavaScript book and candle logic, run in Node against the Python core.

Random order books go through backbone.book.BookDiffer (the server side); the page's book.js must
rebuild every step from the snapshot + deltas with a matching checksum and the same levels as
backbone.book.apply_delta, for integer (KRX) and decimal (overseas) prices. candles.js must bucket
trade times in the market's local time like the API labels its candles.
"""
from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from backbone.book import BookDiffer, BookSnapshot, apply_delta
from backbone.kis.events import BookLevel, OrderBook

NODE = shutil.which("node")
JS = Path(__file__).resolve().parents[2] / "serve_app" / "static" / "dashboard"
pytestmark = pytest.mark.skipif(NODE is None, reason="node missing")
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone(timedelta(hours=9)))


def run_module(module: str, body: str, payload) -> object:
    """Import `module` (an ES module of the page, as a data: URL) in Node, run `body` with `m` and
    `input` bound, print its JSON result."""
    src = base64.b64encode((JS / module).read_bytes()).decode()
    script = (f"const m = await import('data:text/javascript;base64,{src}');"
              f"const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              f"const out = (() => {{ {body} }})(); console.log(JSON.stringify(out));")
    wrapped = f"(async () => {{ {script} }})().catch(e => {{ console.error(e); process.exit(1); }});"
    res = subprocess.run([NODE, "-e", wrapped], input=json.dumps(payload), capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def random_books(rng: random.Random, n: int, decimal: bool):
    mid = 70_000
    for i in range(n):
        mid += rng.choice((-100, 0, 100))
        tick = Decimal("0.25") if decimal else 100
        base = Decimal("187.5") + tick * (mid - 70_000) // 100 if decimal else mid
        # full sides with uneven gaps (levels scroll in and out of the window), sometimes a short side
        asks, bids, p, q = [], [], base, base
        for _ in range(10 if rng.random() < 0.8 else rng.randint(5, 9)):
            p += tick * rng.randint(1, 2)
            asks.append(BookLevel(p, rng.randint(1, 5000)))
        for _ in range(10 if rng.random() < 0.8 else rng.randint(5, 9)):
            bids.append(BookLevel(q, rng.randint(1, 5000)))
            q -= tick * rng.randint(1, 2)
        yield OrderBook("X", T0 + timedelta(seconds=i), tuple(asks), tuple(bids), 0, 0, None)


@pytest.mark.parametrize("decimal", [False, True])
def test_book_js_rebuilds_what_the_server_diffs(decimal):
    rng = random.Random(11 + decimal)
    differ = BookDiffer(10, "X")
    books = list(random_books(rng, 60, decimal))
    differ.update(books[0])
    snap = differ.snapshot()
    deltas, state, expected = [], snap, []
    for b in books[1:]:
        d = differ.update(b)
        if d is None:
            continue
        state = apply_delta(state, d)
        deltas.append(d.to_dict())
        expected.append(BookSnapshot.to_dict(state))
    out = run_module("book.js", """
        let b = m.fromSnapshot(input.snapshot); const steps = [b.ok];
        const books = [];
        for (const d of input.deltas) { b = m.applyDelta(b, d); steps.push(b.ok); books.push({asks: b.asks, bids: b.bids}); }
        return {steps, books, empty: m.checksum({asks: [], bids: []}), text: m.crc32('a:71600:10|b:71500:3')};
    """, {"snapshot": snap.to_dict(), "deltas": deltas})
    assert all(out["steps"]) and len(out["steps"]) == len(deltas) + 1
    assert [{"asks": e["asks"], "bids": e["bids"]} for e in expected] == out["books"]
    assert out["empty"] == 0
    import zlib
    assert out["text"] == zlib.crc32(b"a:71600:10|b:71500:3")


def test_book_js_flags_a_wrong_checksum():
    snap = BookSnapshot("X", None, (BookLevel(71600, 10),), (BookLevel(71500, 3),), 0).to_dict()
    out = run_module("book.js", "const b = m.fromSnapshot(input); "
                                "return [b.ok, m.applyDelta(b, {changes: [['bid', 71500, 4]], checksum: 1}).ok];",
                     snap)
    assert out == [False, False]


def test_candles_js_buckets_in_market_local_time():
    out = run_module("candles.js", """
        const t = m.localSeconds('2026-11-20T09:07:31+09:00');
        return {t, day: m.localSeconds('2026-11-20'), utc: m.localSeconds('2026-11-20T00:07:31+00:00'),
                b5: m.bucketOf(t, '5m'), b1h: m.bucketOf(t, '1h'), b1d: m.bucketOf(t, '1d'),
                candle: m.localSeconds('2026-11-20T09:05:00+09:00')};
    """, None)
    wall = int(datetime(2026, 11, 20, 9, 7, 31, tzinfo=timezone.utc).timestamp())  # KST wall clock as "UTC"
    day = int(datetime(2026, 11, 20, tzinfo=timezone.utc).timestamp())
    assert out["t"] == wall and out["day"] == day and out["utc"] == day + 7 * 60 + 31
    assert out["b5"] == out["candle"] == day + 9 * 3600 + 5 * 60
    assert out["b1h"] == day + 9 * 3600 and out["b1d"] == day
