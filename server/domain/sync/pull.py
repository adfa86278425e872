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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from shared.values import ColType, to_wire
from sync.merge import site_from_bytes
from sync.protocol import MAX_PULL_LIMIT, PulledChange, PullResponse

__all__ = ["pull", "row_changes"]

_HELD_BACK_WAIT_S = 0.02
_HELD_BACK_TRIES = 25

Row = Sequence[Any]  # a stored row as the table's columns in order


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
        changes += _layout(name).changes(row)
    if changes:
        clock.observe(max(c.ts for c in changes))
    if rows:
        name, last = rows[-1]
        layout = _layout(name)
        cursor = Cursor(int(last[layout.rev]), store.TABLE_INDEX[name], last[layout.id])
    return PullResponse(changes=changes, cursor=encode_cursor(cursor, secret, principal.device_id),
                        more=more or held_back, server_ts=clock.server_ts())


async def _page(conn: AsyncConnection, principal: Principal, cursor: Cursor,
                limit: int) -> tuple[list[tuple[str, Row]], bool, bool]:
    """Up to ``limit`` rows after the cursor, whether more follow, and whether some were held
    back because a transaction with a smaller id had not ended yet."""
    top = await store.horizon(conn)
    streams: list[tuple[int, str, Sequence[Row]]] = []
    afters = []
    for tidx, table in enumerate(TABLES):
        where = read_filter(table.name, principal)
        if where is None:
            continue
        t = sql_tables[table.name]
        after = and_(where, store.key_after(cursor.rev, cursor.tidx, cursor.pk, tidx, t))
        afters.append((t, after))
        cond = after if top is None else and_(after, t.c._rev < top)
        result = await conn.execute(select(t).where(cond).order_by(t.c._rev, t.c.id).limit(limit + 1))
        rows: Sequence[Row] = result.all()
        if rows:
            streams.append((tidx, table.name, rows))
    page: list[tuple[str, Row]]
    if len(streams) == 1:  # one table has every row (a catalogue): already in order
        _, name, only = streams[0]
        page = [(name, r) for r in only[:limit + 1]]
    else:
        page = [(name, r) for _, name, r in heapq.merge(*(_keyed(s) for s in streams), key=lambda e: e[0])]
    more = len(page) > limit
    held_back = False
    if top is not None and not more:  # a full page has more anyway: ask only when it matters
        for t, after in afters:
            if (await conn.execute(select(exists().where(and_(after, t.c._rev >= top))))).scalar():
                held_back = True
                break
    return page[:limit], more, held_back


def _keyed(stream: tuple[int, str, Sequence[Row]]) -> list[tuple[tuple[int, int, str], str, Row]]:
    tidx, name, rows = stream
    layout = _layout(name)
    rev, pk = layout.rev, layout.id
    return [((r[rev], tidx, r[pk]), name, r) for r in rows]


def _identity(value: Any) -> Any:
    return value


def _wire(value: Any) -> Any:
    return None if value is None else to_wire(value)


@dataclass(frozen=True)
class _Layout:
    """Where a table's columns sit in its rows, and how each value goes on the wire."""

    name: str
    kind: Kind
    id: int
    rev: int
    ts: int  # ledger only
    site: int  # ledger only
    cells: tuple[tuple[str, int, int, Callable[[Any], Any]], ...]  # (name, value, version, to wire)

    def changes(self, row: Row) -> list[PulledChange]:
        """A stored row as pull entries: its cells grouped by the ``(ts, site)`` that wrote them."""
        pk = row[self.id]
        if self.kind is Kind.LEDGER:
            vals = {col: wire(row[i]) for col, i, _, wire in self.cells}
            return [PulledChange(table=self.name, pk=pk, ts=int(row[self.ts]), site=row[self.site], vals=vals)]
        groups: dict[bytes, dict[str, Any]] = {}
        for col, i, v, wire in self.cells:
            raw = row[v]
            if raw is None:
                continue
            stamp = bytes(raw[1:])  # without the status rank: cells written together share it
            cells = groups.get(stamp)
            if cells is None:
                cells = groups[stamp] = {}
            cells[col] = wire(row[i])
        out = []
        for stamp in sorted(groups) if len(groups) > 1 else groups:
            out.append(PulledChange(table=self.name, pk=pk, ts=int.from_bytes(stamp[:8], "big"),
                                    site=_site(stamp[8:]), vals=groups[stamp]))
        return out


@cache
def _layout(name: str) -> _Layout:
    table = TABLES[store.TABLE_INDEX[name]]
    positions = {c.name: i for i, c in enumerate(sql_tables[name].c)}
    types = {c.name: c.type for c in table.columns}
    cells = []
    for col in table.cell_names:
        wire = _wire if types.get(col) in (ColType.DECIMAL, ColType.DATE) else _identity
        version = positions[version_col(col)] if table.kind is Kind.LWW else -1
        cells.append((col, positions[col], version, wire))
    ledger = table.kind is Kind.LEDGER
    return _Layout(name=name, kind=table.kind, id=positions["id"], rev=positions["_rev"],
                   ts=positions["_ts"] if ledger else -1, site=positions["_site"] if ledger else -1,
                   cells=tuple(cells))


def row_changes(name: str, row: dict[str, Any]) -> list[PulledChange]:
    """A stored row, given by column name, as pull entries."""
    return _layout(name).changes([row.get(c.name) for c in sql_tables[name].c])


@lru_cache(maxsize=4096)
def _site(raw: bytes) -> str:
    return site_from_bytes(raw)
