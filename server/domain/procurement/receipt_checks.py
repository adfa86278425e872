"""Goods receipts at push time: check each ``goods_receipt`` row against its purchase order line
and book the ones that pass, inside the push's own transaction.

The lines are locked before they are read (``FOR UPDATE`` on PostgreSQL, in id order so two
pushes never lock crosswise; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so two
devices receiving against one line at the same moment are checked one after the other and never
pass the tolerance together. Receipts of one batch are checked in ``seq`` order, each seeing the
ones before it. A refused receipt becomes a rejection (reason ``forbidden`` for another
warehouse's line, ``invalid_value`` otherwise; the detail starts with the code of
``receipts.Refusal``) and is not stored. For the ones kept, in the same transaction: a
``stock_move`` of kind ``receipt`` for the accepted quantity (ref: the purchase order number), the
line's ``qty_received`` and ``status``, and the line's ``purchase_receipt`` row, all of which
devices learn by pull.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update

from server.config import Settings
from server.db.masterdata import purchase_order_line
from server.db.schema import sql_tables
from server.domain.procurement import expected_receipts
from server.domain.procurement.receipts import Line, Receipt, check, received
from server.domain.sync.clock import ServerClock
from server.domain.sync.server_writes import ServerWrite, write_as_server
from shared.values import to_wire
from sync.protocol import Change, Rejection

__all__ = ["TABLE", "load_lines", "receive_goods"]

TABLE = "goods_receipt"
ZERO = Decimal(0)
_MOVES = uuid.UUID("6d0e6f8c-3a57-4b8e-9d1c-2f0b6a4e9c11")  # names a receipt's stock move after it

product = sql_tables["product"]
warehouse = sql_tables["warehouse"]


def load_lines(conn: Connection, line_ids: Sequence[str], *, lock: bool) -> dict[str, Line]:
    """Purchase order lines by id, locked for this transaction on PostgreSQL when ``lock``."""
    po = purchase_order_line
    if not line_ids:
        return {}
    stmt = (select(po.c.id, po.c.number, po.c.product_id, po.c.warehouse_id, po.c.qty, po.c.qty_received,
                   po.c.status, product.c.sku, warehouse.c.code)
            .join(product, product.c.id == po.c.product_id)
            .join(warehouse, warehouse.c.id == po.c.warehouse_id)
            .where(po.c.id.in_(sorted(set(line_ids)))).order_by(po.c.id))
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=po)
    return {r.id: Line(r.id, r.number, r.sku or "?", r.product_id, r.warehouse_id, r.code or "?", r.qty,
                       r.qty_received or ZERO, r.status) for r in conn.execute(stmt)}


def _receipt(row: dict[str, Any]) -> Receipt:
    return Receipt(id=row["id"], receipt_id=row["receipt_id"], product_id=row["product_id"],
                   warehouse_id=row["warehouse_id"], qty_accepted=row["qty_accepted"],
                   qty_rejected=row.get("qty_rejected") or ZERO, reject_reason=row.get("reject_reason"))


def receive_goods(conn: Connection, clock: ServerClock, settings: Settings,
                        changes: Sequence[Change], rows: list[dict[str, Any]]
                        ) -> tuple[list[dict[str, Any]], dict[int, Rejection]]:
    """Check the batch's new ``goods_receipt`` rows (as the push would store them) and book the
    ones that pass. Returns the rows to store and the rejections by seq."""
    seq_of: dict[str, int] = {}
    for c in changes:  # the first change of a pk is the one the push kept (a later one is a re-send)
        if c.table == TABLE:
            seq_of.setdefault(c.pk, c.seq)
    rows = sorted(rows, key=lambda r: seq_of.get(r["id"], 0))
    lines = load_lines(conn, [r["receipt_id"] for r in rows], lock=True)
    before = dict(lines)
    kept: list[dict[str, Any]] = []
    refused: dict[int, Rejection] = {}
    moves: list[ServerWrite] = []
    for row in rows:
        r = _receipt(row)
        line = lines.get(r.receipt_id)
        why = check(line, r, settings.receipt_tolerance_pct)
        if why is not None or line is None:
            seq = seq_of[r.id]
            refused[seq] = Rejection(seq=seq, reason="forbidden" if why and why.forbidden else "invalid_value",
                                     detail=why.text if why else "unknown_receipt")
            continue
        lines[line.id] = received(line, r)
        kept.append(row)
        if r.qty_accepted > 0:
            moves.append(ServerWrite("stock_move", str(uuid.uuid5(_MOVES, r.id)), {
                "product_id": r.product_id, "warehouse_id": r.warehouse_id, "qty": to_wire(r.qty_accepted),
                "kind": "receipt", "ref": line.number, "reason": f"goods receipt {r.id}"}))
    changed = [ln for lid, ln in lines.items() if ln != before[lid]]
    for ln in changed:
        conn.execute(update(purchase_order_line).where(purchase_order_line.c.id == ln.id)
                           .values(qty_received=ln.qty_received, status=ln.status))
    writes = moves + expected_receipts.stale(conn, [ln.id for ln in changed]) if changed else moves
    if writes:
        write_as_server(conn, clock, writes)
    return kept, refused
