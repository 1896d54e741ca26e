"""Fault injection endpoints and stats, over real sockets."""
from __future__ import annotations

import asyncio

import pytest
import websockets

from simulator.testing import running_simulator

from .conftest import FAST, approval_key, connect, http_client, next_data, subscribe

HOT = {**FAST, "symbols": ("005930",), "rate": 100.0, "ping_interval_s": 0.1, "pong_timeout_s": 30.0}


async def drain_closed(ws) -> websockets.ConnectionClosed:
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return info.value


async def test_stats_fields(sim):
    async with http_client(sim) as http:
        st = (await http.get("/_sim/stats")).json()
    for k in ("connections", "connections_by_appkey", "registrations", "frames_sent", "pings_sent",
              "tokens_issued", "connect_attempts", "clock", "faults"):
        assert k in st
    assert set(st["connections"]) == {"open", "total"}
    assert st["clock"]["mode"] == "session" and st["clock"]["now"].startswith("2026-11-20T10:00")


async def test_drop_closes_every_socket():
    async with running_simulator(**HOT) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STCNT0", "005930")
            assert (await http.post("/_sim/faults/drop")).json()["dropped"] == 1
            await drain_closed(ws)
        async with connect(sim) as ws2:  # reconnecting works and the app key slot is free
            assert (await subscribe(ws2, ak, "H0STCNT0", "005930"))["body"]["msg_cd"] == "OPSP0000"
        assert sim.stats()["connections"]["total"] == 2


async def test_stall_sends_nothing_then_resumes():
    async with running_simulator(**HOT) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STCNT0", "005930")
            await next_data(ws, "H0STCNT0")
            await http.post("/_sim/faults/stall", params={"seconds": "2"})
            before = sim.stats()
            await asyncio.sleep(0.3)
            during = sim.stats()
            assert during["frames_sent"] == before["frames_sent"]
            assert during["pings_sent"] == before["pings_sent"]
            assert during["connections"]["open"] == 1
            await next_data(ws, "H0STCNT0")  # data resumes after the stall


async def test_restart_refuses_then_accepts():
    async with running_simulator(**HOT) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STCNT0", "005930")
            await http.post("/_sim/faults/restart", params={"refuse_seconds": "2"})
            await drain_closed(ws)
        with pytest.raises((OSError, websockets.InvalidHandshake, asyncio.TimeoutError)):
            async with connect(sim):
                pass
        for _ in range(100):
            try:
                async with connect(sim) as ws:
                    assert (await subscribe(ws, ak, "H0STCNT0", "005930"))["body"]["msg_cd"] == "OPSP0000"
                    break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("never accepted again")


async def test_malformed_cycles_kinds():
    async with running_simulator(**HOT) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STCNT0", "005930")
            await next_data(ws, "H0STCNT0")
            await http.post("/_sim/faults/malformed", params={"count": "4"})
            got = []
            while len(got) < 3:
                m = await asyncio.wait_for(ws.recv(), 5)
                if '"PINGPONG"' in m:
                    continue
                parts = m.split("|", 3)
                if len(parts) == 4 and parts[1] == "H0STCNT0" and len(parts[3].split("^")) == 46 * int(parts[2]):
                    continue  # a well-formed frame queued before the fault was set
                got.append(m)
            truncated, wrong_count, garbage = got
            assert len(truncated.split("^")) % 46 != 0
            enc, tr, nnn, payload = wrong_count.split("|", 3)
            assert len(payload.split("^")) == 46 * (int(nnn) - 1)
            assert garbage.startswith("\x00#garbage#")
            closed = await drain_closed(ws)  # invalid UTF-8 in a text frame: a strict client closes 1007
            assert closed.sent is not None and closed.sent.code == 1007
        assert sim.stats()["faults"]["frames_malformed"] == 4


async def test_loss_skips_frames_silently_but_record_keeps_them():
    async with running_simulator(**{**HOT, "rate": 40.0}) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STCNT0", "005930")
            await subscribe(ws, ak, "H0STASP0", "005930")
            last = await next_data(ws, "H0STCNT0")
            await http.post("/_sim/faults/loss", params={"frames": "6"})
            nxt = await next_data(ws, "H0STCNT0")
    def acml(frame, first):
        vals = frame.split("|", 3)[3].split("^")
        return (int(vals[13]) - int(vals[12])) if first else int(vals[-46 + 13])
    assert acml(nxt, True) > acml(last, False)  # a gap in ACML_VOL: prints were lost
    st = sim.stats()["faults"]
    assert st["frames_lost"] == 6 and st["loss_left"] == 0
    traded = sum(t.size for t in sim.market.trade_list("005930"))
    assert traded >= acml(nxt, False)


async def test_forced_reply(sim):
    async with http_client(sim) as http:
        ak = await approval_key(http)
        await http.post("/_sim/faults/reply", params={"msg_cd": "OPSP0008"})
    async with connect(sim) as ws:
        assert (await subscribe(ws, ak, "H0STCNT0", "005930"))["body"]["msg_cd"] == "OPSP0008"
        assert (await subscribe(ws, ak, "H0STCNT0", "005930"))["body"]["msg_cd"] == "OPSP0000"


async def test_zombie_slot_lingers_after_disconnect():
    async with running_simulator(**{**HOT, "zombie_slot_s": 2.0}) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STCNT0", "005930")
        while sim.stats()["connections"]["open"]:
            await asyncio.sleep(0.01)
        async with connect(sim) as ws:
            assert (await subscribe(ws, ak, "H0STCNT0", "005930"))["body"]["msg_cd"] == "OPSP8996"
            await drain_closed(ws)
        for _ in range(100):
            async with connect(sim) as ws:
                reply = await subscribe(ws, ak, "H0STCNT0", "005930")
                if reply["body"]["msg_cd"] == "OPSP0000":
                    break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("slot never freed")


async def test_candles_record_with_bounds():
    async with running_simulator(**{**FAST, "speed": 60.0}) as sim, http_client(sim) as http:
        # Wait for a second minute so the first one is closed: its trades and its candle can then
        # be read at different moments without the generator adding to it in between.
        while len(sim.candles("005930")) < 2:
            await asyncio.sleep(0.02)
        everything = (await http.get("/_sim/candles", params={"symbol": "005930"})).json()
        first = everything[0]["time"]
        none = (await http.get("/_sim/candles", params={"symbol": "005930", "to": first})).json()
        assert none == [] and everything[0]["volume"] > 0 and everything[0]["trades"] >= 1
        assert (await http.get("/_sim/candles", params={"symbol": "005930", "from": "x"})).status_code == 400
        assert (await http.get("/_sim/candles", params={"symbol": "999999"})).status_code == 404
        trades = (await http.get("/_sim/trades", params={"symbol": "005930"})).json()
        assert sum(t["size"] for t in trades if t["time"][:16] == first[:16]) == everything[0]["volume"]
