"""Pull: the current state of every row in the device's scope, in log order from a cursor.

Rows are ordered by ``(_rev, table, id)``. On PostgreSQL ``_rev`` is the id of the transaction
that last wrote the row, and only rows whose ``_rev`` is below the snapshot's ``xmin`` are served:
every transaction with a smaller id has ended, and any transaction still running or yet to
commit will stamp its rows with a larger id, so the cursor can never pass a row that commits
later. Rows held back that way make ``more`` true, and the client keeps pulling.
"""

from __future__ import annotations

import asyncio
import heapq
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.schema import sql_tables, version_col
from server.domain.sync import store
from server.domain.sync.clock import ServerClock
from server.domain.sync.cursor import Cursor, decode_cursor, encode_cursor
from server.domain.sync.principal import Principal
from server.domain.sync.scopes import read_filter
from shared.errors import Forbidden, InvalidInput
from shared.registry import TABLES, Kind
from shared.values import to_wire
from sync.merge import site_from_bytes
from sync.protocol import MAX_PULL_LIMIT, PulledChange, PullResponse

__all__ = ["pull", "row_changes"]

_HELD_BACK_WAIT_S = 0.02
_HELD_BACK_TRIES = 25


async def pull(db: Database, clock: ServerClock, secret: str, principal: Principal,
               cursor_token: str | None, limit: int) -> PullResponse:
    if principal.device_id is None:
        raise Forbidden("only an enrolled device can pull", code="not_a_device")
    if not 1 <= limit <= MAX_PULL_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_PULL_LIMIT}, got {limit}", code="bad_limit")
    cursor = decode_cursor(cursor_token, secret, principal.device_id)
    for _ in range(_HELD_BACK_TRIES):
        async with db.read() as conn:
            rows, more, held_back = await _page(conn, principal, cursor, limit)
        if rows or not held_back:
            break
        await asyncio.sleep(_HELD_BACK_WAIT_S)  # a writer that took its id earlier is still committing
    changes: list[PulledChange] = []
    for name, row in rows:
        for change in row_changes(name, row):
            clock.observe(change.ts)
            changes.append(change)
    if rows:
        name, last = rows[-1]
        cursor = Cursor(int(last["_rev"]), store.TABLE_INDEX[name], last["id"])
    return PullResponse(changes=changes, cursor=encode_cursor(cursor, secret, principal.device_id),
                        more=more or held_back, server_ts=clock.server_ts())


async def _page(conn: AsyncConnection, principal: Principal, cursor: Cursor,
                limit: int) -> tuple[list[tuple[str, dict[str, Any]]], bool, bool]:
    """Up to ``limit`` rows after the cursor, whether more follow, and whether some were held
    back because a transaction with a smaller id had not ended yet."""
    top = await store.horizon(conn)
    streams = []
    held_back = False
    for tidx, table in enumerate(TABLES):
        where = read_filter(table.name, principal)
        if where is None:
            continue
        t = sql_tables[table.name]
        after = and_(where, store.key_after(cursor.rev, cursor.tidx, cursor.pk, tidx, t))
        cond = after if top is None else and_(after, t.c._rev < top)
        result = await conn.execute(select(t).where(cond).order_by(t.c._rev, t.c.id).limit(limit + 1))
        rows = [dict(r) for r in result.mappings()]
        streams.append([((r["_rev"], tidx, r["id"]), table.name, r) for r in rows])
        if top is not None and not held_back:
            held_back = bool((await conn.execute(select(exists().where(and_(after, t.c._rev >= top))))).scalar())
    merged = list(heapq.merge(*streams, key=lambda e: e[0]))
    page = [(name, row) for _, name, row in merged[:limit]]
    return page, len(merged) > limit, held_back


def row_changes(name: str, row: dict[str, Any]) -> list[PulledChange]:
    """A stored row as pull entries: its cells grouped by the ``(ts, site)`` that wrote them."""
    table = TABLES[store.TABLE_INDEX[name]]
    if table.kind is Kind.LEDGER:
        vals = {c.name: to_wire(row[c.name]) for c in table.columns}
        return [PulledChange(table=name, pk=row["id"], ts=int(row["_ts"]), site=row["_site"], vals=vals)]
    groups: dict[bytes, dict[str, Any]] = {}
    for col, vcol in _cells(name):
        raw = row[vcol]
        if raw is None:
            continue
        stamp = bytes(raw[1:])  # without the status rank: cells written together share it
        cells = groups.get(stamp)
        if cells is None:
            cells = groups[stamp] = {}
        value = row[col]
        cells[col] = value if value is None or isinstance(value, str | bool | int) else to_wire(value)
    out = []
    for stamp in sorted(groups):
        ts, site = int.from_bytes(stamp[:8], "big"), _site(stamp[8:])
        out.append(PulledChange(table=name, pk=row["id"], ts=ts, site=site, vals=groups[stamp]))
    return out


@cache
def _cells(name: str) -> tuple[tuple[str, str], ...]:
    return tuple((col, version_col(col)) for col in TABLES[store.TABLE_INDEX[name]].cell_names)


@lru_cache(maxsize=4096)
def _site(raw: bytes) -> str:
    return site_from_bytes(raw)
