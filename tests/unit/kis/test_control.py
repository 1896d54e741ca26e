"""Control messages verbatim from the reference; request JSON; AES."""
from __future__ import annotations

import json

import pytest

from backbone.kis.codec import parse_message
from backbone.kis.control import PingPong, ReplyKind, SubscribeReply
from backbone.kis.crypto import AesKey, DecryptError, decrypt, encrypt
from backbone.kis.errors import DecodeError, DecodeErrorKind
from backbone.kis.requests import APP_PINGPONG, subscribe_message, unsubscribe_message

from . import samples as S


@pytest.mark.parametrize("raw,dt", [(S.PINGPONG_1, "20231004160455"), (S.PINGPONG_2, "20230502221924")])
def test_pingpong_keeps_raw_text_for_verbatim_echo(raw, dt):
    p = parse_message(raw)
    assert p == PingPong(raw=raw, datetime=dt)
    assert parse_message(raw.encode()).raw == raw
    assert isinstance(parse_message(APP_PINGPONG), PingPong)


@pytest.mark.parametrize("raw", [S.SUB_OK_PORTAL, S.SUB_OK_WIRE])
def test_subscribe_success_carries_aes_key(raw):
    r = parse_message(raw)
    assert isinstance(r, SubscribeReply) and r.kind is ReplyKind.SUBSCRIBED and r.ok
    assert r.rt_cd == "0" and r.msg1 == "SUBSCRIBE SUCCESS" and r.encrypt is False
    assert r.aes is not None and len(r.aes.key) == 32 and len(r.aes.iv) == 16
    assert r.aes.key not in repr(r) and r.aes.iv not in repr(r)


def test_wire_reply_fields():
    r = parse_message(S.SUB_OK_WIRE)
    assert (r.tr_id, r.tr_key, r.aes) == ("H0STASP0", "005930", AesKey(S.KEY, S.IV))


def test_encrypted_notice_reply_sets_encrypt():
    raw = S.SUB_OK_WIRE.replace('"H0STASP0"', '"H0STCNI0"').replace('"encrypt":"N"', '"encrypt":"Y"')
    assert parse_message(raw).encrypt is True


@pytest.mark.parametrize("raw,kind,rt_cd", [
    (S.ALREADY_IN_USE, ReplyKind.ALREADY_IN_USE, "9"),
    (S.MAX_OVER_BODY, ReplyKind.MAX_SUBSCRIBE_OVER, "1"),
    (S.ALREADY_SUB_BODY, ReplyKind.ALREADY_SUBSCRIBED, "1"),
    (S.NOT_FOUND_BODY, ReplyKind.NOT_SUBSCRIBED, "1"),
    (S.INVALID_APPROVAL_BODY, ReplyKind.INVALID_APPROVAL, "1"),
    (S.INVALID_APPKEY, ReplyKind.INVALID_APPROVAL, "1"),
    (S.UNSUB_OK, ReplyKind.UNSUBSCRIBED, "0"),
    ('{"rt_cd":"1","msg_cd":"OPSP0007","msg1":"SUBSCRIBE INTERNAL ERROR"}', ReplyKind.INTERNAL_ERROR, "1"),
    ('{"rt_cd":"1","msg_cd":"OPSP9999","msg1":"JSON PARSING ERROR : invalid json format"}', ReplyKind.OTHER, "1"),
    ('{"rt_cd":"1","msg_cd":"OPSP8997","msg1":"JSON PARSING ERROR : invalid tr_type"}', ReplyKind.OTHER, "1"),
    ('{"rt_cd":"9","msg1":"MAX SUBSCRIBE OVER"}', ReplyKind.MAX_SUBSCRIBE_OVER, "9"),  # fixture without msg_cd
])
def test_reply_catalogue(raw, kind, rt_cd):
    r = parse_message(raw)
    assert isinstance(r, SubscribeReply) and r.kind is kind and r.rt_cd == rt_cd and r.aes is None
    assert r.ok is (rt_cd == "0")


def test_already_in_use_header():
    r = parse_message(S.ALREADY_IN_USE)
    assert r.tr_id == "(null)" and r.tr_key == "" and r.msg_cd == "OPSP8996"


def test_invalid_approval_msg1_redacts_the_echoed_key():
    r = parse_message(S.INVALID_APPROVAL_BODY)
    assert "062f61cb" not in r.msg1 and r.msg1.startswith("invalid approval : ")


def test_json_non_control_is_bad_json():
    assert parse_message('{"header":{"tr_id":"H0STCNT0"}}').kind is DecodeErrorKind.BAD_JSON
    assert parse_message('{"header": 5, "body": []}').kind is DecodeErrorKind.BAD_JSON
    assert parse_message("{" * 100000).kind is DecodeErrorKind.BAD_JSON  # deep nesting must not raise


def test_subscribe_message_is_canonical():
    assert subscribe_message("APPROVAL", "H0STCNT0", "005930") == (
        '{"header":{"approval_key":"APPROVAL","custtype":"P","tr_type":"1","content-type":"utf-8"},'
        '"body":{"input":{"tr_id":"H0STCNT0","tr_key":"005930"}}}'
    )
    assert unsubscribe_message("APPROVAL", "H0STASP0", "000660", custtype="B") == (
        '{"header":{"approval_key":"APPROVAL","custtype":"B","tr_type":"2","content-type":"utf-8"},'
        '"body":{"input":{"tr_id":"H0STASP0","tr_key":"000660"}}}'
    )


def test_subscribe_message_escapes_values():
    m = subscribe_message('a"b', "H0STCNI0", "홍길동\\")
    assert json.loads(m)["header"]["approval_key"] == 'a"b'
    assert json.loads(m)["body"]["input"]["tr_key"] == "홍길동\\"


def test_app_pingpong():
    assert json.loads(APP_PINGPONG) == {"header": {"tr_id": "PINGPONG"}}


def test_aes_round_trip_and_repr():
    k = AesKey(S.KEY, S.IV)
    assert decrypt(encrypt("가^b^(null)^", k), k) == "가^b^(null)^"
    assert S.KEY not in repr(k) and S.IV not in repr(k) and S.KEY not in str(k)
    with pytest.raises(Exception):
        k.key = "x"  # frozen


def test_aes_known_vector():
    # Independent check against the standard: AES-256-CBC of "test" with this key/iv (computed with the
    # `cryptography` primitives directly, not through our helpers).
    from base64 import b64encode

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    k = AesKey(S.KEY, S.IV)
    enc = Cipher(algorithms.AES(S.KEY.encode()), modes.CBC(S.IV.encode())).encryptor()
    ct = b64encode(enc.update(b"test" + bytes([12]) * 12) + enc.finalize()).decode()
    assert encrypt("test", k) == ct and decrypt(ct, k) == "test"


@pytest.mark.parametrize("key,iv", [("short", S.IV), (S.KEY, "short")])
def test_aes_bad_key_length_is_decrypt_error_without_key(key, iv):
    with pytest.raises(DecryptError) as ei:
        decrypt(encrypt("x", AesKey(S.KEY, S.IV)), AesKey(key, iv))
    assert "short" not in str(ei.value)


def test_decode_error_has_no_key_material():
    e = DecodeError(DecodeErrorKind.GARBAGE, "m", "p")
    assert e.kind.value == "garbage"
