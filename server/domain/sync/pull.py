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
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Dialect,
    Integer,
    and_,
    bindparam,
    literal,
    or_,
    select,
)

from server.db.engine import Database
from server.db.schema import device, sql_tables, version_col
from server.domain.sync import store
from server.domain.sync.clock import ServerClock
from server.domain.sync.cursor import Cursor, decode_cursor, encode_cursor
from server.domain.sync.devices import check_not_revoked
from server.domain.sync.principal import Principal
from server.domain.sync.scopes import read_filter, scope_params
from server.domain.sync.slices import SliceCache, SliceKey, SliceRow
from shared.errors import Forbidden, InvalidInput
from shared.registry import REGISTRY, TABLES, Everyone, Kind, Role
from shared.values import ColType, to_wire
from sync.merge import site_from_bytes
from sync.protocol import MAX_PULL_LIMIT, PulledChange, PullResponse

__all__ = ["pull"]

_HELD_BACK_WAIT_S = 0.02
_HELD_BACK_TRIES = 25

Row = Sequence[Any]  # a stored row as the table's columns in order


_SLICES = SliceCache()


async def pull(db: Database, clock: ServerClock, secret: str, principal: Principal,
               cursor_token: str | None, limit: int) -> PullResponse:
    if principal.device_id is None:
        raise Forbidden("only an enrolled device can pull", code="not_a_device")
    if not 1 <= limit <= MAX_PULL_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_PULL_LIMIT}, got {limit}", code="bad_limit")
    cursor = decode_cursor(cursor_token, secret, principal.device_id)
    params = scope_params(principal)
    for _ in range(_HELD_BACK_TRIES):
        page = await db.run_read(_page, principal.device_id, principal.role, params, cursor, limit, db.instance)
        if page.rows or not page.held_back:
            break
        await asyncio.sleep(_HELD_BACK_WAIT_S)  # a writer that took its id earlier is still committing
    changes = [c for _, entries in page.rows for c in entries]
    if changes:
        clock.observe(max(c.ts for c in changes))
    if page.rows:
        cursor = Cursor(*page.rows[-1][0])
    return PullResponse(changes=changes, cursor=encode_cursor(cursor, secret, principal.device_id),
                        more=page.more or page.held_back, server_ts=clock.server_ts())


@dataclass
class _Page:
    rows: list[SliceRow]  # up to ``limit`` rows after the cursor, as pull entries
    more: bool
    held_back: bool  # rows were held back: a transaction with a smaller id had not ended yet


_Item = tuple[tuple[int, int, str], str, Any]  # (position, table, stored row or its entries)


def _page(conn: Connection, device_id: str, role: Role, params: dict[str, Any], cursor: Cursor,
          limit: int, namespace: str) -> _Page:
    """Up to ``limit`` rows after the cursor, whether more follow, and whether some were held
    back. Each table in scope gives at most ``limit + 1`` rows; a table every device of the role
    reads alike comes from :data:`_SLICES` when another device asked from the same cursor."""
    dialect = conn.dialect
    # revoked since its token was looked up: nothing is served
    check_not_revoked(conn.execute(_REVOKED_AT, {"device": device_id}).scalar_one_or_none())
    top = store.horizon(conn)
    values = {**params, "rev": cursor.rev, "pk": cursor.pk, "top": top, "lim": limit + 1, "hi": _NO_BOUND}
    streams: list[list[_Item]] = []
    for tidx, table, query in _in_scope(dialect, role, _shape_key(cursor.tidx)):
        key: SliceKey | None = None
        if query.shared:
            key = (namespace, table, cursor.rev, cursor.tidx, cursor.pk, limit)
            cached = _SLICES.get(key)
            if cached is not None:
                streams.append([(pos, table, entries) for pos, entries in cached])
                values["hi"] = min(values["hi"], cached[-1][0][0])
                continue
        rows = query.page.run(conn, values).fetchall()
        if not rows:
            continue
        layout = _layout(table, dialect.name)
        if len(rows) > limit:  # a full stream: nothing past its last row can be on this page
            values["hi"] = min(values["hi"], int(rows[-1][layout.rev]))
            if key is not None:  # a full slice of a shared table: kept for the next device
                made = [((int(r[layout.rev]), tidx, r[layout.id]), layout.changes(r)) for r in rows]
                _SLICES.put(key, made)
                streams.append([(pos, table, entries) for pos, entries in made])
                continue
        streams.append([((int(r[layout.rev]), tidx, r[layout.id]), table, r) for r in rows])
    if not streams:
        merged: list[_Item] = []
    elif len(streams) == 1:  # one table has every row (a catalogue): already in order
        merged = streams[0]
    else:
        merged = list(heapq.merge(*streams, key=lambda e: e[0]))
    more = len(merged) > limit
    held_back = False
    if top is not None and not more:  # a full page has more anyway: ask only when it matters
        for _, _, query in _in_scope(dialect, role, _shape_key(cursor.tidx)):
            if query.held_back.run(conn, values).first():
                held_back = True
                break
    out: list[SliceRow] = []
    for pos, name, payload in merged[:limit]:
        out.append((pos, payload if isinstance(payload, list) else _layout(name, dialect.name).changes(payload)))
    return _Page(out, more, held_back)


_NO_BOUND = 2**63 - 1
_REVOKED_AT = select(device.c.revoked_at).where(device.c.id == bindparam("device"))


def _shape(table_index: int, cursor_tidx: int) -> int:
    """How a table's rows follow the cursor: 0 after its rev, 1 from its rev on, 2 after (rev, pk)."""
    return 0 if table_index < cursor_tidx else 1 if table_index > cursor_tidx else 2


def _shape_key(cursor_tidx: int) -> int:
    """The cursor's table index as far as the queries care (-1 before every table)."""
    return max(-1, min(cursor_tidx, len(TABLES)))


@lru_cache(maxsize=256)
def _in_scope(dialect: Dialect, role: Role, cursor_tidx: int) -> tuple[tuple[int, str, _Query], ...]:
    """The tables a role reads, with their queries, tables every device reads alike first: a
    full page of those bounds how far the other tables' queries need to read."""
    out = []
    for tidx, table in enumerate(TABLES):
        query = _query(dialect, table.name, role, _shape(tidx, cursor_tidx))
        if query is not None:
            out.append((tidx, table.name, query))
    return tuple(sorted(out, key=lambda e: not e[2].shared))


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled once for a dialect: its SQL text and its parameters in order."""

    sql: str
    names: tuple[str, ...]
    defaults: dict[str, Any]  # the constants SQLAlchemy bound itself (an OFFSET 0, say)

    @classmethod
    def of(cls, stmt: Any, dialect: Dialect) -> _Compiled:
        compiled = stmt.compile(dialect=dialect)
        return cls(compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params))

    def run(self, conn: Connection, values: dict[str, Any]) -> Any:
        params = tuple(values[n] if n in values else self.defaults[n] for n in self.names)
        return conn.exec_driver_sql(self.sql, params)


@dataclass(frozen=True)
class _Query:
    """One table's page query and held-back probe for one role."""

    page: _Compiled
    held_back: _Compiled
    shared: bool  # every device of the role reads the same rows


@lru_cache(maxsize=1024)
def _query(dialect: Dialect, name: str, role: Role, shape: int) -> _Query | None:
    where = read_filter(name, role)
    if where is None:
        return None
    t = sql_tables[name]
    rev = bindparam("rev", type_=BigInteger)
    after = (t.c._rev > rev, t.c._rev >= rev,
             or_(t.c._rev > rev, and_(t.c._rev == rev, t.c.id > bindparam("pk", type_=t.c.id.type))))[shape]
    cond = and_(where, after)
    held = cond
    if dialect.name == "postgresql":
        top = bindparam("top", type_=BigInteger)
        cond, held = and_(cond, t.c._rev < top), and_(cond, t.c._rev >= top)
    cond = and_(cond, t.c._rev <= bindparam("hi", type_=BigInteger))
    page = select(t).where(cond).order_by(t.c._rev, t.c.id).limit(bindparam("lim", type_=Integer))
    probe = select(literal(1)).where(held).limit(1)
    return _Query(_Compiled.of(page, dialect), _Compiled.of(probe, dialect),
                  shared=isinstance(REGISTRY[name].read_scope(role), Everyone))


def _identity(value: Any) -> Any:
    return value


def _wire(value: Any) -> Any:
    return None if value is None else to_wire(value)


def _sqlite_decimal(value: Any) -> Any:
    """SQLite keeps decimals as text, written in plain digits; anything else is made so."""
    if value is None or (type(value) is str and "e" not in value and "E" not in value):
        return value
    return to_wire(Decimal(str(value)))


def _sqlite_bool(value: Any) -> Any:
    return None if value is None else bool(value)


# stored value -> wire value, per dialect and column type: the page query returns the driver's
# values as they are (SQLite: decimals as text, dates as ISO text, booleans as 0/1)
_TO_WIRE: dict[str, dict[ColType, Callable[[Any], Any]]] = {
    "sqlite": {ColType.DECIMAL: _sqlite_decimal, ColType.BOOL: _sqlite_bool},
    "postgresql": {ColType.DECIMAL: _wire, ColType.DATE: _wire},
}


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
def _layout(name: str, dialect: str) -> _Layout:
    table = TABLES[store.TABLE_INDEX[name]]
    positions = {c.name: i for i, c in enumerate(sql_tables[name].c)}
    convert = _TO_WIRE[dialect]
    cells = []
    for col in table.cell_names:
        column = table.column(col)
        assert column is not None
        wire = convert.get(column.type, _identity)
        version = positions[version_col(col)] if table.kind is Kind.LWW else -1
        cells.append((col, positions[col], version, wire))
    ledger = table.kind is Kind.LEDGER
    return _Layout(name=name, kind=table.kind, id=positions["id"], rev=positions["_rev"],
                   ts=positions["_ts"] if ledger else -1, site=positions["_site"] if ledger else -1,
                   cells=tuple(cells))


@lru_cache(maxsize=4096)
def _site(raw: bytes) -> str:
    return site_from_bytes(raw)
