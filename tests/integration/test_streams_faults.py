"""Stream gateway under faults: upstream reconnect mid-stream, a client that stops reading."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct

from .conftest import wait_for
from .stream_env import WsClient, start_stack
from .test_streams import BookClient

SYMS = ("005930", "000660")


async def test_upstream_reconnect_status_and_resynced_books(ray_env, make_env):
    env = make_env(symbols=SYMS, rate=30.0, book_rate=10.0)
    _actor, gw = start_stack(env)
    try:
        c = await WsClient.connect(gw.ws_url)
        await c.send({"op": "subscribe", "channels": ["status", f"trade:{SYMS[0]}", f"book:{SYMS[0]}"]})
        bc = BookClient()
        trades_before = []

        def live(m):
            if m["channel"] == f"book:{SYMS[0]}":
                bc.on(m)
            if m["type"] == "trade":
                trades_before.append(m["seq"])
            return bc.deltas >= 5 and len(trades_before) >= 5
        await c.until(live, 60, "live data")
        await asyncio.to_thread(env.fault, "restart", 2.0)  # drop + refuse connections for 2 s
        states = []

        def back(m):
            if m["channel"] == f"book:{SYMS[0]}":
                bc.on(m)  # checksums verified across the outage
            if m["type"] == "status":
                states.append(m["data"]["state"])
            return states and states[-1] == "connected" and len(states) >= 2
        await c.until(back, 60, "status: away, then connected")
        assert any(s != "connected" for s in states), states
        snaps_before = bc.snapshots
        after = []

        def data_again(m):
            if m["channel"] == f"book:{SYMS[0]}":
                bc.on(m)
            if m["type"] == "trade":
                after.append(m["seq"])
            return len(after) >= 5 and bc.snapshots > snaps_before and bc.deltas >= 10
        await c.until(data_again, 60, "trades and a resync snapshot after the reconnect")
        assert after[0] > trades_before[-1]
        assert env.stats()["connections"]["open"] == 1
        await c.close()
    finally:
        gw.stop()


class StuckClient:
    """A raw WebSocket client that subscribes and then never reads (tiny receive buffer)."""

    def __init__(self, url: str) -> None:
        host, port = url.split("//")[1].split("/")[0].split(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)  # byte by byte: leave every frame after the handshake unread
        assert head.startswith(b"HTTP/1.1 101"), head

    def send_text(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def read_frames(self, count: int) -> list[dict]:
        """Start reading again: parse `count` text frames (server frames are unmasked)."""
        buf, out = b"", []
        while len(out) < count:
            while True:
                if len(buf) >= 2:
                    n, off = buf[1] & 0x7F, 2
                    if n == 126 and len(buf) >= 4:
                        n, off = struct.unpack("!H", buf[2:4])[0], 4
                    elif n == 127 and len(buf) >= 10:
                        n, off = struct.unpack("!Q", buf[2:10])[0], 10
                    if n < 126 or off > 2:
                        if len(buf) >= off + n:
                            break
                buf += self.sock.recv(65536)
            if buf[0] & 0x0F == 1:
                out.append(json.loads(buf[off:off + n]))
            buf = buf[off + n:]
        return out

    def close(self) -> None:
        self.sock.close()


async def test_slow_consumer_bounded_and_others_unaffected(ray_env, make_env):
    env = make_env(symbols=SYMS, rate=150.0, book_rate=30.0)
    max_messages, backlog = 1000, 200
    _actor, gw = start_stack(env, gateway={"max_messages": max_messages, "book_backlog": backlog}, sndbuf=8192)
    channels = [f"{k}:{s}" for s in SYMS for k in ("trade", "book")]
    try:
        stuck = await asyncio.to_thread(StuckClient, gw.ws_url)
        stuck.send_text(json.dumps({"op": "subscribe", "channels": channels}))
        hub = await asyncio.to_thread(lambda: wait_for(lambda: gw.hub, what="hub"))
        slow = await asyncio.to_thread(lambda: wait_for(lambda: next(iter(hub.clients), None), what="client"))
        fast = await WsClient.connect(gw.ws_url)
        await fast.send({"op": "subscribe", "channels": channels})
        books = {s: BookClient() for s in SYMS}
        seqs: dict[str, list[int]] = {s: [] for s in SYMS}
        def progress(m):
            sym = m["channel"].split(":")[1]
            if m["channel"].startswith("book:"):
                books[sym].on(m)  # contiguous seqs and checksums: nothing lost for the fast client
            elif m["type"] == "trade":
                seqs[sym].append(m["seq"])
            slow_q = slow.queue
            return slow_q.stats.merges + slow_q.stats.slow_consumer >= 3 and all(len(v) >= 200 for v in seqs.values())
        try:
            await fast.until(progress, 120, "the stuck client to overflow while the fast one streams")
        except AssertionError as e:
            raise AssertionError(f"{slow.queue.stats} sent={slow.sent} q={len(slow.queue)} min={slow.min_seq}") from e
        quick = next(c for c in hub.clients if c is not slow)
        assert slow.queue.stats.max_depth <= max_messages + 64 + len(channels)  # bounded
        assert len(slow.queue) <= max_messages + 64 + len(channels)
        assert quick.queue.stats.merges == 0 and quick.queue.stats.slow_consumer == 0
        assert quick.queue.stats.dropped == 0
        for s in SYMS:
            assert seqs[s] == list(range(seqs[s][0], seqs[s][0] + len(seqs[s])))
        # The stuck client starts reading again: it gets SLOW_CONSUMER / snapshots and a consistent stream.
        got = await asyncio.to_thread(stuck.read_frames, 400)
        kinds = {(m["type"], (m.get("data") or {}).get("code") if m["type"] == "error" else None) for m in got}
        assert ("snapshot", None) in kinds
        stuck.close()
        await fast.close()
    finally:
        gw.stop()


async def test_router_crash_clients_resync_with_new_epoch(ray_env, make_env):
    import ray

    from actors.router import router_name
    from backbone.settings import NAMESPACE
    env = make_env(symbols=SYMS, rate=30.0, book_rate=10.0)
    _actor, gw = start_stack(env)
    try:
        c = await WsClient.connect(gw.ws_url)
        await c.send({"op": "subscribe", "channels": [f"trade:{SYMS[0]}", f"book:{SYMS[0]}"]})
        bc = BookClient()

        def see(m):
            if m["channel"] == f"book:{SYMS[0]}":
                bc.on(m)
            return m
        first = await c.until(lambda m: see(m)["type"] == "trade", 60, "a trade")
        router = ray.get_actor(router_name(SYMS[0]), namespace=NAMESPACE)
        ray.kill(router, no_restart=False)  # a crash: Ray restarts it with a new epoch
        snap = await c.until(lambda m: see(m)["type"] == "snapshot" and m["epoch"] != first["epoch"]
                             and m["channel"] == f"trade:{SYMS[0]}", 60, "a resync snapshot in the new epoch")
        assert snap["recovered"] is False
        nxt = await c.until(lambda m: see(m)["type"] == "trade", 60, "trades in the new epoch")
        assert nxt["epoch"] == snap["epoch"] and nxt["seq"] == snap["seq"] + 1
        await c.until(lambda m: see(m) and bc.deltas >= 3 and bc.book is not None, 60, "book deltas again")
        await c.close()
    finally:
        gw.stop()
