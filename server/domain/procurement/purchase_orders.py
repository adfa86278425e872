"""Approving a requisition into purchase orders, and listing purchase orders.

``approve`` does in ONE write transaction: lock the requisition (a second approval, or one racing
an edit, is refused with 409 ``requisition_approved``); refuse one without lines or without a
usable supplier; split the lines into purchase orders holding one line per product
(``requisitions.split_into_orders``), numbered ``PO-000001``... from ``planning_sequence``
(skipping numbers an import already used); store them as ``purchase_order_line`` rows (status
``open``), each with the terms it was ordered on (``po_line_terms``: price, order date, kind);
send a subcontract line's components to the subcontractor as ``issue`` stock moves from its
warehouse; and bring every purchase order line's expected receipt (``purchase_receipt``) up to
date. The stock moves and receipts are server writes, so they reach devices by pull.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

import msgspec
import uuid_utils
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.masterdata import bom_line, purchase_order_line, supplier
from server.db.procurement_schema import po_line_terms, requisition, requisition_line
from server.db.retry import retrying
from server.db.schema import sql_tables
from server.domain.planning.render import price_text, qty_text
from server.domain.procurement import expected_receipts
from server.domain.procurement.numbering import unused_numbers
from server.domain.procurement.requisition_service import guard, lock_requisition
from server.domain.procurement.requisitions import Component, components_to_send, split_into_orders
from server.domain.sync.clock import ServerClock
from server.domain.sync.principal import Principal
from server.domain.sync.server_writes import ServerWrite, write_as_server
from shared.errors import Conflict
from shared.values import to_wire

__all__ = [
    "Approved",
    "IssueOut",
    "PurchaseOrderLineOut",
    "PurchaseOrderOut",
    "approve",
    "list_purchase_orders",
]

NUMBER_FORMAT = "PO-{:06d}"
SEQUENCE = "purchase_order"
NINE_PLACES = Decimal("1e-9")  # the most a synced quantity carries; a component sent rounds up

product = sql_tables["product"]
warehouse = sql_tables["warehouse"]


class PurchaseOrderLineOut(msgspec.Struct):
    id: str  # also the id of its expected receipt (``purchase_receipt``) on devices
    sku: str
    warehouse: str
    qty: str
    qty_received: str
    unit_price: str | None
    due_date: str
    status: str
    kind: str | None  # None for lines loaded by ``fieldsync import``


class PurchaseOrderOut(msgspec.Struct):
    number: str
    supplier: str
    supplier_name: str
    ordered_on: str | None
    requisition: str | None
    lines: list[PurchaseOrderLineOut]


class IssueOut(msgspec.Struct):
    purchase_order: str
    product_id: str
    sku: str
    warehouse: str
    qty: str  # sent to the subcontractor (the stock move's quantity is its negative)


class Approved(msgspec.Struct):
    requisition: str
    purchase_orders: list[PurchaseOrderOut]
    issues: list[IssueOut]


async def _purchase_orders(conn: AsyncConnection, numbers: Sequence[str] | None, status: str | None,
                           limit: int = 1000) -> list[PurchaseOrderOut]:
    po, t, s, p, w = purchase_order_line, po_line_terms, supplier, product, warehouse
    stmt = (select(po, t.c.kind, t.c.unit_price, t.c.ordered_on, requisition.c.number.label("req"),
                   s.c.code.label("supplier_code"), s.c.name.label("supplier_name"), p.c.sku, w.c.code.label("wh"))
            .join(s, s.c.id == po.c.supplier_id).join(p, p.c.id == po.c.product_id).join(w, w.c.id == po.c.warehouse_id)
            .outerjoin(t, t.c.po_line_id == po.c.id).outerjoin(requisition, requisition.c.id == t.c.requisition_id)
            .order_by(po.c.number, po.c.due_date, p.c.sku))
    if numbers is not None:
        stmt = stmt.where(po.c.number.in_(list(numbers)))
    if status is not None:  # an order is open while any of its lines is
        stmt = stmt.where(po.c.number.in_(select(po.c.number).where(po.c.status == "open")) if status == "open"
                          else ~po.c.number.in_(select(po.c.number).where(po.c.status == "open")))
    orders: dict[str, PurchaseOrderOut] = {}
    for r in await conn.execute(stmt):
        if r.number not in orders:
            if len(orders) == limit:
                break
            orders[r.number] = PurchaseOrderOut(r.number, r.supplier_code, r.supplier_name,
                                                r.ordered_on.isoformat() if r.ordered_on else None, r.req, [])
        orders[r.number].lines.append(PurchaseOrderLineOut(
            r.id, r.sku, r.wh, qty_text(r.qty), qty_text(r.qty_received or Decimal(0)),
            None if r.unit_price is None else price_text(r.unit_price), r.due_date.isoformat(), r.status, r.kind))
    return list(orders.values())


async def list_purchase_orders(db: Database, principal: Principal, status: str | None,
                               limit: int) -> list[PurchaseOrderOut]:
    """Purchase orders (approved and imported) by number, with their lines."""
    guard(principal)
    async with db.read() as conn:
        return await _purchase_orders(conn, None, status, limit)


async def _new_numbers(conn: AsyncConnection, n: int) -> list[str]:
    return await unused_numbers(conn, SEQUENCE, NUMBER_FORMAT, purchase_order_line.c.number, n)


async def approve(db: Database, clock: ServerClock, principal: Principal, number: str,
                  now: dt.datetime) -> Approved:
    guard(principal)

    async def attempt() -> Approved:
        async with db.write() as conn:
            return await _approve(conn, clock, principal, number, now)

    return await retrying(attempt)


async def _approve(conn: AsyncConnection, clock: ServerClock, principal: Principal, number: str,
                   now: dt.datetime) -> Approved:
    req = await lock_requisition(conn, number, "approved again")
    lines = (await conn.execute(select(requisition_line, product.c.sku, warehouse.c.code.label("wh"))
                                .join(product, product.c.id == requisition_line.c.product_id)
                                .join(warehouse, warehouse.c.id == requisition_line.c.warehouse_id)
                                .where(requisition_line.c.requisition_id == req.id)
                                .order_by(requisition_line.c.due_date, product.c.sku, requisition_line.c.id))).all()
    if not lines:
        raise Conflict(f"requisition {req.number} has no lines left to order", code="empty_requisition")
    if req.supplier_id is None:
        raise Conflict(f"requisition {req.number} has no supplier: give its lines a supplier (PATCH a line with "
                       '{"supplier": "<code>"}) and approve that requisition', code="no_supplier")
    sup = (await conn.execute(select(supplier).where(supplier.c.id == req.supplier_id))).one()
    if sup.blocked:
        raise Conflict(f"supplier {sup.code} is blocked; move the lines of {req.number} to another supplier",
                       code="supplier_blocked")
    orders = split_into_orders(lines, lambda ln: str(ln.product_id))
    numbers = await _new_numbers(conn, len(orders))
    today = now.date()
    po_rows: list[dict[str, Any]] = []
    terms: list[dict[str, Any]] = []
    sub: list[tuple[str, Any]] = []
    for po_number, group in zip(numbers, orders, strict=True):
        for ln in group:
            pid = str(uuid_utils.uuid7())
            po_rows.append({"id": pid, "number": po_number, "supplier_id": req.supplier_id,
                            "product_id": ln.product_id, "qty": ln.qty, "due_date": ln.due_date,
                            "warehouse_id": ln.warehouse_id, "status": "open", "qty_received": Decimal(0)})
            terms.append({"po_line_id": pid, "kind": ln.kind, "unit_price": ln.unit_price, "ordered_on": today,
                          "requisition_id": req.id})
            if ln.kind == "subcontract":
                sub.append((po_number, ln))
    await conn.execute(purchase_order_line.insert(), po_rows)
    await conn.execute(po_line_terms.insert(), terms)
    await conn.execute(update(requisition).where(requisition.c.id == req.id)
                       .values(status="approved", approved_at=now, approved_by=principal.user))
    issues, moves = await _subcontract_issues(conn, sub)
    writes = moves + await conn.run_sync(expected_receipts.stale)  # every line: imported ones appear here too
    if writes:
        await conn.run_sync(write_as_server, clock, writes)
    return Approved(req.number, await _purchase_orders(conn, numbers, None), issues)


async def _subcontract_issues(conn: AsyncConnection, sub: list[tuple[str, Any]]
                              ) -> tuple[list[IssueOut], list[ServerWrite]]:
    """Stock moves sending each subcontract line's components from its warehouse."""
    if not sub:
        return [], []
    boms: dict[str, list[Component]] = defaultdict(list)
    skus: dict[str, str] = {}
    for r in await conn.execute(select(bom_line, product.c.sku).join(product, product.c.id == bom_line.c.component_id)
                                .where(bom_line.c.parent_id.in_({ln.product_id for _, ln in sub}))
                                .order_by(product.c.sku)):
        boms[r.parent_id].append(Component(r.component_id, r.qty_per, r.scrap_pct or Decimal(0)))
        skus[r.component_id] = r.sku
    issues: list[IssueOut] = []
    moves: list[ServerWrite] = []
    for po_number, ln in sub:
        for component, exact in components_to_send(ln.qty, boms[ln.product_id]).items():
            qty = Decimal(qty_text(exact.quantize(NINE_PLACES, ROUND_CEILING)))  # 22.0 -> 22
            issues.append(IssueOut(po_number, component, skus[component], ln.wh, qty_text(qty)))
            moves.append(ServerWrite("stock_move", str(uuid_utils.uuid7()), {
                "product_id": component, "warehouse_id": ln.warehouse_id, "qty": to_wire(-qty), "kind": "issue",
                "ref": po_number, "reason": f"sent to the subcontractor for {ln.sku}"}))
    return issues, moves

