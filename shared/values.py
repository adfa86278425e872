"""Column types and the one function that turns a wire value into a checked domain value.

Wire values are JSON scalars: ids, text, decimals and dates travel as strings, flags as booleans.
Decimals never pass through binary floats: a JSON number for a decimal column is refused.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

__all__ = ["ColType", "ValueError_", "coerce", "to_wire", "utc_text"]

_DECIMAL_RE = re.compile(r"^-?\d{1,18}(\.\d{1,9})?$")
MAX_TEXT = 2000


class ColType(StrEnum):
    TEXT = "text"
    ID = "id"  # a text UUID
    DECIMAL = "decimal"
    DATE = "date"
    BOOL = "bool"
    INT = "int"


class ValueError_(ValueError):
    """A wire value that does not fit its column; the message says what was expected."""


def coerce(coltype: ColType, raw: Any, *, choices: tuple[str, ...] = (), nullable: bool = True) -> Any:
    """Check ``raw`` against ``coltype`` and return the domain value (``Decimal``, ``date``...)."""
    if raw is None:
        if not nullable:
            raise ValueError_("a value is required")
        return None
    if coltype is ColType.TEXT:
        if not isinstance(raw, str):
            raise ValueError_(f"expected text, got {type(raw).__name__}")
        if len(raw) > MAX_TEXT:
            raise ValueError_(f"text longer than {MAX_TEXT} characters")
        if "\x00" in raw:
            raise ValueError_("text contains a NUL character")
        if choices and raw not in choices:
            raise ValueError_(f"expected one of {', '.join(choices)}, got {raw!r}")
        return raw
    if coltype is ColType.ID:
        if not isinstance(raw, str):
            raise ValueError_(f"expected a UUID string, got {type(raw).__name__}")
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise ValueError_(f"expected a UUID string, got {raw[:60]!r}") from None
    if coltype is ColType.DECIMAL:
        if isinstance(raw, bool) or not isinstance(raw, str | Decimal):
            raise ValueError_(f'expected a decimal as a string such as "12.50", got {type(raw).__name__}')
        text = str(raw)
        if not _DECIMAL_RE.match(text):
            raise ValueError_(f"expected a decimal with at most 18 digits before and 9 after the point, got {text[:60]!r}")
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern already rules this out
            raise ValueError_(f"not a decimal: {text[:60]!r}") from None
    if coltype is ColType.DATE:
        if not isinstance(raw, str):
            raise ValueError_(f"expected an ISO date string, got {type(raw).__name__}")
        try:
            return dt.date.fromisoformat(raw) if len(raw) == 10 else _bad_date(raw)
        except ValueError:
            raise ValueError_(f"expected an ISO date YYYY-MM-DD, got {raw[:60]!r}") from None
    if coltype is ColType.BOOL:
        if not isinstance(raw, bool):
            raise ValueError_(f"expected true or false, got {type(raw).__name__}")
        return raw
    if coltype is ColType.INT:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError_(f"expected an integer, got {type(raw).__name__}")
        if not -(2**53) <= raw <= 2**53:
            raise ValueError_("integer out of range")
        return raw
    raise ValueError_(f"unknown column type {coltype}")  # pragma: no cover


def _bad_date(raw: str) -> dt.date:
    raise ValueError(raw)


def utc_text(t: dt.datetime) -> str:
    """A moment as ISO 8601 in UTC with a ``Z``: ``2026-11-25T10:00:00.123456Z``."""
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def to_wire(value: Any) -> Any:
    """The JSON-safe form of a domain value: the inverse of :func:`coerce`."""
    if isinstance(value, Decimal):
        return format(value, "f")  # never "1E-7": the wire form is plain digits
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
