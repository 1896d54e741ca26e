"""`python -m backbone.kis decode`: JSON lines per record, control kinds, errors keep going."""
from __future__ import annotations

import io
import json
import subprocess
import sys

from backbone.kis.crypto import AesKey, encrypt
from backbone.kis.decode_cli import main

from . import samples as S

K = AesKey(S.KEY, S.IV)


def run(lines: list[bytes], *args: str) -> list[dict]:
    out = io.StringIO()
    assert main(["decode", "-", *args], stdin=io.BytesIO(b"\n".join(lines) + b"\n"), stdout=out) == 0
    return [json.loads(x) for x in out.getvalue().splitlines()]


def test_decode_stream_mixed():
    cap = [S.PINGPONG_1.encode(), S.CNT_REAL.encode(), b"\xff\xfegarbage", S.SUB_OK_WIRE.encode(),
           ("0|H0STCNT0|002|" + S.CNT_PORTAL_PAYLOAD + "^" + S.CNT_PORTAL_PAYLOAD).encode(), b"",
           S.ASP_REAL_1.encode() + b"\r", S.PGM.encode()]
    out = run(cap, "--date", "2024-05-02")
    assert out[0] == {"line": 1, "kind": "pingpong", "datetime": "20231004160455"}
    t = out[1]
    assert t["tr_id"] == "H0STCNT0" and t["fields"]["STCK_PRPR"] == "62700" and t["extras"] == []
    ev = t["event"]
    assert ev["type"] == "Trade" and ev["price"] == 62700 and ev["change_rate"] == "0.64"
    assert ev["time"] == "2023-03-24T11:26:16+09:00" and ev["side"] == "buy" and ev["tr_id"] == "H0STCNT0"
    assert out[2]["error"]["kind"] == "garbage"
    assert out[3]["kind"] == "subscribe_reply" and out[3]["msg_cd"] == "OPSP0000" and out[3]["reply"] == "SUBSCRIBED"
    assert S.KEY not in json.dumps(out)
    assert [o["record"] for o in out[4:6]] == [0, 1]
    book = out[6]["event"]
    assert book["type"] == "OrderBook" and book["asks"][0] == {"price": 77900, "size": 265881}
    assert book["time"] == "2024-05-02T11:30:19+09:00"
    assert out[7]["event"] is None and out[7]["error"]["kind"] == "unknown_tr" and len(out[7]["extras"]) == 11
    assert len(out) == 8


def test_encrypted_with_key_option_and_without():
    line = f"1|H0STCNI0|001|{encrypt(S.CNI_FILL_23, K)}".encode()
    ok = run([line], "--key", f"H0STCNI0:{S.KEY}:{S.IV}", "--date", "2024-05-02")
    assert ok[0]["encrypted"] and ok[0]["event"]["price"] == 3190 and ok[0]["fields"]["ACNT_NAME"] == "김한투"
    assert run([line])[0]["error"]["kind"] == "no_key"


def test_module_entry_point_reads_file(tmp_path):
    f = tmp_path / "cap.txt"
    f.write_bytes(S.UPCNT.encode() + b"\nxx\n")
    p = subprocess.run([sys.executable, "-m", "backbone.kis", "decode", str(f)], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(x) for x in p.stdout.decode().splitlines()]
    assert rows[0]["event"]["value"] == "2624.54" and rows[1]["error"]["kind"] == "garbage"


def test_missing_file_is_a_clean_error(tmp_path, capsys):
    assert main(["decode", str(tmp_path / "nope.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err
