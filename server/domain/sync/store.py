"""Storage of synced rows: the change counter, the bulk merge, and row look-ups.

The merge is one upsert per table and batch: each cell is replaced only when the incoming
version (``<col>__v``, a byte string in version order) is greater than the stored one, so SQL
applies a whole batch in bulk and the result does not depend on the order of deliveries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table, and_, case, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.schema import sql_tables, sync_state, version_col
from shared.registry import DELETED, REGISTRY, TABLES, Kind
from sync.merge import version_bytes

__all__ = [
    "apply_ledger",
    "apply_lww",
    "fetch_rows",
    "horizon",
    "lww_params",
    "next_rev",
]

TABLE_INDEX = {t.name: i for i, t in enumerate(TABLES)}
_CHUNK = 500


async def next_rev(conn: AsyncConnection) -> int:
    """The ordering key of this write transaction's rows in the pull log.

    PostgreSQL: the transaction's own id (xid8), which pull serves only once every transaction
    with a smaller id has ended (see :func:`horizon`). SQLite: a counter bumped under the write
    lock that ``BEGIN IMMEDIATE`` took, so counter order is commit order.
    """
    if conn.dialect.name == "postgresql":
        return int((await conn.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar_one())
    stmt = update(sync_state).where(sync_state.c.id == 1).values(rev=sync_state.c.rev + 1).returning(sync_state.c.rev)
    return int((await conn.execute(stmt)).scalar_one())


async def horizon(conn: AsyncConnection) -> int | None:
    """Rows with ``_rev`` below this are final: every transaction that could still write a
    smaller ``_rev`` has ended. None means no limit (SQLite commits in counter order)."""
    if conn.dialect.name == "postgresql":
        return int((await conn.execute(_PG_HORIZON)).scalar_one())
    return None


# The smallest transaction id still running, ignoring transactions that are known to run in
# another database of the same server (transaction ids are server-wide, and a long transaction
# elsewhere must not hold back this service's pulls). A running id whose database cannot be
# told (its session already gone, or hidden by privileges) counts as ours: holding back is safe,
# skipping is not. With nothing running, everything below xmax has ended.
_PG_HORIZON = text("""
WITH s AS (SELECT pg_current_snapshot() AS snap)
SELECT coalesce(
    (SELECT min(x::text::bigint) FROM s, pg_snapshot_xip(s.snap) AS x
     WHERE NOT EXISTS (
         SELECT 1 FROM pg_stat_activity a
         WHERE a.backend_xid IS NOT NULL
           AND a.backend_xid::text = (x::text::bigint % 4294967296)::text
           AND a.datname IS NOT NULL AND a.datname <> current_database())),
    (SELECT pg_snapshot_xmax(s.snap)::text::bigint FROM s))
""")


def _insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


@cache
def _lww_columns(name: str) -> tuple[str, ...]:
    return REGISTRY[name].cell_names


def _lww_upsert(conn: AsyncConnection, name: str) -> Any:
    t = sql_tables[name]
    ins = _insert(conn, t)
    ex = ins.excluded
    sets: dict[str, Any] = {}
    wins = []
    for col in _lww_columns(name):
        v = version_col(col)
        newer = or_(t.c[v].is_(None), ex[v] > t.c[v])
        sets[col] = case((newer, ex[col]), else_=t.c[col])
        sets[v] = case((newer, ex[v]), else_=t.c[v])
        wins.append(and_(ex[v].is_not(None), newer))
    # the row moves forward in the pull log only when some cell changed: a re-sent or losing
    # write does not make every device download the row again
    sets["_rev"] = case((or_(*wins), ex["_rev"]), else_=t.c._rev)
    return ins.on_conflict_do_update(index_elements=[t.c.id], set_=sets)


def lww_params(name: str, pk: str, ts: int, site: str, vals: dict[str, Any], rev: int) -> dict[str, Any]:
    """One row of the bulk upsert: written cells carry their version, the others NULL."""
    table = REGISTRY[name]
    row: dict[str, Any] = {"id": pk, "_rev": rev}
    for col in table.cell_names:
        if col in vals:
            value = vals[col]
            c = table.column(col)
            rank = c.rank(value) if c is not None and c.is_status else 0
            row[col] = value
            row[version_col(col)] = version_bytes(ts, site, rank)
        else:
            row[col] = None
            row[version_col(col)] = None
    return row


async def apply_lww(conn: AsyncConnection, name: str, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        # a fixed order (by id) keeps concurrent transactions from locking rows crosswise
        ordered = sorted(rows, key=lambda r: r["id"])
        await conn.execute(_lww_upsert(conn, name), ordered)


async def apply_ledger(conn: AsyncConnection, name: str, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        t = sql_tables[name]
        stmt = _insert(conn, t).on_conflict_do_nothing(index_elements=[t.c.id])
        await conn.execute(stmt, sorted(rows, key=lambda r: r["id"]))


async def fetch_rows(conn: AsyncConnection, name: str, pks: Iterable[str],
                     columns: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Current stored rows by id (all columns, or the named ones with their versions)."""
    t = sql_tables[name]
    if columns is None:
        cols = list(t.c)
    else:
        cols = [t.c.id]
        for c in columns:
            cols.append(t.c[c])
            if REGISTRY[name].kind is Kind.LWW:
                cols.append(t.c[version_col(c)])
    out: dict[str, dict[str, Any]] = {}
    ids = sorted(set(pks))
    for i in range(0, len(ids), _CHUNK):
        result = await conn.execute(select(*cols).where(t.c.id.in_(ids[i:i + _CHUNK])))
        for row in result.mappings():
            out[row["id"]] = dict(row)
    return out


def group_by_table(items: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for name, row in items:
        grouped[name].append(row)
    return grouped


def is_live(row: dict[str, Any] | None) -> bool:
    return row is not None and not row.get(DELETED)


def key_after(rev: int, tidx: int, pk: str, table_index: int, t: Table) -> Any:
    """SQL for: this table's rows come after the cursor ``(rev, tidx, pk)`` in pull order."""
    if table_index < tidx:
        return t.c._rev > rev
    if table_index > tidx:
        return t.c._rev >= rev
    return or_(t.c._rev > rev, and_(t.c._rev == rev, t.c.id > pk))
