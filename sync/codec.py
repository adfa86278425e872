"""JSON and MessagePack for the wire messages: one encoder and one decoder per type, made once.

Decimals encode as strings in both formats, so money never passes through a binary float.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

import msgspec

__all__ = ["JSON", "MSGPACK", "DecodeError", "decode", "encode", "media_type_for"]

JSON = "application/json"
MSGPACK = "application/msgpack"
_MSGPACK_ALIASES = {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}

T = TypeVar("T")


class DecodeError(ValueError):
    """A body that is not a valid message; the text says where it went wrong."""


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, dt.date):
        return obj.isoformat()
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_json_encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string")
_msgpack_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook, decimal_format="string")


def media_type_for(header: str | None) -> str:
    """Pick the codec named by a Content-Type or Accept header (JSON unless msgpack is asked)."""
    if header:
        for part in header.split(","):
            name = part.split(";")[0].strip().lower()
            if name in _MSGPACK_ALIASES:
                return MSGPACK
    return JSON


@cache
def _decoder(kind: str, type_: Any) -> Any:
    if kind == MSGPACK:
        return msgspec.msgpack.Decoder(type_)
    return msgspec.json.Decoder(type_)


def decode(body: bytes, type_: type[T], media_type: str = JSON) -> T:
    try:
        return _decoder(media_type, type_).decode(body)  # type: ignore[no-any-return,arg-type]
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DecodeError(str(exc)) from None
    except RecursionError:
        raise DecodeError("the body is nested too deeply") from None


def encode(obj: Any, media_type: str = JSON) -> bytes:
    if media_type == MSGPACK:
        return _msgpack_encoder.encode(obj)
    return _json_encoder.encode(obj)
