"""The database schema: one SQL table per synced table, generated from the registry, plus the
sync engine's own tables.

A synced lww table stores each column's current value beside ``<column>__v``, the version of the
write that put it there as a byte string that sorts in version order (``sync.merge.version_bytes``),
so SQL merges a batch with one upsert. ``_rev`` orders rows for pull: on PostgreSQL the id of the
transaction that last wrote the row (xid8), on SQLite a counter taken under the write lock.
A ledger table stores its columns once with the row's ``_ts`` and ``_site``.

The master data only the server holds (BOMs, suppliers, price agreements, forecasts, open orders)
are plain tables defined in ``masterdata.py`` on the same ``metadata``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from server.db.types import ExactDecimal, UtcDateTime
from shared.registry import DELETED, TABLES, InWarehouse, Kind, OwnedBy, Via
from shared.registry import Table as SyncTable
from shared.values import ColType

__all__ = ["VERSION_SUFFIX", "metadata", "sql_tables", "version_col"]

VERSION_SUFFIX = "__v"
metadata = MetaData()


def version_col(name: str) -> str:
    return name + VERSION_SUFFIX


def _sql_type(t: ColType) -> TypeEngine[object] | type[TypeEngine[object]]:
    return {
        ColType.TEXT: Text,
        ColType.ID: String(36),
        ColType.DECIMAL: ExactDecimal(),
        ColType.DATE: Date,
        ColType.BOOL: Boolean,
        ColType.INT: BigInteger,
    }[t]  # type: ignore[return-value]


def _synced_table(t: SyncTable) -> Table:
    cols: list[Column[object]] = [Column("id", String(36), primary_key=True)]
    for c in t.columns:
        cols.append(Column(c.name, _sql_type(c.type), nullable=True))
        if t.kind is Kind.LWW:
            cols.append(Column(version_col(c.name), LargeBinary(25), nullable=True))
    if t.kind is Kind.LWW:
        cols.append(Column(DELETED, Boolean, nullable=True))
        cols.append(Column(version_col(DELETED), LargeBinary(25), nullable=True))
    else:
        cols.append(Column("_ts", BigInteger, nullable=False))
        cols.append(Column("_site", String(36), nullable=False))
    cols.append(Column("_rev", BigInteger, nullable=False))
    table = Table(t.name, metadata, *cols)
    Index(f"ix_{t.name}__rev", table.c._rev, table.c.id)
    scoped = scope_columns(t)
    for c in t.columns:
        if c.name in scoped:  # a device's pull: its rows in log order, read straight off the index
            Index(f"ix_{t.name}_{c.name}_rev", table.c[c.name], table.c._rev, table.c.id)
        elif c.name in ("owner", "warehouse_id", "order_id", "product_id"):
            Index(f"ix_{t.name}_{c.name}", table.c[c.name])
    return table


def scope_columns(t: SyncTable) -> frozenset[str]:
    """The columns some role's read scope filters this table on (its owner, its warehouse, its
    parent row)."""
    return frozenset(s.column for s in t.read.values() if isinstance(s, OwnedBy | InWarehouse | Via))


sql_tables: dict[str, Table] = {t.name: _synced_table(t) for t in TABLES}

# ---- the engine's own tables ------------------------------------------------------------

sync_state = Table(
    "sync_state", metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("rev", BigInteger, nullable=False),  # SQLite's change counter
    Column("server_ts", BigInteger, nullable=False),  # the last stamp of a server write
    Column("secret", String(64), nullable=False),  # signs cursors; shared by every process
)

device = Table(
    "sync_device", metadata,
    Column("id", String(36), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("warehouse_id", String(36), nullable=True),
    Column("code_hash", String(64), nullable=True, unique=True),
    Column("code_expires_at", UtcDateTime(), nullable=True),
    Column("token_hash", String(64), nullable=True, unique=True),
    Column("acked_seq", BigInteger, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("enrolled_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("last_seen_at", UtcDateTime(), nullable=True),
)

rejection = Table(
    "sync_rejection", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(36), nullable=False, index=True),
    Column("user", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("table_name", String(64), nullable=False),
    Column("pk", String(64), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("vals", Text, nullable=False),  # the change as sent, JSON
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)

conflict = Table(
    "sync_conflict", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(36), nullable=False, index=True),
    Column("user", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("table_name", String(64), nullable=False),
    Column("pk", String(64), nullable=False),
    Column("column_name", String(64), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("attempted", Text, nullable=True),
    Column("current", Text, nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
)

# ---- master data the server alone holds (not synced): defined in masterdata.py on this metadata

import server.db.masterdata  # noqa: E402  (defines its tables on ``metadata`` above)
import server.db.planning_schema  # noqa: E402  (MRP runs, production order pegs, sequences)
import server.db.procurement_schema  # noqa: E402, F401  (requisitions, purchase order terms)
