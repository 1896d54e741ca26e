"""Typed decode errors: what the codec returns (never raises) for input it cannot use."""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

PREVIEW_CHARS = 80

# Things that must never reach a log through a preview: AES key/iv, approval keys (UUIDs), tokens.
_SECRET_JSON = re.compile(r'("(?:key|iv|approval_key|access_token|appkey|appsecret|secretkey|token)"\s*:\s*")[^"]*')
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4,5}-[0-9a-fA-F]{4,5}-[0-9a-fA-F]{4,5}-[0-9a-fA-F]{8,12}")


class DecodeErrorKind(str, enum.Enum):
    TRUNCATED = "truncated"  # fewer than 4 `|` parts, empty payload, or records shorter than any known layout
    BAD_COUNT = "bad_count"  # NNN not a positive number, or field total not divisible by NNN
    BAD_JSON = "bad_json"  # `{`-message that is not JSON or not a control shape we know
    UNKNOWN_TR = "unknown_tr"  # no layout / normalizer for this TR (codec still returns its raw values)
    DECRYPT_FAILED = "decrypt_failed"  # bad base64, wrong key/iv, bad padding
    NO_KEY = "no_key"  # encrypted frame but no AES key known for its TR
    GARBAGE = "garbage"  # neither a data frame nor JSON
    BAD_FIELD = "bad_field"  # a field the normalizer needs is not a valid number / time


@dataclass(frozen=True, slots=True)
class DecodeError:
    kind: DecodeErrorKind
    message: str
    preview: str = ""
    tr_id: str = ""


def redact(text: str) -> str:
    """Remove key material (AES key/iv, approval keys, tokens) from a piece of received text."""
    text = _SECRET_JSON.sub(r"\1<redacted>", text)
    return _UUID.sub("<redacted>", text)


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """A short, redacted excerpt of bad input for logs and error objects."""
    cut = text[: limit * 2]
    out = redact(cut)[:limit]
    return out + "…" if len(text) > limit else out
