"""Subscribe/unsubscribe replies and session rules over a real socket."""
from __future__ import annotations

import asyncio
import json
import re

import pytest
import websockets

from .conftest import approval_key, connect, http_client, next_data, next_json, sub_msg, subscribe


async def test_subscribe_reply_is_byte_compatible(sim):
    async with http_client(sim) as http:
        ak = await approval_key(http)
    async with connect(sim, "") as ws:
        await ws.send(sub_msg(ak, "H0STCNT0", "005930"))
        raw = await asyncio.wait_for(ws.recv(), 5)
    m = re.fullmatch(r'\{"header":\{"tr_id":"H0STCNT0","tr_key":"005930","encrypt":"N"\},"body":\{"rt_cd":"0",'
                     r'"msg_cd":"OPSP0000","msg1":"SUBSCRIBE SUCCESS","output":\{"iv":"([0-9a-f]{16})",'
                     r'"key":"([a-z]{32})"\}\}\}', raw)
    assert m, raw


async def test_any_key_order_and_path_and_fresh_approval_keys(sim):
    async with http_client(sim) as http:
        ak1, ak2 = await approval_key(http), await approval_key(http)
    async with connect(sim, "/tryitout/H0STCNT0") as ws:
        msg = {"body": {"input": {"tr_key": "005930", "tr_id": "H0STASP0"}},
               "header": {"tr_type": "1", "content-type": "utf-8", "custtype": "P", "approval_key": ak1}}
        await ws.send(json.dumps(msg))
        assert (await next_json(ws))["body"]["msg_cd"] == "OPSP0000"
        assert (await subscribe(ws, ak2, "H0STCNT0", "005930"))["body"]["msg_cd"] == "OPSP0000"


async def test_duplicate_unknown_unsubscribe_and_unsubscribe(sim):
    async with http_client(sim) as http:
        ak = await approval_key(http)
    async with connect(sim) as ws:
        await subscribe(ws, ak, "H0STCNT0", "005930")
        dup = await subscribe(ws, ak, "H0STCNT0", "005930")
        assert dup["body"] == {"rt_cd": "1", "msg_cd": "OPSP0002", "msg1": "ALREADY IN SUBSCRIBE"}
        unknown = await subscribe(ws, ak, "H0STCNT0", "000660", "2")
        assert unknown["body"] == {"rt_cd": "1", "msg_cd": "OPSP0003", "msg1": "UNSUBSCRIBE ERROR(not found!)"}
        ok = await subscribe(ws, ak, "H0STCNT0", "005930", "2")
        assert ok["body"]["msg_cd"] == "OPSP0001" and ok["body"]["rt_cd"] == "0"


async def test_invalid_approval_and_bad_tr_type(sim):
    async with http_client(sim) as http:
        ak = await approval_key(http)
    async with connect(sim) as ws:
        bad = await subscribe(ws, "00000000-0000-0000-0000-000000000000", "H0STCNT0", "005930")
        assert bad["body"]["msg_cd"] == "OPSP0011" and bad["body"]["rt_cd"] == "1"
        zero = await subscribe(ws, ak, "H0STCNT0", "005930", "0")
        assert zero["body"]["msg_cd"] == "OPSP8997"
        await ws.send("not json")
        assert (await next_json(ws))["body"]["msg_cd"] == "OPSP9999"


async def test_registration_cap_41(sim):
    async with http_client(sim) as http:
        ak = await approval_key(http)
    codes = [f"{i:06d}" for i in range(1, 43)]
    async with connect(sim) as ws:
        for c in codes[:41]:
            assert (await subscribe(ws, ak, "H0STCNT0", c))["body"]["msg_cd"] == "OPSP0000"
        over = await subscribe(ws, ak, "H0STCNT0", codes[41])
        assert over["body"] == {"rt_cd": "1", "msg_cd": "OPSP0008", "msg1": "MAX SUBSCRIBE OVER"}
        # the session stays up and freeing one slot allows another
        await subscribe(ws, ak, "H0STCNT0", codes[0], "2")
        assert (await subscribe(ws, ak, "H0STCNT0", codes[41]))["body"]["msg_cd"] == "OPSP0000"
    assert sim.stats()["registrations"] == 42


async def test_second_session_same_app_key_gets_8996_and_is_closed(sim):
    async with http_client(sim) as http:
        ak = await approval_key(http)
    async with connect(sim) as first:
        await subscribe(first, ak, "H0STCNT0", "005930")
        async with connect(sim) as second:
            await second.send(sub_msg(ak, "H0STCNT0", "000660"))
            raw = await asyncio.wait_for(second.recv(), 5)
            assert raw == ('{"header":{"tr_id":"(null)","tr_key":"","encrypt":"N"},"body":{"rt_cd":"9",'
                           '"msg_cd":"OPSP8996","msg1":"ALREADY IN USE appkey"}}')
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(second.recv(), 5)
        # the first session keeps working
        assert await next_data(first, "H0STCNT0")


async def test_independent_app_keys_each_get_a_session():
    from simulator.testing import running_simulator

    from .conftest import FAST, KEY, SECRET

    async with running_simulator(**FAST, credentials={KEY: SECRET, "K2": "S2"}) as s:
        async with http_client(s) as http:
            ak1, ak2 = await approval_key(http), await approval_key(http, "K2", "S2")
        async with connect(s) as a, connect(s) as b:
            assert (await subscribe(a, ak1, "H0STCNT0", "005930"))["body"]["msg_cd"] == "OPSP0000"
            assert (await subscribe(b, ak2, "H0STCNT0", "005930"))["body"]["msg_cd"] == "OPSP0000"
            st = s.stats()
            assert st["connections"]["open"] == 2 and len(st["connections_by_appkey"]) == 2
            assert KEY not in json.dumps(st)  # app keys appear only hashed
