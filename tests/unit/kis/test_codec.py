"""Data-frame decoding: verbatim reference frames, multi-record frames, layout widths, error kinds."""
from __future__ import annotations

import pytest

from backbone.kis.codec import DataFrame, Record, parse_message
from backbone.kis.crypto import AesKey, encrypt
from backbone.kis.errors import DecodeError, DecodeErrorKind
from backbone.kis.layouts import H0STASP0, H0STCNI0, H0STCNT0

from . import samples as S

K = AesKey(S.KEY, S.IV)


def frame(tr_id: str, *payloads: str, enc: str = "0") -> str:
    return f"{enc}|{tr_id}|{len(payloads):03d}|" + "^".join(payloads)


def payload_of(f: str) -> str:
    return f.split("|", 3)[3]


def test_real_h0stcnt0_frame_maps_fields_by_name():
    msg = parse_message(S.CNT_REAL)
    assert isinstance(msg, DataFrame) and msg.tr_id == "H0STCNT0" and not msg.encrypted
    (rec,) = msg.records
    f = rec.fields
    assert len(rec.values) == 46 and rec.extras == ()
    assert f["MKSC_SHRN_ISCD"] == "005930"
    assert f["STCK_CNTG_HOUR"] == "112616"
    assert f["STCK_PRPR"] == "62700"
    assert f["NTBY_CNTG_CSNU"] == "-9889"
    assert f["BSOP_DATE"] == "20230324"
    assert f["MRKT_TRTM_CLS_CODE"] == ""
    assert f["VI_STND_PRC"] == "62700"
    assert "MARKET_CLS_CODE" not in f  # 47th column only when the record has 47 values
    assert list(f) == list(H0STCNT0[:46])


def test_portal_h0stcnt0_payload():
    rec = parse_message(frame("H0STCNT0", S.CNT_PORTAL_PAYLOAD)).records[0]
    assert rec.fields["PRDY_VRSS"] == "-100" and rec.fields["BSOP_DATE"] == "20230612"


@pytest.mark.parametrize("f", [S.ASP_REAL_1, S.ASP_REAL_2, frame("H0STASP0", S.ASP_PORTAL_PAYLOAD)])
def test_h0stasp0_59_fields(f):
    (rec,) = parse_message(f).records
    assert len(rec.values) == 59 and rec.extras == ()
    assert rec.fields["STCK_DEAL_CLS_CODE"] == "0"
    assert "MID_PRC" not in rec.fields
    assert rec.fields["ASKP1"] == payload_of(f).split("^")[3]
    assert rec.fields["BIDP_RSQN10"] == payload_of(f).split("^")[42]


def test_h0stasp0_62_and_63_fields():
    r62 = parse_message(S.ASP_REAL_1 + "^323750^0^0").records[0]
    assert r62.fields["MID_PRC"] == "323750" and r62.fields["MIDP_CLS_CODE"] == "0" and r62.extras == ()
    r63 = parse_message(S.ASP_REAL_1 + "^323750^0^0^2").records[0]
    assert r63.fields["MARKET_CLS_CODE"] == "2" and len(r63.fields) == 63
    r64 = parse_message(S.ASP_REAL_1 + "^323750^0^0^2^X^Y").records[0]
    assert r64.extras == ("X", "Y") and len(r64.fields) == len(H0STASP0)


def test_h0stcnt0_47_fields():
    rec = parse_message(S.CNT_REAL + "^2").records[0]
    assert rec.fields["MARKET_CLS_CODE"] == "2" and rec.extras == ()


@pytest.mark.parametrize("n", [2, 4])
def test_multi_record_frames(n):
    p1, p2 = payload_of(S.CNT_REAL), S.CNT_PORTAL_PAYLOAD
    payloads = [p1 if i % 2 == 0 else p2 for i in range(n)]
    msg = parse_message(frame("H0STCNT0", *payloads))
    assert len(msg.records) == n
    assert [r.fields["STCK_CNTG_HOUR"] for r in msg.records] == (["112616", "093354"] * 2)[:n]
    assert all(len(r.values) == 46 for r in msg.records)


def test_multi_record_with_extras_uses_frame_width():
    p = payload_of(S.ASP_REAL_1) + "^1^2^3"  # 62-wide records
    msg = parse_message(frame("H0STASP0", p, p))
    assert [len(r.values) for r in msg.records] == [62, 62]
    assert msg.records[1].fields["MKSC_SHRN_ISCD"] == "005930"


def test_encrypted_notice_26_fields():
    plain = "^".join(["myhts", "1234567801", "0000002891", "", "02", "0", "00", "0", "005930", "0000000010",
                      "000071900", "094941", "0", "2", "2", "06010", "000000010", "김한투", "0", "1", "Y", "",
                      "10", "", "삼성전자", "000071900"])
    f = f"1|H0STCNI0|001|{encrypt(plain, K)}"
    msg = parse_message(f, {"H0STCNI0": K})
    assert isinstance(msg, DataFrame) and msg.encrypted
    rec = msg.records[0]
    assert list(rec.fields) == list(H0STCNI0) and rec.fields["ORD_EXG_GB"] == "1"
    assert rec.fields["CNTG_ISNM40"] == "삼성전자" and rec.fields["ACNT_NAME"] == "김한투"


@pytest.mark.parametrize("plain", [S.CNI_ACCEPT_23, S.CNI_FILL_23])
def test_encrypted_notice_legacy_23_fields(plain):
    msg = parse_message(f"1|H0STCNI9|001|{encrypt(plain, K)}", {"H0STCNI9": K})
    rec = msg.records[0]
    assert len(rec.values) == 23
    assert rec.fields["CNTG_ISNM"] == "하림" and rec.fields["CRDT_CLS"] == "10"
    assert "ORD_EXG_GB" not in rec.fields


def test_empty_and_null_fields_are_kept_raw():
    rec = parse_message(S.MKO).records[0]
    assert rec.fields["TR_SUSP_REAS_CNTT"] == "(null)" and rec.fields["MKOP_CLS_CODE"] == ""
    assert len(rec.values) == 10 and "EXCH_CLS_CODE" not in rec.fields


def test_invalid_utf8_bytes_decode_tolerantly_with_flag():
    raw = S.CNT_REAL.encode().replace(b"^N^", b"^\xff\xfe^", 1)
    msg = parse_message(raw)
    assert isinstance(msg, DataFrame) and msg.invalid_utf8
    assert msg.records[0].fields["TRHT_YN"] == "\ufffd\ufffd"
    assert parse_message(S.CNT_REAL.encode()).invalid_utf8 is False


def test_unknown_tr_returns_frame_with_extras_only():
    msg = parse_message(S.PGM)
    assert isinstance(msg, DataFrame)
    rec = msg.records[0]
    assert dict(rec.fields) == {} and len(rec.extras) == 11 and rec.extras[0] == "005930"


def test_unknown_width_is_flagged_not_rejected():
    msg = parse_message(S.ASP_REAL_1 + "^1")  # 60 fields: not a known H0STASP0 width
    assert isinstance(msg, DataFrame) and msg.unknown_width
    assert parse_message(S.ASP_REAL_1).unknown_width is False


@pytest.mark.parametrize("raw,kind", [
    ("0|H0STCNT0|001", DecodeErrorKind.TRUNCATED),
    ("0|H0STCNT0", DecodeErrorKind.TRUNCATED),
    ("0|H0STCNT0|001|", DecodeErrorKind.TRUNCATED),
    ("0|H0STCNT0|001|005930^112616^62700", DecodeErrorKind.TRUNCATED),
    (S.CNT_REAL[: len(S.CNT_REAL) // 2], DecodeErrorKind.TRUNCATED),
    (S.CNT_REAL.replace("|001|", "|002|"), DecodeErrorKind.BAD_COUNT),
    (S.CNT_REAL.replace("|001|", "|000|"), DecodeErrorKind.BAD_COUNT),
    (S.CNT_REAL.replace("|001|", "|0x1|"), DecodeErrorKind.BAD_COUNT),
    (S.CNT_REAL.replace("|001|", "|-01|"), DecodeErrorKind.BAD_COUNT),
    (S.CNT_REAL.replace("|001|", "|" + "9" * 5000 + "|"), DecodeErrorKind.BAD_COUNT),
    (S.CNT_REAL.replace("|001|", "||"), DecodeErrorKind.BAD_COUNT),
    ('{"header":', DecodeErrorKind.BAD_JSON),
    ("[1, 2]", DecodeErrorKind.GARBAGE),
    ('{"foo": 1}', DecodeErrorKind.BAD_JSON),
    ("1|H0STCNI0|001|AAAA", DecodeErrorKind.NO_KEY),
    ("hello world", DecodeErrorKind.GARBAGE),
    ("", DecodeErrorKind.GARBAGE),
    (b"\xff\xfe\x00", DecodeErrorKind.GARBAGE),
    ("0|H0ST CNT|001|a", DecodeErrorKind.GARBAGE),
    ("01|H0STCNT0|001|a", DecodeErrorKind.GARBAGE),
])
def test_error_kinds(raw, kind):
    err = parse_message(raw)
    assert isinstance(err, DecodeError), err
    assert err.kind is kind
    assert len(err.preview) <= 81


@pytest.mark.parametrize("payload,msg", [
    ("not base64!!", "base64"),
    ("QUJD", "multiple of 16"),  # 3 bytes
])
def test_decrypt_failed(payload, msg):
    err = parse_message(f"1|H0STCNI0|001|{payload}", {"H0STCNI0": K})
    assert err.kind is DecodeErrorKind.DECRYPT_FAILED and msg in err.message


def test_decrypt_with_wrong_key_fails_or_yields_garbage_never_raises():
    ct = encrypt(S.CNI_FILL_23, K)
    wrong = AesKey("a" * 32, "b" * 16)
    out = parse_message(f"1|H0STCNI0|001|{ct}", {"H0STCNI0": wrong})
    assert isinstance(out, (DecodeError, DataFrame))  # 1/256 chance the padding happens to be valid


def test_error_previews_never_show_key_material():
    ct = encrypt(S.CNI_FILL_23, K)
    err = parse_message(f"1|H0STCNI0|001|{ct}", {"H0STCNI0": AesKey("short", S.IV)})
    assert err.kind is DecodeErrorKind.DECRYPT_FAILED
    assert "short" not in err.message + err.preview and ct not in err.preview
    bad = S.SUB_OK_WIRE[:-3]  # truncated JSON that contains the key
    err2 = parse_message(bad)
    assert err2.kind is DecodeErrorKind.BAD_JSON
    assert S.KEY not in err2.preview and S.IV not in err2.preview and S.KEY[:10] not in err2.preview


def test_record_api():
    rec = parse_message(S.CNT_REAL).records[0]
    assert isinstance(rec, Record) and rec.tr_id == "H0STCNT0"
    assert rec.get("STCK_PRPR") == "62700" and rec.get("NOPE", "d") == "d"
    assert rec == parse_message(S.CNT_REAL).records[0]
