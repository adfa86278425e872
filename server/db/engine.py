"""Engines for SQLite (aiosqlite) and PostgreSQL (asyncpg), and the write transaction.

SQLite allows one writer: write transactions start with ``BEGIN IMMEDIATE`` so they queue on
the lock at their start (never fail half-way with "database is locked"), and readers use a
second engine with plain deferred transactions, which WAL lets run beside the writer.

The sync hot paths (push, pull) are written as plain functions of one SQLAlchemy ``Connection``
and run through :meth:`Database.run_write` / :meth:`Database.run_read`. On PostgreSQL that is
``AsyncConnection.run_sync`` on asyncpg. On SQLite the function runs whole on a thread of its
own with the stdlib driver: one hand-off per transaction instead of one per statement (aiosqlite
sends every statement to its thread and back), and the event loop stays free while SQLite works.
Writes queue on one writer thread; pushes that queue up behind each other are committed
together (group commit), each inside its own savepoint, so each stays atomic on its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url, pool
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

__all__ = ["Database", "open_database"]

T = TypeVar("T")

_GROUP_MAX = 32  # pushes committed together at most: bounds the latency one commit adds
_CHECKPOINT_EVERY = 8  # group commits between two background checkpoints
# the writer thread checkpoints by itself only past this many WAL pages (about 40 MiB): when the
# background checkpoints cannot keep up, never in the common case
_WAL_SAFETY_PAGES = 10_000


def _sqlite_setup(engine: Engine, *, immediate: bool, pragmas: tuple[str, ...] = ()) -> None:
    """Every SQLite connection: WAL, NORMAL sync, foreign keys, a busy timeout, and ``BEGIN``
    issued by us (``BEGIN IMMEDIATE`` for writers, so they queue on the lock at their start)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON",
                       *pragmas):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30})
    _sqlite_setup(engine.sync_engine, immediate=immediate)
    return engine


def _sqlite_thread_engine(url: str, *, immediate: bool, size: int) -> Engine:
    """The same database through the stdlib driver, for functions run on our own threads."""
    sync_url = url.replace("sqlite+aiosqlite:", "sqlite:", 1)
    engine = create_engine(sync_url, poolclass=pool.QueuePool, pool_size=size, max_overflow=0,
                           connect_args={"timeout": 30, "check_same_thread": False})
    # the writer leaves checkpoints to the checkpoint thread, but for a safety net
    _sqlite_setup(engine, immediate=immediate,
                  pragmas=(f"wal_autocheckpoint={_WAL_SAFETY_PAGES}",) if immediate else ())
    return engine


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    hold_s: float
    future: asyncio.Future[Any]
    outcome: tuple[bool, Any] = (False, None)


class _SqliteThreads:
    """SQLite through the stdlib driver on threads of our own: one writer, a few readers, and
    a checkpointer. A WAL checkpoint copies committed pages into the database file and syncs
    it; left to SQLite it runs inside whichever commit crosses 1,000 pages, so every few
    pushes one waits for it. Here a thread of its own runs it (``PASSIVE``: it never blocks the
    writer or a reader) every few group commits, while the writer goes on."""

    def __init__(self, url: str, readers: int = 2) -> None:
        self.path = make_url(url).database or ""
        self.write_engine = _sqlite_thread_engine(url, immediate=True, size=1)
        self.read_engine = _sqlite_thread_engine(url, immediate=False, size=readers)
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="fieldsync-sqlite-writer")
        self.readers = ThreadPoolExecutor(readers, thread_name_prefix="fieldsync-sqlite-reader")
        self.checkpointer = ThreadPoolExecutor(1, thread_name_prefix="fieldsync-sqlite-checkpoint")
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._commits = 0
        self._checkpoint_due = threading.Event()  # set while a checkpoint is queued
        self.queue: list[_Job] = []
        self.draining = False
        self.task: asyncio.Task[None] | None = None  # the drain under way (held: the loop keeps weak refs)

    def write_group(self, jobs: list[_Job]) -> None:
        """Run each job in its own savepoint of one transaction and commit once. A job that
        raises is rolled back to its savepoint alone; if the commit fails, every job fails."""
        with self.write_engine.connect() as conn:
            try:
                conn.begin()
                for job in jobs:
                    if len(jobs) == 1:
                        job.outcome = (True, job.fn(conn, *job.args))
                        continue
                    savepoint = conn.begin_nested()
                    try:
                        job.outcome = (True, job.fn(conn, *job.args))
                        savepoint.commit()
                    except Exception as exc:  # this job's error, reported to its caller alone
                        savepoint.rollback()
                        job.outcome = (False, exc)
                hold = max(job.hold_s for job in jobs)
                if hold:
                    time.sleep(hold)
                conn.commit()
            except BaseException as exc:
                conn.rollback()
                for job in jobs:
                    job.outcome = (False, exc)
                if not isinstance(exc, Exception):
                    raise
                return
        self._commits += 1
        if self._commits % _CHECKPOINT_EVERY == 0 and not self._checkpoint_due.is_set():
            self._checkpoint_due.set()
            self.checkpointer.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            if self._checkpoint_conn is None:
                self._checkpoint_conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # a busy or failed checkpoint is retried by the next one; the WAL keeps every page
        finally:
            self._checkpoint_due.clear()

    def read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self.read_engine.begin() as conn:
            return fn(conn, *args)

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        self.readers.shutdown(wait=True)
        self.checkpointer.shutdown(wait=True)
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
        self.write_engine.dispose()
        self.read_engine.dispose()


@dataclass
class Database:
    url: str
    writer: AsyncEngine
    reader: AsyncEngine
    # SQLite has one writer: queue this process's writers here, in order, instead of letting them
    # spin in SQLite's busy handler (which backs off up to 100 ms a try and makes the tail long)
    _write_lock: asyncio.Lock | None = field(default=None, repr=False)
    _threads: _SqliteThreads | None = field(default=None, repr=False)
    # names this open database in per-process caches: a copy of the same file or a database
    # made from the same template is another instance, whatever its contents share
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)
    concurrency: int = 4
    _pg_turns: asyncio.Semaphore | None = field(default=None, repr=False)

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

    async def run_write(self, fn: Callable[..., T], *args: Any, hold_s: float = 0) -> T:
        """``fn(conn, *args)`` in one write transaction, committed when it returns and rolled
        back if it raises. ``hold_s`` (failure tests only) keeps the transaction open that long
        before it commits."""
        threads = self._threads
        if threads is None:
            async with self._turns(), self.writer.begin() as conn:
                result = await conn.run_sync(fn, *args)
                if hold_s:
                    await asyncio.sleep(hold_s)
                return result
        job = _Job(fn, args, hold_s, asyncio.get_running_loop().create_future())
        threads.queue.append(job)
        if not threads.draining:
            threads.draining = True
            threads.task = asyncio.get_running_loop().create_task(self._drain(threads))
        return await job.future  # type: ignore[no-any-return]

    async def _drain(self, threads: _SqliteThreads) -> None:
        """Commit what queued up, a group at a time, until the queue is empty."""
        assert self._write_lock is not None
        loop = asyncio.get_running_loop()
        try:
            while threads.queue:
                async with self._write_lock:
                    jobs, threads.queue[:] = threads.queue[:_GROUP_MAX], threads.queue[_GROUP_MAX:]
                    try:
                        await loop.run_in_executor(threads.writer, threads.write_group, jobs)
                    except BaseException as exc:  # the thread itself failed: nothing committed
                        for job in jobs:
                            job.outcome = (False, exc)
                for job in jobs:
                    if job.future.done():
                        continue
                    ok, value = job.outcome
                    if ok:
                        job.future.set_result(value)
                    else:
                        job.future.set_exception(value)
        finally:
            threads.draining = False

    async def run_read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` in one read transaction (a consistent snapshot)."""
        threads = self._threads
        if threads is None:
            async with self._turns(), self.reader.begin() as conn:
                return await conn.run_sync(fn, *args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(threads.readers, threads.read, fn, args)

    def _turns(self) -> asyncio.Semaphore:
        """PostgreSQL: how many of this process's sync-path transactions run at once
        (``FIELDSYNC_PG_CONCURRENCY``). Requests past it wait their turn in arrival order (an
        asyncio semaphore is first come, first served) instead of all competing for the
        connections and the CPU at once, which made a few requests wait 4x as long as most."""
        if self._pg_turns is None:
            self._pg_turns = asyncio.Semaphore(self.concurrency)
        return self._pg_turns

    async def dispose(self) -> None:
        if self._threads is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._threads.close)
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def open_database(url: str, *, pool_size: int = 20, concurrency: int = 4) -> Database:
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/").endswith(":"):
            raise SystemExit(f"FIELDSYNC_DATABASE_URL {url!r}: SQLite needs a file (readers and the writer "
                             "share it); use sqlite+aiosqlite:///path/to/fieldsync.db")
        return Database(url, _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False),
                        asyncio.Lock(), _SqliteThreads(url))
    if url.startswith("postgresql"):
        # no overflow: a connection made for a burst and closed after it costs PostgreSQL a
        # process start each time
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)
        return Database(url, engine, engine, concurrency=concurrency)
    raise SystemExit(
        f"unsupported FIELDSYNC_DATABASE_URL {url!r}: use sqlite+aiosqlite:///path.db "
        "or postgresql+asyncpg://user@host:port/db"
    )
