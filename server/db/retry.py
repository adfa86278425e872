"""Retry a whole transaction when the database says it lost a race (deadlock, serialisation)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

__all__ = ["is_transient", "retrying"]

T = TypeVar("T")
_TRANSIENT = ("deadlock", "could not serialize", "database is locked", "40001", "40P01")


def is_transient(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower() + " " + str(getattr(getattr(exc, "orig", None), "sqlstate", ""))
    return isinstance(exc, DBAPIError | OperationalError) and any(k.lower() in text for k in _TRANSIENT)


async def retrying(attempt: Callable[[], Awaitable[T]], tries: int = 5) -> T:
    for n in range(tries):
        try:
            return await attempt()
        except DBAPIError as exc:
            if n == tries - 1 or not is_transient(exc):
                raise
            await asyncio.sleep(random.uniform(0.005, 0.05) * (n + 1))
    raise AssertionError("unreachable")  # pragma: no cover
