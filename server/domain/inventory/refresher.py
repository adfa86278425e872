"""Keeps derived figures fresh after pushes, off the request path.

A push only records what devices sent; recomputing availability for the products it touched
happens here (and its followers, such as the current plan of planning/current.py, are told),
in one background task per server process that drains a queue of touched changes in batches. Every refresh recomputes from the database, so it is
idempotent: two processes refreshing the same product, or a refresh after a crash, agree.
A failed refresh is logged and its figures stay stale until the next change to those products
or the next start of the server, which refreshes everything; it never blocks a push.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from server.db.engine import Database
from server.domain.inventory.availability import refresh_availability, refresh_touched
from server.domain.sync.clock import ServerClock

__all__ = ["Refresher"]

log = logging.getLogger("fieldsync.refresher")
Change = tuple[str, str, Mapping[str, Any]]


class Refresher:
    def __init__(self, db: Database, clock: ServerClock) -> None:
        self.db = db
        self.clock = clock
        # told the tables of every accepted batch, on the request path: each must return at once
        # (the current plan, planning/current.py, schedules its own background refresh)
        self.followers: list[Callable[[frozenset[str]], None]] = []
        self._pending: list[Change] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, full: bool = True) -> None:
        """Start the worker; with ``full``, first bring every figure up to date (a server that
        was down while data changed, or a new schema version)."""
        if full:
            try:
                await refresh_availability(self.db, self.clock)
            except Exception:  # a broken figure must not keep the service from starting
                log.exception("the start-up availability refresh failed; serving anyway")
        self._task = asyncio.create_task(self._run(), name="fieldsync-refresher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def touch(self, changes: Iterable[Change]) -> None:
        """Queue accepted changes; returns at once."""
        batch = list(changes)
        if batch:
            self._pending.extend(batch)
            self._idle.clear()
            self._wake.set()
            tables = frozenset(c[0] for c in batch)
            for follow in self.followers:
                follow(tables)

    async def settled(self, timeout: float = 30) -> None:
        """Wait until everything queued so far has been refreshed (for tests and shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            try:
                await refresh_touched(self.db, self.clock, batch)
            except Exception:
                log.exception("refreshing availability after a push failed; figures stay stale until the next change or restart")
            if not self._pending:
                self._idle.set()
