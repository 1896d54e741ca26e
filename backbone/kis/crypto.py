"""AES-256-CBC (PKCS#7, base64) as KIS uses it for execution-notice payloads.

The key (32 ASCII chars) and iv (16 ASCII chars) come from the TR's subscribe reply
(`body.output.key` / `body.output.iv`). They are secrets of the session: `AesKey` never shows
them in its repr, and errors raised here never contain them.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class DecryptError(ValueError):
    """The payload could not be decrypted (bad base64, wrong key, bad padding). Never carries key material."""


@dataclass(frozen=True, slots=True, repr=False)
class AesKey:
    key: str
    iv: str

    def __repr__(self) -> str:
        return "AesKey(<redacted>)"

    __str__ = __repr__


def _cipher(k: AesKey) -> Cipher:
    key = k.key.encode("utf-8")
    iv = k.iv.encode("utf-8")
    if len(key) != 32 or len(iv) != 16:
        raise DecryptError(f"AES-256-CBC needs a 32-byte key and 16-byte iv (got {len(key)}/{len(iv)} bytes)")
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def decrypt_bytes(b64: str, k: AesKey) -> bytes:
    """Decrypt a base64 payload to plaintext bytes (the caller decides how to decode them)."""
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("payload is not valid base64") from exc
    if not data or len(data) % 16:
        raise DecryptError(f"ciphertext length {len(data)} is not a positive multiple of 16")
    dec = _cipher(k).decryptor()
    padded = dec.update(data) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:  # wrong key/iv shows up as bad padding
        raise DecryptError("bad PKCS#7 padding (wrong key or iv?)") from exc


def decrypt(b64: str, k: AesKey) -> str:
    """Decrypt to text; invalid UTF-8 is replaced rather than failing (KIS text is not always clean)."""
    return decrypt_bytes(b64, k).decode("utf-8", errors="replace")


def encrypt(plain: str, k: AesKey) -> str:
    """Inverse of `decrypt` (used by tests and tools to build encrypted frames)."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain.encode("utf-8")) + padder.finalize()
    enc = _cipher(k).encryptor()
    return base64.b64encode(enc.update(padded) + enc.finalize()).decode("ascii")
