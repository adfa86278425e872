"""The server's clock: a hybrid logical clock per process for ``server_ts``, and stamps for the
server's own writes (site ``"server"``) taken from the database so that every process agrees.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.schema import sync_state
from sync.hlc import HLC, pack

__all__ = ["ServerClock", "wall_ms"]


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ServerClock:
    def __init__(self, now_ms: Callable[[], int] = wall_ms) -> None:
        self.now_ms = now_ms
        self._hlc = HLC(now_ms)

    def observe(self, ts: int) -> None:
        self._hlc.observe(ts)

    def server_ts(self) -> int:
        """A stamp for a response: after everything this process has seen."""
        return self._hlc.tick()

    async def stamp_server_write(self, conn: AsyncConnection) -> int:
        """A fresh stamp for a write made by the server itself, unique across processes: the
        last one lives in ``sync_state`` and the row lock orders concurrent writers."""
        now = pack(self.now_ms())
        greatest = func.max if conn.dialect.name == "sqlite" else func.greatest
        stmt = (
            update(sync_state)
            .where(sync_state.c.id == 1)
            .values(server_ts=greatest(sync_state.c.server_ts + 1, now, self._hlc.last + 1))
            .returning(sync_state.c.server_ts)
        )
        ts = int((await conn.execute(stmt)).scalar_one())
        self._hlc.observe(ts)
        return ts
