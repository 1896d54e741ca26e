"""Replay of recorded frames, the thread helper and the command line."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import httpx
import pytest

from simulator.testing import SimulatorThread, running_simulator

from .conftest import FAST, approval_key, connect, http_client, next_data, subscribe

CNT = ("0|H0STCNT0|001|005930^112616^62700^2^400^0.64^62700.41^62700^63000^62300^62700^62600^125^9694968^"
       "607878273600^25807^15918^-9889^93.01^4614191^4291558^1^0.45^63.03^090013^3^0^090646^5^-300^100741^2^"
       "400^20230324^20^N^71292^244009^2795345^2044512^0.16^5367918^180.61^0^^62700")
MKO = "0|H0STMKO0|001|396300^N^(null)^^311^^^55^N^N"


async def test_replay_streams_matching_frames_verbatim(tmp_path):
    f = tmp_path / "capture.txt"
    f.write_text("\n".join([CNT.replace("005930", "000660"), '{"header":{"tr_id":"PINGPONG","datetime":'
                            '"20231004160455"}}', CNT, MKO]) + "\n", encoding="utf-8")
    async with running_simulator(**FAST, replay_file=str(f), replay_rate=50.0) as sim, http_client(sim) as http:
        ak = await approval_key(http)
        async with connect(sim) as ws:
            await subscribe(ws, ak, "H0STCNT0", "005930")
            assert await next_data(ws, "H0STCNT0") == CNT
            with pytest.raises(asyncio.TimeoutError):  # 000660 and H0STMKO0 were not subscribed
                await next_data(ws, "H0STCNT0", timeout=0.3)
        assert sim.stats()["replay"] is True


def test_simulator_thread_serves_blocking_callers():
    with SimulatorThread(**FAST) as st:
        r = httpx.get(st.rest_url + "/_sim/stats", timeout=5)
        assert r.status_code == 200 and st.ws_url.startswith("ws://127.0.0.1:")
        st.call("stall", 0.1)
        assert st.stats()["faults"]["stall_s_left"] > 0
        assert isinstance(st.candles("005930"), list)
        st.call("restart", 0.05)  # async control methods work too


def test_command_line_prints_urls_and_stops_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "--rest-port", "0", "--ws-port", "0",
                             "--clock", "always-open", "--symbols", "005930"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        lines = [proc.stdout.readline() for _ in range(7)]
        text = "".join(lines)
        assert "REST      http://127.0.0.1:" in text and "WebSocket ws://127.0.0.1:" in text
        assert "always-open" in text
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
