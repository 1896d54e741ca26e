"""Property-based: whatever arrives, parse_message / to_event / decode return values, never raise."""
from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backbone.kis.codec import DataFrame, parse_message
from backbone.kis.control import PingPong, SubscribeReply
from backbone.kis.crypto import AesKey, encrypt
from backbone.kis.errors import DecodeError
from backbone.kis.layouts import LAYOUTS
from backbone.kis.normalize import decode, to_event

from . import samples as S

K = AesKey(S.KEY, S.IV)
KEYS = {"H0STCNI0": K, "H0STCNI9": K}
VALID = [S.CNT_REAL, S.ASP_REAL_1, S.ASP_REAL_2 + "^323750^0^0", S.UPCNT, S.MKO, S.PGM, S.PINGPONG_1,
         S.SUB_OK_WIRE, S.ALREADY_IN_USE, S.MAX_OVER_BODY, f"1|H0STCNI0|001|{encrypt(S.CNI_FILL_23, K)}",
         "0|H0STCNT0|002|" + S.CNT_PORTAL_PAYLOAD + "^" + S.CNT_PORTAL_PAYLOAD]
RESULT = (DataFrame, PingPong, SubscribeReply, DecodeError)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(raw) -> None:
    msg = parse_message(raw, KEYS)
    assert isinstance(msg, RESULT)
    if isinstance(msg, DataFrame):
        for rec in msg.records:
            ev = to_event(rec, date_hint=date(2024, 5, 2))
            assert ev is not None
            dict(rec.fields), rec.extras
    out = decode(raw, KEYS)
    assert isinstance(out, (list, *RESULT))


@FAST
@given(st.text())
def test_arbitrary_text(s):
    check(s)


@FAST
@given(st.binary())
def test_arbitrary_bytes(b):
    check(b)


@FAST
@given(st.sampled_from(["0", "1"]), st.sampled_from(sorted(LAYOUTS) + ["H0STPGM0", "X"]),
       st.integers(min_value=0, max_value=1000), st.lists(st.text(max_size=12), max_size=200))
def test_structured_frames(enc, tr_id, count, fields):
    check(f"{enc}|{tr_id}|{count:03d}|" + "^".join(fields))


@st.composite
def mutated(draw):
    base = draw(st.sampled_from(VALID))
    ops = draw(st.lists(st.tuples(st.sampled_from(["del", "ins", "rep", "field"]),
                                  st.integers(min_value=0, max_value=len(base)),
                                  st.text(max_size=6)), min_size=1, max_size=6))
    s = base
    for op, i, t in ops:
        i = min(i, len(s))
        if op == "del":
            s = s[:i] + s[i + 1:]
        elif op == "ins":
            s = s[:i] + t + s[i:]
        elif op == "rep":
            s = s[:i] + t + s[i + len(t):]
        else:  # replace one whole ^-field, keeping the frame shape
            parts = s.split("^")
            parts[i % len(parts)] = t
            s = "^".join(parts)
    return s


@FAST
@given(mutated())
def test_mutated_valid_frames(s):
    check(s)
    check(s.encode("utf-8", errors="surrogatepass"))


@FAST
@given(mutated(), st.binary(min_size=1, max_size=4), st.integers(min_value=0, max_value=400))
def test_invalid_utf8_injected(s, junk, pos):
    b = s.encode("utf-8", errors="surrogatepass")
    pos = min(pos, len(b))
    check(b[:pos] + b"\xff" + junk + b[pos:])
