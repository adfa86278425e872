"""Opaque, signed pull cursors: ``(rev, table index, pk)`` of the last row served.

The signature binds a cursor to the device it was given to, so a forged or borrowed cursor is
refused with a clear error instead of silently skipping or leaking rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import msgspec

from shared.errors import InvalidInput

__all__ = ["START", "Cursor", "decode_cursor", "encode_cursor"]

_VERSION = 1


@dataclass(frozen=True, order=True)
class Cursor:
    rev: int
    tidx: int
    pk: str


START = Cursor(-1, -1, "")


def _mac(secret: str, device_id: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), device_id.encode() + b"|" + payload, hashlib.sha256).digest()[:16]


def encode_cursor(cursor: Cursor, secret: str, device_id: str) -> str:
    payload = msgspec.msgpack.encode([_VERSION, cursor.rev, cursor.tidx, cursor.pk])
    raw = payload + _mac(secret, device_id, payload)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str | None, secret: str, device_id: str) -> Cursor:
    if token is None or token == "":
        return START
    bad = InvalidInput("this cursor was not issued to this device by this server; "
                       "omit it to sync from the start", code="bad_cursor")
    if len(token) > 512:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise bad from None
    payload, mac = raw[:-16], raw[-16:]
    if len(raw) <= 16 or not hmac.compare_digest(mac, _mac(secret, device_id, payload)):
        raise bad
    try:
        version, rev, tidx, pk = msgspec.msgpack.decode(payload)
    except (msgspec.DecodeError, ValueError, TypeError):
        raise bad from None
    if version != _VERSION or not isinstance(rev, int) or not isinstance(tidx, int) or not isinstance(pk, str):
        raise bad
    return Cursor(rev, tidx, pk)
