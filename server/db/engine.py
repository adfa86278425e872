"""Engines for SQLite (aiosqlite) and PostgreSQL (asyncpg), and the write transaction.

SQLite allows one writer: write transactions start with ``BEGIN IMMEDIATE`` so they queue on
the lock at their start (never fail half-way with "database is locked"), and readers use a
second engine with plain deferred transactions, which WAL lets run beside the writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

__all__ = ["Database", "open_database"]


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@dataclass
class Database:
    url: str
    writer: AsyncEngine
    reader: AsyncEngine
    # SQLite has one writer: queue this process's writers here, in order, instead of letting them
    # spin in SQLite's busy handler (which backs off up to 100 ms a try and makes the tail long)
    _write_lock: asyncio.Lock | None = field(default=None, repr=False)

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        if self._write_lock is None:
            async with self.writer.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.reader.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def open_database(url: str, *, pool_size: int = 10) -> Database:
    if url.startswith("sqlite"):
        return Database(url, _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False),
                        asyncio.Lock())
    if url.startswith("postgresql"):
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        return Database(url, engine, engine)
    raise SystemExit(
        f"unsupported FIELDSYNC_DATABASE_URL {url!r}: use sqlite+aiosqlite:///path.db "
        "or postgresql+asyncpg://user@host:port/db"
    )
