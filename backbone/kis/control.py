"""JSON control messages from the KIS WebSocket server: PINGPONG and subscribe/unsubscribe replies.

Shapes seen (reference §2.2, §3, §6.5):
  {"header":{"tr_id":"PINGPONG","datetime":"20231004160455"}}
  {"header":{"tr_id":T,"tr_key":K,"encrypt":"N"|"Y"},"body":{"rt_cd","msg_cd","msg1","output":{"iv","key"}}}
  {"header":{"tr_id":"(null)","tr_key":"","encrypt":"N"},"body":{"rt_cd":"9","msg_cd":"OPSP8996",...}}
  and body-only fixtures: {"rt_cd":"1","msg_cd":"OPSP0008","msg1":"MAX SUBSCRIBE OVER"}
"""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from .crypto import AesKey
from .errors import DecodeError, DecodeErrorKind, preview, redact


class ReplyKind(str, enum.Enum):
    SUBSCRIBED = "OPSP0000"
    UNSUBSCRIBED = "OPSP0001"
    ALREADY_SUBSCRIBED = "OPSP0002"
    NOT_SUBSCRIBED = "OPSP0003"
    INTERNAL_ERROR = "OPSP0007"
    MAX_SUBSCRIBE_OVER = "OPSP0008"
    INVALID_APPROVAL = "OPSP0011"
    ALREADY_IN_USE = "OPSP8996"
    OTHER = "other"  # any other code, incl. the OPSP899x / 999x JSON parsing errors


_BY_CODE = {k.value: k for k in ReplyKind if k is not ReplyKind.OTHER}
# Fallback when msg_cd is missing (some fixtures carry only msg1).
_BY_MSG1 = {
    "SUBSCRIBE SUCCESS": ReplyKind.SUBSCRIBED,
    "UNSUBSCRIBE SUCCESS": ReplyKind.UNSUBSCRIBED,
    "ALREADY IN SUBSCRIBE": ReplyKind.ALREADY_SUBSCRIBED,
    "MAX SUBSCRIBE OVER": ReplyKind.MAX_SUBSCRIBE_OVER,
    "ALREADY IN USE APPKEY": ReplyKind.ALREADY_IN_USE,
}


@dataclass(frozen=True, slots=True)
class PingPong:
    raw: str  # the exact text received: echo it verbatim
    datetime: str  # server time YYYYMMDDHHMMSS ("" if absent)


@dataclass(frozen=True, slots=True)
class SubscribeReply:
    tr_id: str
    tr_key: str
    encrypt: bool
    rt_cd: str
    msg_cd: str
    msg1: str  # approval keys echoed by OPSP0011 are redacted
    aes: AesKey | None
    kind: ReplyKind

    @property
    def ok(self) -> bool:
        return self.rt_cd == "0"


def _s(v: Any) -> str:
    return "" if v is None else v if isinstance(v, str) else str(v)


def reply_kind(msg_cd: str, msg1: str = "") -> ReplyKind:
    kind = _BY_CODE.get(msg_cd)
    if kind is not None:
        return kind
    if not msg_cd:
        return _BY_MSG1.get(msg1.strip().upper(), ReplyKind.OTHER)
    return ReplyKind.OTHER


def parse_control(text: str) -> PingPong | SubscribeReply | DecodeError:
    """Parse one JSON control message. Never raises."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return DecodeError(DecodeErrorKind.BAD_JSON, f"not JSON: {type(exc).__name__}", preview(text))
    if not isinstance(obj, dict):
        return DecodeError(DecodeErrorKind.BAD_JSON, "control message is not a JSON object", preview(text))
    header = obj.get("header")
    header = header if isinstance(header, dict) else {}
    tr_id = _s(header.get("tr_id"))
    if tr_id == "PINGPONG":
        return PingPong(raw=text, datetime=_s(header.get("datetime")))
    body = obj.get("body")
    if not isinstance(body, dict):
        if "msg_cd" in obj or "rt_cd" in obj:
            body = obj  # body-only variant
        else:
            return DecodeError(DecodeErrorKind.BAD_JSON, "JSON without body/rt_cd/msg_cd", preview(text))
    msg_cd = _s(body.get("msg_cd"))
    msg1 = redact(_s(body.get("msg1")))
    aes = None
    output = body.get("output")
    if isinstance(output, dict):
        key, iv = output.get("key"), output.get("iv")
        if isinstance(key, str) and isinstance(iv, str) and key and iv:
            aes = AesKey(key=key, iv=iv)
    return SubscribeReply(
        tr_id=tr_id,
        tr_key=_s(header.get("tr_key")),
        encrypt=_s(header.get("encrypt")).upper() == "Y",
        rt_cd=_s(body.get("rt_cd")),
        msg_cd=msg_cd,
        msg1=msg1,
        aes=aes,
        kind=reply_kind(msg_cd, msg1),
    )
