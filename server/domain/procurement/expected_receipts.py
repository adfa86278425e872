"""Open purchase orders as expected receipts on the receiving warehouse's devices.

Every purchase order line has one synced ``purchase_receipt`` row with the line's id, written by
the server (``write_as_server``) so that it reaches the warehouse's devices by pull. ``refresh``
makes the rows of the given lines (or of all lines) match them and writes only the rows that
differ, so calling it again costs a read. It runs when a requisition is approved (all lines, so
purchase orders loaded by ``fieldsync import`` appear then too), when goods are received (the
lines received), and on ``POST /api/v1/procurement/expected-receipts/refresh``.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from server.db.engine import Database
from server.db.masterdata import purchase_order_line, supplier
from server.db.retry import retrying
from server.db.schema import sql_tables
from server.domain.procurement.receipts import receipt_status
from server.domain.sync.clock import ServerClock
from server.domain.sync.server_writes import ServerWrite, write_as_server
from shared.values import to_wire

__all__ = ["refresh", "refresh_all", "stale"]

_CHUNK = 500
purchase_receipt = sql_tables["purchase_receipt"]


def _wanted(r: Any) -> dict[str, Any]:
    received = r.qty_received or Decimal(0)
    return {
        "po_number": r.number, "product_id": r.product_id, "warehouse_id": r.warehouse_id,
        "qty_expected": r.qty, "due_date": r.due_date, "supplier_name": r.supplier_name,
        "qty_received": received, "status": receipt_status(r.qty, received, r.status),
        "_deleted": False,
    }


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(wanted, Decimal) and stored is not None:
        return Decimal(stored) == wanted
    return bool(stored == wanted)


def stale(conn: Connection, line_ids: Collection[str] | None = None) -> list[ServerWrite]:
    """The ``purchase_receipt`` writes that would make the rows of the given purchase order lines
    (all when None) match them: only the cells that differ."""
    po, s, pr = purchase_order_line, supplier, purchase_receipt
    stmt = (select(po.c.id, po.c.number, po.c.product_id, po.c.warehouse_id, po.c.qty, po.c.due_date,
                   po.c.status, po.c.qty_received, s.c.name.label("supplier_name"))
            .join(s, s.c.id == po.c.supplier_id).order_by(po.c.id))
    ids = None if line_ids is None else sorted(set(line_ids))
    chunks: list[list[str] | None] = [None] if ids is None else [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    writes: list[ServerWrite] = []
    for chunk in chunks:
        lines = (conn.execute(stmt if chunk is None else stmt.where(po.c.id.in_(chunk)))).all()
        stored: dict[str, Any] = {}
        for i in range(0, len(lines), _CHUNK):
            part = [ln.id for ln in lines[i:i + _CHUNK]]
            stored.update((r.id, r._mapping) for r in conn.execute(select(pr).where(pr.c.id.in_(part))))
        for ln in lines:
            wanted = _wanted(ln)
            have = stored.get(ln.id)
            if have is not None:
                wanted = {k: v for k, v in wanted.items() if not _same(have[k], v)}
            if wanted:
                writes.append(ServerWrite("purchase_receipt", ln.id, {k: to_wire(v) for k, v in wanted.items()}))
    return writes


def refresh(conn: Connection, clock: ServerClock, line_ids: Collection[str] | None = None) -> int:
    """Write the ``purchase_receipt`` rows that differ from their purchase order lines, in the
    caller's transaction. Returns how many rows were written."""
    writes = stale(conn, line_ids)
    if writes:
        write_as_server(conn, clock, writes)
    return len(writes)


async def refresh_all(db: Database, clock: ServerClock) -> int:
    """``refresh`` of every line in its own transaction (after ``fieldsync import``, say)."""

    async def attempt() -> int:
        return await db.run_write(refresh, clock)

    return await retrying(attempt)
