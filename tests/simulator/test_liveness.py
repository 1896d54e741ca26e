"""PINGPONG: sent every N s, session closed when unanswered, kept alive by a text echo or a protocol pong."""
from __future__ import annotations

import asyncio
import json
import re

import pytest
import websockets

from simulator.testing import running_simulator

from .conftest import FAST, approval_key, connect, http_client, subscribe

SHORT = {**FAST, "ping_interval_s": 0.1, "pong_timeout_s": 1.0, "symbols": ("005930",), "rate": 1.0}


async def next_ping(ws, timeout: float = 5.0) -> str:
    async def loop():
        while True:
            m = await ws.recv()
            if isinstance(m, str) and '"PINGPONG"' in m:
                return m
    return await asyncio.wait_for(loop(), timeout)


async def test_unanswered_pingpong_closes_the_session():
    async with running_simulator(**SHORT) as sim:
        async with connect(sim) as ws:
            ping = await next_ping(ws)
            assert re.fullmatch(r'\{"header":\{"tr_id":"PINGPONG","datetime":"\d{14}"\}\}', ping)
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
        assert sim.stats()["pings_sent"] >= 1


@pytest.mark.parametrize("answer", ["text", "pong"])
async def test_answer_keeps_the_session_alive(answer):
    async with running_simulator(**SHORT) as sim:
        async with connect(sim) as ws:
            for _ in range(20):  # 20 pings answered = 2x the timeout survived
                ping = await next_ping(ws)
                if answer == "text":
                    await ws.send(json.dumps(json.loads(ping)))  # re-serialized, like python-kis
                else:
                    await ws.pong(ping.encode())
            assert sim.stats()["connections"]["open"] == 1
            await ws.send(ping)  # still usable


async def test_client_pingpong_accepted_any_time(sim):
    async with http_client(sim) as http:
        ak = await approval_key(http)
    async with connect(sim) as ws:
        await ws.send('{"header":{"tr_id":"PINGPONG","datetime":"20261120100000"}}')
        reply = await subscribe(ws, ak, "H0STCNT0", "005930")  # no error reply came before it
        assert reply["body"]["msg_cd"] == "OPSP0000"
