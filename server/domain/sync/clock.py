"""The server's clock: a hybrid logical clock per process for ``server_ts``, and stamps for the
server's own writes (site ``"server"``) taken from the database so that every process agrees.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Connection, func, update

from server.db.schema import sync_state
from sync.hlc import HLC, pack

__all__ = ["ServerClock", "wall_ms"]


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ServerClock:
    """Shared by the event loop and the database threads (``Database.run_write``), so every
    step of the clock holds a lock: a lost update could hand out a stamp twice."""

    def __init__(self, now_ms: Callable[[], int] = wall_ms) -> None:
        self.now_ms = now_ms
        self._hlc = HLC(now_ms)
        self._lock = threading.Lock()

    def observe(self, ts: int) -> None:
        with self._lock:
            self._hlc.observe(ts)

    def server_ts(self) -> int:
        """A stamp for a response: after everything this process has seen."""
        with self._lock:
            return self._hlc.tick()

    def stamp_server_write(self, conn: Connection) -> int:
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
        ts = int(conn.execute(stmt).scalar_one())
        self.observe(ts)
        return ts
