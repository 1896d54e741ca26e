"""Decoder for everything the KIS WebSocket server sends: data frames and JSON control messages.

Data frame: `<enc>|<TR_ID>|<NNN>|<payload>` (reference §4.1). `enc` is 0 (plain) or 1 (AES,
reference §4.2); NNN records are concatenated with `^`, so the per-record width is
total fields / NNN and is never assumed from the layout. Known columns are mapped by name (the
layout prefix); values beyond the known layout are kept as `extras`.

`parse_message` never raises: input it cannot use comes back as a `DecodeError`.
A TR without a layout (UNKNOWN_TR) still decodes to a `DataFrame` whose records have empty
`fields` and all values in `extras`; `normalize.to_event` then returns UNKNOWN_TR for them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

from ._fast import fast_constructor
from .control import PingPong, SubscribeReply, parse_control
from .crypto import AesKey, DecryptError, decrypt_bytes
from .errors import DecodeError, DecodeErrorKind, preview
from .layouts import H0STCNI0_LEGACY23, KNOWN_WIDTHS, LAYOUTS

__all__ = ["DataFrame", "Record", "FieldView", "parse_message", "layout_for", "DecodeError", "DecodeErrorKind"]

_EMPTY_INDEX: dict[str, int] = {}


class FieldView(Mapping[str, str]):
    """Lazy `column name -> raw string` view over a record's values (no per-record dict)."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: tuple[str, ...]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, name: str) -> str:
        return self._values[self._index[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __repr__(self) -> str:
        return f"FieldView({dict(self)!r})"


class Record:
    """One record of a data frame. `index` (name -> position) is shared by all records of a layout."""

    __slots__ = ("tr_id", "values", "index", "_fields")

    def __init__(self, tr_id: str, values: tuple[str, ...], index: Mapping[str, int]) -> None:
        self.tr_id = tr_id
        self.values = values
        self.index = index
        self._fields: FieldView | None = None

    @property
    def fields(self) -> Mapping[str, str]:
        f = self._fields
        if f is None:
            f = self._fields = FieldView(self.index, self.values)
        return f

    @property
    def extras(self) -> tuple[str, ...]:
        return self.values[len(self.index):]

    def get(self, name: str, default: str = "") -> str:
        i = self.index.get(name)
        return default if i is None else self.values[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and (self.tr_id, self.values) == (other.tr_id, other.values)

    def __hash__(self) -> int:
        return hash((self.tr_id, self.values))

    def __repr__(self) -> str:
        return f"Record({self.tr_id!r}, {len(self.values)} values, extras={len(self.extras)})"


@dataclass(frozen=True, slots=True)
class DataFrame:
    tr_id: str
    encrypted: bool
    records: tuple[Record, ...]
    invalid_utf8: bool = False  # bytes were not valid UTF-8 and were decoded with replacement chars
    unknown_width: bool = False  # width not in layouts.KNOWN_WIDTHS (decoded anyway; worth counting)


_DataFrame = fast_constructor(DataFrame)

# (tr_id, width) -> (index map, min known width or 0, width is known)
_LAYOUT_CACHE: dict[tuple[str, int], tuple[dict[str, int], int, bool]] = {}


def layout_for(tr_id: str, width: int) -> tuple[dict[str, int], int, bool]:
    """Column index map for a TR at a given record width, computed once per (tr_id, width)."""
    hit = _LAYOUT_CACHE.get((tr_id, width))
    if hit is not None:
        return hit
    names = LAYOUTS.get(tr_id)
    widths = KNOWN_WIDTHS.get(tr_id, frozenset())
    if names is None:
        entry = (_EMPTY_INDEX, 0, False)
    else:
        if tr_id in ("H0STCNI0", "H0STCNI9") and width == len(H0STCNI0_LEGACY23):
            names = H0STCNI0_LEGACY23  # pre-2025 layout differs inside, not just at the end
        entry = ({n: i for i, n in enumerate(names[:width])}, min(widths) if widths else 0, width in widths)
    if len(_LAYOUT_CACHE) < 4096:  # widths come from the wire: bound the cache
        _LAYOUT_CACHE[(tr_id, width)] = entry
    return entry


def _to_text(raw: str | bytes | bytearray | memoryview) -> tuple[str, bool]:
    if isinstance(raw, str):
        return raw, False
    b = bytes(raw)
    try:
        return b.decode("utf-8"), False
    except UnicodeDecodeError:
        return b.decode("utf-8", errors="replace"), True


def parse_message(
    raw: str | bytes, keys: Mapping[str, AesKey] | None = None
) -> DataFrame | PingPong | SubscribeReply | DecodeError:
    """Decode one message as received from the socket. Never raises.

    `keys` maps tr_id -> AES key/iv from that TR's subscribe reply (needed for `1|...` frames).
    """
    try:
        text, bad_utf8 = _to_text(raw)
    except Exception as exc:  # e.g. an object that is not bytes-like
        return DecodeError(DecodeErrorKind.GARBAGE, f"unsupported input type {type(raw).__name__}: {exc}")
    if not text:
        return DecodeError(DecodeErrorKind.GARBAGE, "empty message")
    first = text[0]
    if first == "0" or first == "1":
        return _parse_frame(text, keys, bad_utf8)
    if first == "{" or text.lstrip()[:1] == "{":
        return parse_control(text)
    return DecodeError(DecodeErrorKind.GARBAGE, "neither a data frame nor JSON", preview(text))


def _parse_frame(text: str, keys: Mapping[str, AesKey] | None, bad_utf8: bool) -> DataFrame | DecodeError:
    parts = text.split("|", 3)
    if len(parts) < 4:
        return DecodeError(DecodeErrorKind.TRUNCATED, f"data frame has {len(parts)} of 4 '|' parts", preview(text))
    enc, tr_id, count_s, payload = parts
    if len(enc) != 1 or not tr_id or not tr_id.isascii() or not tr_id.isalnum():
        return DecodeError(DecodeErrorKind.GARBAGE, "bad data frame header", preview(text))
    # Length bound first: int() refuses digit strings over 4300 chars (ValueError), and KIS uses 3.
    if not (0 < len(count_s) <= 6 and count_s.isascii() and count_s.isdigit()) or int(count_s) <= 0:
        return DecodeError(DecodeErrorKind.BAD_COUNT, f"bad record count {count_s[:8]!r}", preview(text), tr_id)
    count = int(count_s)
    encrypted = enc == "1"
    if encrypted:
        head = f"1|{tr_id}|{count_s}|…"  # no ciphertext in previews
        key = keys.get(tr_id) if keys else None
        if key is None:
            return DecodeError(DecodeErrorKind.NO_KEY, f"no AES key for {tr_id}", head, tr_id)
        try:
            plain = decrypt_bytes(payload, key)
        except DecryptError as exc:
            return DecodeError(DecodeErrorKind.DECRYPT_FAILED, str(exc), head, tr_id)
        try:
            payload = plain.decode("utf-8")
        except UnicodeDecodeError:
            payload, bad_utf8 = plain.decode("utf-8", errors="replace"), True
    if not payload:
        return DecodeError(DecodeErrorKind.TRUNCATED, "empty payload", preview(text), tr_id)
    values = payload.split("^")
    total = len(values)
    width, rest = divmod(total, count)
    if rest or width == 0:
        return DecodeError(
            DecodeErrorKind.BAD_COUNT, f"{total} fields do not split into {count} records", preview(text), tr_id
        )
    index, min_width, known = layout_for(tr_id, width)
    if width < min_width:
        # Enough values for fewer records: the count is wrong; otherwise the frame was cut short.
        kind = DecodeErrorKind.BAD_COUNT if count > 1 and total >= min_width else DecodeErrorKind.TRUNCATED
        return DecodeError(kind, f"{tr_id} record of {width} fields, layout needs >= {min_width}",
                           preview(text), tr_id)
    if count == 1:
        records: tuple[Record, ...] = (Record(tr_id, tuple(values), index),)
    else:
        records = tuple(Record(tr_id, tuple(values[i:i + width]), index) for i in range(0, total, width))
    return _DataFrame(tr_id, encrypted, records, bad_utf8, bool(LAYOUTS.get(tr_id)) and not known)
