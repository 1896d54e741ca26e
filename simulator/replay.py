"""`--replay FILE`: stream recorded raw frames (one per line, as received) to matching subscribers.

A data line `enc|TR|NNN|payload` goes to every session registered for (TR, first payload field);
encrypted lines (whose key is not readable) go to any registration of that TR. JSON control lines
(PINGPONG, replies) in a capture are skipped: the simulator makes its own. Streaming starts once
somebody has registered, so a client that connects after start-up still sees the capture.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from .server import Simulator


def read_frames(path: str) -> Iterator[tuple[str, str | None, str]]:
    """(tr_id, tr_key or None, raw line) for every data-frame line of a capture."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line or line[0] not in "01" or line.count("|") < 3:
                continue
            enc, tr_id, _count, payload = line.split("|", 3)
            key = payload.split("^", 1)[0] if enc == "0" else None
            yield tr_id, key, line


async def replay(sim: "Simulator") -> None:
    cfg = sim.config
    assert cfg.replay_file is not None
    while True:
        while not any(s.regs for s in sim.ws.sessions):
            await asyncio.sleep(0.05)
        for i, (tr_id, key, line) in enumerate(read_frames(cfg.replay_file)):
            while sim.faults.stalled():
                await asyncio.sleep(0.05)
            sim.send_raw(tr_id, key, line)
            if cfg.replay_rate:
                await asyncio.sleep(1.0 / cfg.replay_rate)
            elif i % 200 == 0:
                await asyncio.sleep(0)
        if not cfg.replay_loop:
            return
