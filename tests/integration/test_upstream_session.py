"""UpstreamSession (no Ray) against a minimal KIS-like WebSocket server on an ephemeral port."""
from __future__ import annotations

import asyncio
import json
import socket

import pytest
import websockets

from backbone.backoff import BackoffConfig
from backbone.kis.control import ReplyKind  # noqa: F401  (documents the replies the fake sends)
from backbone.subscriptions import Config as BookConfig, SubscriptionBook
from upstream.options import SocketOptions
from upstream.ws_session import ConnState, UpstreamSession

PING = '{"header":{"tr_id":"PINGPONG","datetime":"20261120100000"}}'


def reply(tr_id: str, tr_key: str, code: str = "OPSP0000") -> str:
    rt = "0" if code in ("OPSP0000", "OPSP0001") else "1"
    return json.dumps({"header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": "N"},
                       "body": {"rt_cd": rt, "msg_cd": code, "msg1": "x",
                                "output": {"iv": "0123456789abcdef", "key": "a" * 32}}}, separators=(",", ":"))


class FakeKis:
    def __init__(self, send_ping: bool = True) -> None:
        self.received: list[str | bytes] = []
        self.connections = 0
        self.send_ping = send_ping
        self.server = None

    async def handler(self, ws) -> None:
        self.connections += 1
        if self.send_ping:
            await ws.send(PING)
        async for msg in ws:
            self.received.append(msg)
            obj = json.loads(msg)
            if obj["header"].get("tr_type") == "1":
                inp = obj["body"]["input"]
                await ws.send(reply(inp["tr_id"], inp["tr_key"]))

    async def __aenter__(self):
        self.server = await websockets.serve(self.handler, "127.0.0.1", 0, ping_interval=None)
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/tryitout"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()


def session(url: str, **opts) -> tuple[UpstreamSession, SubscriptionBook, list]:
    book = SubscriptionBook(BookConfig(budget=41, grace_s=0.1))
    got: list = []

    async def approval(force: bool) -> str:
        return "00000000-0000-0000-0000-000000000000"

    o = SocketOptions(**{"send_interval_s": 0.0, "backoff": BackoffConfig(base_s=0.1, cap_s=0.4, min_delay_s=0.1),
                         **opts})
    return UpstreamSession(url, book, approval, lambda evs, ns: got.extend(evs), o), book, got


async def wait(pred, timeout=10.0):
    for _ in range(int(timeout / 0.02)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_pingpong_is_echoed_verbatim_as_text_and_app_pings_are_sent():
    async with FakeKis() as kis:
        s, book, _ = session(kis.url, app_ping_s=0.2)
        task = asyncio.create_task(s.run())
        book.acquire("t", [("H0STCNT0", "005930")], 0, 0)
        s.wake()
        await wait(lambda: PING in kis.received and s.app_pings_sent >= 2)
        assert all(isinstance(m, str) for m in kis.received)  # text frames only
        assert '{"header":{"tr_id":"PINGPONG"}}' in kis.received
        await wait(lambda: book.live_keys() == [("H0STCNT0", "005930")])
        assert s.state is ConnState.CONNECTED
        s.stop()
        await asyncio.wait_for(task, 5)


async def test_silent_server_trips_the_watchdog_and_the_session_reconnects():
    async with FakeKis(send_ping=False) as kis:
        s, book, _ = session(kis.url, idle_limit_s=0.3, app_ping_s=60)
        task = asyncio.create_task(s.run())
        await wait(lambda: kis.connections >= 3)
        assert s.watchdog_reconnects >= 2
        s.stop()
        await asyncio.wait_for(task, 5)


async def test_refused_connections_back_off_instead_of_looping():
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s, _, _ = session(f"ws://127.0.0.1:{port}", backoff=BackoffConfig(base_s=0.1, cap_s=0.8, min_delay_s=0.1,
                                                                      jitter=0))
    task = asyncio.create_task(s.run())
    await asyncio.sleep(2.0)
    s.stop()
    await asyncio.wait_for(task, 5)
    # 0.1 + 0.2 + 0.4 + 0.8 + 0.8 ... within 2 s: at most 6 attempts (a tight loop would make thousands)
    assert 2 <= s.connect_attempts <= 6
    assert s.last_end.startswith("connect failed")


@pytest.mark.parametrize("code", ["OPSP8996"])
async def test_in_use_reply_ends_the_connection_with_the_long_pause(code):
    class InUse(FakeKis):
        async def handler(self, ws):
            self.connections += 1
            async for _ in ws:
                await ws.send(reply("(null)", "", code))

    async with InUse() as kis:
        s, book, _ = session(kis.url, backoff=BackoffConfig(base_s=0.1, cap_s=1, min_delay_s=0.1, in_use_delay_s=30))
        task = asyncio.create_task(s.run())
        book.acquire("t", [("H0STCNT0", "005930")], 0, 0)
        await wait(lambda: s.in_use == 1)
        await wait(lambda: s.last_delay_s is not None)
        assert s.last_delay_s >= 30 and kis.connections == 1
        s.stop()
        await asyncio.wait_for(task, 5)
