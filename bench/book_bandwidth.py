"""Bytes on the wire: order-book deltas vs full snapshots for the same book churn.

Churn model (a liquid KRX name, tick 100 won around 71,000): each update changes the size at 1-3
random levels; with probability `--move` the mid moves one tick (levels scroll in and out of the 10
level window); now and then a level empties. Every update is a full 10+10 level KIS book (what
H0STASP0 delivers); the differ turns it into a delta.

Reports JSON bytes (compact separators, data payload only) for deltas vs full snapshots, the ratio,
and the differ's cost per update next to the baseline of serializing a full snapshot per update,
both measured in this run.

    .venv/bin/python bench/book_bandwidth.py [--updates 20000] [--move 0.1] [--seed 1]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backbone.book import BookDiffer, apply_delta, BookSnapshot  # noqa: E402
from backbone.kis.events import KST, BookLevel, OrderBook  # noqa: E402

TICK = 100
DEPTH = 10


def churn(n: int, move_p: float, seed: int) -> list[OrderBook]:
    rnd = random.Random(seed)
    best_bid = 71_000
    sizes: dict[int, int] = {}

    def size_at(p: int) -> int:
        if p not in sizes:
            sizes[p] = rnd.randint(1, 40) * 100
        return sizes[p]

    books = []
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=KST)
    for i in range(n):
        if rnd.random() < move_p:
            best_bid += TICK * rnd.choice((-1, 1))
        asks = [best_bid + TICK * (k + 1) for k in range(DEPTH)]
        bids = [best_bid - TICK * k for k in range(DEPTH)]
        for _ in range(rnd.randint(1, 3)):
            p = rnd.choice(asks[:5] + bids[:5] + asks + bids)  # near-touch levels churn more
            r = rnd.random()
            sizes[p] = 0 if r < 0.05 else max(1, size_at(p) + rnd.randint(-15, 15) * 10)
        book = OrderBook(
            "005930", t0 + timedelta(milliseconds=200 * i),
            tuple(BookLevel(p, size_at(p)) for p in asks if size_at(p) > 0),
            tuple(BookLevel(p, size_at(p)) for p in bids if size_at(p) > 0), 0, 0, None)
        for p in [p for p, s in sizes.items() if s == 0 and rnd.random() < 0.3]:
            sizes.pop(p)  # an emptied level refills later with a fresh size
        books.append(book)
    return books


def dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=20_000)
    ap.add_argument("--move", type=float, default=0.1, help="probability of a one-tick mid move")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    books = churn(args.updates, args.move, args.seed)

    # differ only
    d = BookDiffer(DEPTH)
    t = time.perf_counter()
    deltas = [d.update(b) for b in books]
    diff_us = (time.perf_counter() - t) / len(books) * 1e6

    # differ + JSON encoding of the delta (what a router does per update)
    d = BookDiffer(DEPTH)
    t = time.perf_counter()
    delta_bytes = 0
    sent = 0
    for b in books:
        delta = d.update(b)
        if delta is not None:
            delta_bytes += len(dumps(delta.to_dict()))
            sent += 1
    delta_total_us = (time.perf_counter() - t) / len(books) * 1e6

    # baseline: a full snapshot JSON per update
    d = BookDiffer(DEPTH)
    t = time.perf_counter()
    snap_bytes = 0
    for b in books:
        d.update(b)
        snap_bytes += len(dumps(d.snapshot().to_dict()))
    snap_total_us = (time.perf_counter() - t) / len(books) * 1e6

    # correctness of the run: rebuild from deltas
    state = BookSnapshot.empty(depth=DEPTH)
    for delta in deltas:
        if delta is not None:
            state = apply_delta(state, delta)
    assert state.checksum == d.snapshot().checksum

    changes = sum(len(x.changes) for x in deltas if x is not None)
    n = len(books)
    rows = [
        ("updates (full 10+10 books)", f"{n}"),
        ("deltas sent (non-empty)", f"{sent}"),
        ("levels per delta (mean)", f"{changes / max(sent, 1):.2f}"),
        ("snapshot JSON bytes total", f"{snap_bytes:,}"),
        ("delta JSON bytes total", f"{delta_bytes:,}"),
        ("snapshot bytes / update", f"{snap_bytes / n:.1f}"),
        ("delta bytes / update", f"{delta_bytes / n:.1f}"),
        ("bytes ratio delta/snapshot", f"{delta_bytes / snap_bytes:.3f}  ({snap_bytes / delta_bytes:.1f}x less)"),
        ("differ us/update", f"{diff_us:.1f}"),
        ("differ+delta JSON us/update", f"{delta_total_us:.1f}"),
        ("baseline: differ+snapshot JSON us/update", f"{snap_total_us:.1f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"book bandwidth: {n} updates, move p={args.move}, seed={args.seed}")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
