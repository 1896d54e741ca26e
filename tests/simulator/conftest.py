"""Shared helpers: a simulator on ephemeral ports with short timings, REST and WS helpers."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime

import httpx
import pytest
import websockets

from backbone.settings import SIMULATOR_APP_KEY, SIMULATOR_APP_SECRET
from simulator.testing import running_simulator

KEY, SECRET = SIMULATOR_APP_KEY, SIMULATOR_APP_SECRET
START = datetime.fromisoformat("2026-11-20T10:00:00+09:00")  # a Friday, KRX open
FAST = dict(clock="session", start=START, symbols=("005930", "000660", "035720"), rate=20.0, seed=7,
            notice_interval_s=0.2, tick_s=0.02)


@pytest.fixture
async def sim():
    async with running_simulator(**FAST) as s:
        yield s


async def issue_token(http: httpx.AsyncClient, key: str = KEY, secret: str = SECRET) -> httpx.Response:
    return await http.post("/oauth2/tokenP", json={"grant_type": "client_credentials", "appkey": key,
                                                   "appsecret": secret})


async def approval_key(http: httpx.AsyncClient, key: str = KEY, secret: str = SECRET) -> str:
    r = await http.post("/oauth2/Approval", json={"grant_type": "client_credentials", "appkey": key,
                                                  "secretkey": secret})
    assert r.status_code == 200, r.text
    return r.json()["approval_key"]


def sub_msg(approval: str, tr_id: str, tr_key: str, tr_type: str = "1") -> str:
    return ('{"header":{"approval_key":"%s","custtype":"P","tr_type":"%s","content-type":"utf-8"},'
            '"body":{"input":{"tr_id":"%s","tr_key":"%s"}}}' % (approval, tr_type, tr_id, tr_key))


async def next_json(ws, timeout: float = 5.0, skip_data: bool = True, skip_ping: bool = True) -> dict:
    """The next JSON control message (data frames and, by default, PINGPONGs skipped)."""
    async def loop():
        while True:
            m = await ws.recv()
            if isinstance(m, str) and m[:1] == "{":
                d = json.loads(m)
                if skip_ping and d["header"]["tr_id"] == "PINGPONG":
                    continue
                return d
            if not skip_data:
                return {"raw": m}
    return await asyncio.wait_for(loop(), timeout)


async def next_data(ws, tr_id: str, timeout: float = 5.0) -> str:
    async def loop():
        while True:
            m = await ws.recv()
            if isinstance(m, str) and m.split("|", 2)[1:2] == [tr_id]:
                return m
    return await asyncio.wait_for(loop(), timeout)


async def subscribe(ws, approval: str, tr_id: str, tr_key: str, tr_type: str = "1") -> dict:
    await ws.send(sub_msg(approval, tr_id, tr_key, tr_type))
    return await next_json(ws)


def http_client(sim) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=sim.rest_url, timeout=5.0)


def connect(sim, path: str = "/tryitout"):
    return websockets.connect(sim.ws_url + path, ping_interval=None, open_timeout=5, close_timeout=1,
                              max_size=None)
