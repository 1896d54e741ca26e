"""`python -m backbone.kis decode FILE|-`: decode a capture of raw frames, one per line, to JSON lines.

Each data record prints {"tr_id", "fields", "extras", "event"}; control frames print their kind;
undecodable lines print {"error": ...} and decoding goes on. Lines are read as bytes so invalid
UTF-8 in a capture is decoded tolerantly instead of stopping the command.
"""
from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO, Iterable, TextIO

from .codec import DataFrame, parse_message
from .control import PingPong, SubscribeReply
from .crypto import AesKey
from .errors import DecodeError
from .normalize import to_event


def jsonable(obj: Any) -> Any:
    """Events and errors -> JSON-safe values (Decimal -> str, datetime -> ISO 8601, enums -> value)."""
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name != "raw"}
        return out
    if isinstance(obj, (list, tuple)):
        return [jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    return obj


def _error(err: DecodeError, line_no: int) -> dict:
    return {"line": line_no, "error": {"kind": err.kind.value, "message": err.message, "preview": err.preview,
                                       "tr_id": err.tr_id}}


def decode_lines(lines: Iterable[bytes], keys: dict[str, AesKey], date_hint: date | None) -> Iterable[dict]:
    for line_no, line in enumerate(lines, 1):
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        msg = parse_message(line, keys)
        if isinstance(msg, DecodeError):
            yield _error(msg, line_no)
        elif isinstance(msg, PingPong):
            yield {"line": line_no, "kind": "pingpong", "datetime": msg.datetime}
        elif isinstance(msg, SubscribeReply):
            if msg.aes is not None and msg.tr_id and msg.tr_id not in keys:
                keys[msg.tr_id] = msg.aes  # later encrypted frames of this TR in the capture can decrypt
            yield {"line": line_no, "kind": "subscribe_reply", "tr_id": msg.tr_id, "tr_key": msg.tr_key,
                   "reply": msg.kind.name, "rt_cd": msg.rt_cd, "msg_cd": msg.msg_cd, "msg1": msg.msg1,
                   "encrypt": msg.encrypt, "has_key": msg.aes is not None}
        else:
            yield from _records(msg, line_no, date_hint)


def _records(frame: DataFrame, line_no: int, date_hint: date | None) -> Iterable[dict]:
    for i, rec in enumerate(frame.records):
        ev = to_event(rec, date_hint=date_hint)
        out = {"line": line_no, "record": i, "tr_id": rec.tr_id, "encrypted": frame.encrypted,
               "fields": dict(rec.fields), "extras": list(rec.extras)}
        if frame.invalid_utf8:
            out["invalid_utf8"] = True
        if isinstance(ev, DecodeError):
            out["event"] = None
            out["error"] = _error(ev, line_no)["error"]
        else:
            out["event"] = {"type": type(ev).__name__, "tr_id": ev.tr_id, **jsonable(ev)}
        yield out


def _parse_key(spec: str) -> tuple[str, AesKey]:
    tr_id, sep, rest = spec.partition(":")
    key, sep2, iv = rest.partition(":")
    if not (sep and sep2 and tr_id and key and iv):
        raise argparse.ArgumentTypeError("expected TR_ID:KEY:IV")
    return tr_id, AesKey(key=key, iv=iv)


def main(argv: list[str] | None = None, stdin: BinaryIO | None = None, stdout: TextIO | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backbone.kis", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    dp = sub.add_parser("decode", help="decode raw frames (one per line) to JSON lines")
    dp.add_argument("file", help="capture file, or - for stdin")
    dp.add_argument("--key", action="append", default=[], type=_parse_key, metavar="TR_ID:KEY:IV",
                    help="AES key/iv for an encrypted TR (repeatable)")
    dp.add_argument("--date", type=date.fromisoformat, default=None,
                    help="date (YYYY-MM-DD) for TRs without a date field (default: today in Asia/Seoul)")
    args = ap.parse_args(argv)
    out = stdout or sys.stdout
    keys = dict(args.key)
    try:
        src: BinaryIO = (stdin or sys.stdin.buffer) if args.file == "-" else open(args.file, "rb")
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        for obj in decode_lines(src, keys, args.date):
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    except BrokenPipeError:  # e.g. `| head`
        return 0
    finally:
        if src is not (stdin or sys.stdin.buffer):
            src.close()
    return 0
