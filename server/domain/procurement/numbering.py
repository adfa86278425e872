"""Document numbers (``PR-000001``, ``PO-000001``) from a named ``planning_sequence``, unique
across server processes, skipping any number a row already holds (an import may have used it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.planning.production import next_numbers

__all__ = ["unused_numbers"]


async def unused_numbers(conn: AsyncConnection, sequence: str, fmt: str, column: Any, n: int) -> list[str]:
    """``n`` numbers ``fmt.format(i)`` from ``sequence`` that ``column`` does not hold yet, taken
    in the caller's write transaction."""
    out: list[str] = []
    while len(out) < n:
        want = [fmt.format(i) for i in await next_numbers(conn, sequence, n - len(out))]
        taken = set((await conn.execute(select(column).where(column.in_(want)))).scalars())
        out += [w for w in want if w not in taken]
    return out
