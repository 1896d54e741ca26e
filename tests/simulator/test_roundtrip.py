"""The simulator's own encoder against the core's decoder: every TR the simulator produces decodes."""
from __future__ import annotations

import random
from datetime import datetime

import pytest

from simulator import frames
from simulator.clock import KST
from simulator.config import SimulatorConfig
from simulator.server import Simulator

codec = pytest.importorskip("backbone.kis.codec")
normalize = pytest.importorskip("backbone.kis.normalize")
from backbone.kis.crypto import AesKey  # noqa: E402
from backbone.kis.control import SubscribeReply  # noqa: E402


def generated(asp: int = 62, cnt: int = 46) -> list[str]:
    cfg = SimulatorConfig(clock="always-open", start=datetime(2026, 11, 20, 10, 0, tzinfo=KST), seed=3,
                          symbols=("005930", "035720", "DNASAAPL", "DHKS00700"), rate=100.0, index_rate=50.0,
                          asp_fields=asp, cnt_fields=cnt)
    sim = Simulator(cfg)
    sim.market.set_halt("035720", True)
    out = []
    for _ in range(10):
        out += [sim.encode(em) for em in sim.market.step(0.05)]
    return out


@pytest.mark.parametrize("asp,cnt", [(62, 46), (59, 47), (63, 46)])
def test_every_generated_frame_decodes_to_events(asp, cnt):
    seen = set()
    for text in generated(asp, cnt):
        df = codec.parse_message(text)
        assert isinstance(df, codec.DataFrame), (df, text[:80])
        enc, tr, nnn, payload = text.split("|", 3)
        assert len(df.records) == int(nnn)
        for rec in df.records:
            ev = normalize.to_event(rec)
            assert not isinstance(ev, codec.DecodeError), (ev, tr)
            seen.add(tr)
            if tr == "H0STCNT0":
                assert ev.price == int(rec.fields["STCK_PRPR"]) and ev.size == int(rec.fields["CNTG_VOL"])
                assert ev.time.tzinfo is not None and ev.cum_volume == int(rec.fields["ACML_VOL"])
    assert {"H0STCNT0", "H0STASP0", "H0STMKO0", "H0UPCNT0", "HDFSCNT0", "HDFSASP0", "HDFSASP1"} <= seen


@pytest.mark.parametrize("tr_id,width", [("H0STCNI0", 26), ("H0STCNI9", 23), ("H0GSCNI0", 25)])
def test_encrypted_notice_roundtrip(tr_id, width):
    key, iv = frames.new_key_iv(random.Random(1))
    rec = frames.notice_record(tr_id, "hts1", "005930", "삼성전자", 10, 72000, "02", 7, True,
                               datetime(2026, 11, 20, 10, 0, tzinfo=KST), width)
    text = frames.data_frame(tr_id, [rec], key, iv)
    reply = codec.parse_message(frames.control_reply(tr_id, "hts1", "0", "OPSP0000", "SUBSCRIBE SUCCESS", "Y", iv, key))
    assert isinstance(reply, SubscribeReply) and reply.ok and reply.encrypt and reply.aes is not None
    df = codec.parse_message(text, {tr_id: AesKey(key, iv)})
    assert isinstance(df, codec.DataFrame) and df.encrypted, df
    assert len(df.records[0].values) == width
    assert df.records[0].fields["CUST_ID"] == "hts1"
    if tr_id.startswith("H0GS"):
        return  # the core has no typed event for overseas notices (not in its scope)
    ev = normalize.to_event(df.records[0])
    assert not isinstance(ev, codec.DecodeError), ev
    assert ev.hts_id == "hts1" and ev.is_fill and ev.quantity == 10


def test_malformed_frames_are_typed_decode_errors():
    text = generated()[0]
    for kind in frames.MALFORMED_KINDS:
        bad = frames.malform(text, kind)
        got = codec.parse_message(bad)
        if kind == "invalid_utf8":
            assert isinstance(got, codec.DecodeError) or getattr(got, "invalid_utf8", False)
        else:
            assert isinstance(got, codec.DecodeError), (kind, got)
