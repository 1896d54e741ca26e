import json

import pytest

from backbone.stream_protocol import (BAD_CHANNEL, BAD_JSON, BAD_OP, BAD_RESUME, TOO_MANY_CHANNELS, Channel,
                                      ProtocolError, Resume, Subscribe, Unsubscribe, encode, error_message,
                                      parse_channel, parse_client_message, snapshot_message)


def test_subscribe_parses_channels_and_dedups():
    op = parse_client_message('{"op":"subscribe","channels":["trade:005930","book:005930","whale","status",'
                              '"trade:005930","whale:000660","sectors"]}')
    assert op == Subscribe((Channel("trade", "005930"), Channel("book", "005930"), Channel("whale"),
                            Channel("status"), Channel("whale", "000660"), Channel("sectors")))
    assert [c.name for c in op.channels][:2] == ["trade:005930", "book:005930"]


def test_unsubscribe_accepts_single_string_and_normalizes_case():
    assert parse_client_message(b'{"op":"unsubscribe","channels":"book:abc1"}') == \
        Unsubscribe((Channel("book", "ABC1"),))


def test_resume_parses():
    op = parse_client_message('{"op":"resume","channel":"book:005930","epoch":"abc","from_seq":12}')
    assert op == Resume(Channel("book", "005930"), "abc", 12)


@pytest.mark.parametrize("text,code", [
    ("not json", BAD_JSON),
    (b"\xff\xfe", BAD_JSON),
    ("[1,2]", BAD_OP),
    ('{"op":"dance"}', BAD_OP),
    ('{"op":"subscribe"}', BAD_OP),
    ('{"op":"subscribe","channels":[]}', BAD_OP),
    ('{"op":"subscribe","channels":["candles:005930"]}', BAD_CHANNEL),
    ('{"op":"subscribe","channels":["trade:"]}', BAD_CHANNEL),
    ('{"op":"subscribe","channels":["trade:00 59"]}', BAD_CHANNEL),
    ('{"op":"subscribe","channels":[5]}', BAD_CHANNEL),
    ('{"op":"resume","channel":"book:005930","epoch":"","from_seq":1}', BAD_RESUME),
    ('{"op":"resume","channel":"book:005930","epoch":"e","from_seq":-1}', BAD_RESUME),
    ('{"op":"resume","channel":"book:005930","epoch":"e","from_seq":true}', BAD_RESUME),
    ('{"op":"resume","channel":"book:005930","epoch":"e","from_seq":"3"}', BAD_RESUME),
    ('{"op":"resume","channel":"nope","epoch":"e","from_seq":3}', BAD_CHANNEL),
    ("[" * 100000, BAD_JSON),
])
def test_bad_messages_are_typed_errors(text, code):
    err = parse_client_message(text)
    assert isinstance(err, ProtocolError) and err.code == code


def test_too_many_channels():
    chans = [f"trade:{i:06d}" for i in range(101)]
    err = parse_client_message(json.dumps({"op": "subscribe", "channels": chans}))
    assert isinstance(err, ProtocolError) and err.code == TOO_MANY_CHANNELS


def test_parse_channel_symbol_kinds():
    assert parse_channel("whale") == Channel("whale")
    assert isinstance(parse_channel("status:005930"), ProtocolError)


def test_message_builders_shape():
    snap = json.loads(encode(snapshot_message("book:005930", 7, "ep", {"asks": []}, recovered=False)))
    assert snap == {"type": "snapshot", "channel": "book:005930", "seq": 7, "epoch": "ep",
                    "data": {"asks": []}, "recovered": False}
    err = error_message(ProtocolError(BAD_OP, "nope", "x"))
    assert err["type"] == "error" and err["data"] == {"code": BAD_OP, "message": "nope"} and err["channel"] == "x"
    assert set(err) == {"type", "channel", "seq", "epoch", "data"}
