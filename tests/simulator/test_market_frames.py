"""Generated data over real sockets: layouts, multi-record frames, consistency, encryption, every TR."""
from __future__ import annotations

import asyncio
import base64
from datetime import datetime

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backbone.kis import layouts
from simulator import ticks
from simulator.testing import running_simulator

from .conftest import FAST, approval_key, connect, http_client, next_data, subscribe


def split(frame: str) -> tuple[str, str, int, list[list[str]]]:
    enc, tr, nnn, payload = frame.split("|", 3)
    vals = payload.split("^")
    n = int(nnn)
    assert len(vals) % n == 0, (len(vals), n)
    w = len(vals) // n
    return enc, tr, n, [vals[i * w:(i + 1) * w] for i in range(n)]


def named(tr: str, rec: list[str]) -> dict[str, str]:
    return dict(zip(layouts.LAYOUTS[tr], rec))


async def collect(ws, tr: str, count: int, timeout: float = 10.0) -> list[str]:
    return [await next_data(ws, tr, timeout) for _ in range(count)]


async def test_trades_and_books_are_consistent():
    async with running_simulator(**{**FAST, "rate": 150.0}) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STCNT0", "005930")
            await subscribe(ws, ak, "H0STASP0", "005930")
            recs, multi = [], 0
            while len(recs) < 150:
                frame = await next_data(ws, "H0STCNT0")
                enc, tr, n, rows = split(frame)
                assert enc == "0" and all(len(r) == 46 for r in rows)
                multi += n > 1
                recs += [named(tr, r) for r in rows]
            book = named("H0STASP0", split(await next_data(ws, "H0STASP0"))[3][0])
    assert multi > 0  # several prints of one symbol in one frame
    prev_close = int(recs[0]["STCK_PRPR"]) - int(recs[0]["PRDY_VRSS"])
    lower, upper = ticks.price_limits(prev_close)
    for a, b in zip(recs, recs[1:]):
        assert int(b["ACML_VOL"]) == int(a["ACML_VOL"]) + int(b["CNTG_VOL"])
        assert int(b["ACML_TR_PBMN"]) == int(a["ACML_TR_PBMN"]) + int(b["STCK_PRPR"]) * int(b["CNTG_VOL"])
    for r in recs:
        price = int(r["STCK_PRPR"])
        assert ticks.on_grid(price) and lower <= price <= upper
        assert price == int(r["ASKP1"] if r["CCLD_DVSN"] == "1" else r["BIDP1"])
        assert int(r["STCK_LWPR"]) <= price <= int(r["STCK_HGPR"])
        assert r["BSOP_DATE"] == "20261120" and r["STCK_CNTG_HOUR"] >= "100000"
    asks = [int(book[f"ASKP{i}"]) for i in range(1, 11)]
    bids = [int(book[f"BIDP{i}"]) for i in range(1, 11)]
    assert asks[0] > bids[0] and asks == sorted(asks) and bids == sorted(bids, reverse=True)
    assert all(ticks.on_grid(p) for p in asks + bids if p)
    assert len(split_book := list(book)) == 62 and split_book[-1] == "MIDP_CLS_CODE"


async def test_layout_widths_selectable():
    cfg = {**FAST, "asp_fields": 59, "cnt_fields": 47, "symbols": ("005930",)}
    async with running_simulator(**cfg) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STCNT0", "005930")
            await subscribe(ws, ak, "H0STASP0", "005930")
            assert {len(r) for r in split(await next_data(ws, "H0STASP0"))[3]} == {59}
            assert {len(r) for r in split(await next_data(ws, "H0STCNT0"))[3]} == {47}


def decrypt(b64: str, key: str, iv: str) -> str:
    d = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
    raw = d.update(base64.b64decode(b64)) + d.finalize()
    u = padding.PKCS7(128).unpadder()
    return (u.update(raw) + u.finalize()).decode("utf-8")


async def test_execution_notices_are_encrypted_with_the_reply_key(sim):
    async with http_client(sim) as http:
        ak = await approval_key(http)
    async with connect(sim) as ws:
        reply = await subscribe(ws, ak, "H0STCNI0", "myhtsid")
        assert reply["header"]["encrypt"] == "Y"
        key, iv = reply["body"]["output"]["key"], reply["body"]["output"]["iv"]
        frames = await collect(ws, "H0STCNI0", 2)
    notices = []
    for f in frames:
        enc, tr, nnn, payload = f.split("|", 3)
        assert enc == "1" and nnn == "001"
        vals = decrypt(payload, key, iv).split("^")
        assert len(vals) == 26
        notices.append(named("H0STCNI0", vals))
    assert [n["CNTG_YN"] for n in notices] == ["1", "2"]  # acceptance, then fill
    assert all(n["CUST_ID"] == "myhtsid" for n in notices)


async def test_every_tr_can_be_produced():
    cfg = {**FAST, "clock": "always-open", "start": None, "symbols": ("005930", "000660", "DNASAAPL", "DHKS00700"),
           "index_rate": 20.0}
    async with running_simulator(**cfg) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            for tr, key in (("H0STMKO0", "005930"), ("H0UPCNT0", "0001"), ("HDFSCNT0", "DNASAAPL"),
                            ("HDFSASP0", "DNASAAPL"), ("HDFSASP1", "DHKS00700"), ("H0STCNT0", "005930")):
                assert (await subscribe(ws, ak, tr, key))["body"]["msg_cd"] == "OPSP0000"
            widths = {}
            for tr in ("H0UPCNT0", "HDFSCNT0", "HDFSASP0", "HDFSASP1"):
                widths[tr] = {len(r) for r in split(await next_data(ws, tr))[3]}
            assert widths == {"H0UPCNT0": {30}, "HDFSCNT0": {26}, "HDFSASP0": {71}, "HDFSASP1": {17}}
            await http.post("/_sim/halt", params={"symbol": "005930", "halted": "1"})
            status = named("H0STMKO0", split(await next_data(ws, "H0STMKO0"))[3][0])
            assert status["MKSC_SHRN_ISCD"] == "005930" and status["TRHT_YN"] == "Y"
            before = len(sim.market.trade_list("005930"))
            await asyncio.sleep(0.2)
            assert len(sim.market.trade_list("005930")) == before  # halted: no prints


async def test_session_open_emits_market_status():
    start = datetime.fromisoformat("2026-11-20T08:59:54+09:00")
    async with running_simulator(**{**FAST, "start": start, "speed": 2.0}) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STMKO0", "005930")
            rec = named("H0STMKO0", split(await next_data(ws, "H0STMKO0"))[3][0])
            assert rec["MKOP_CLS_CODE"] == "112"
