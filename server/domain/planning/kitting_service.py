"""The kitting service behind ``GET /api/v1/planning/kitting``: load one product's BOM, the
stock of its components in one warehouse and the receipts due there, and kit it
(``kitting.py``). Reads only, in one snapshot; the figures are computed fresh from the ledger,
not read from ``stock_level``.

Receipts are what MRP counts as scheduled receipts: open purchase order lines (what is still to
come, ``qty - qty_received``) and production orders ``planned`` or ``released``, each on its due
date in its warehouse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import Decimal

from msgspec import Struct
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.masterdata import production_order, purchase_order_line
from server.db.schema import sql_tables
from server.domain.inventory.availability import (
    Structure,
    live,
    load_structure,
    on_hand_by_product_warehouse,
    open_sales_qty,
)
from server.domain.planning.kitting import KittingDataError, Shortage, kit
from server.domain.planning.lowlevel import BomCycle
from server.domain.planning.model import ItemKind, Receipt
from server.domain.planning.render import qty_text
from server.domain.sync.principal import Principal
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.registry import Role

__all__ = [
    "OPEN_PRODUCTION_STATES",
    "KitLine",
    "KitReport",
    "UnknownProduct",
    "UnknownWarehouse",
    "kitting",
    "load_receipts",
]

OPEN_PRODUCTION_STATES = ("planned", "released")
MAX_NAME = 200
ZERO = Decimal(0)
ALLOWED = (Role.BACKOFFICE, Role.SALES)

warehouse = sql_tables["warehouse"]


class UnknownProduct(NotFound):
    code = "unknown_product"


class UnknownWarehouse(NotFound):
    code = "unknown_warehouse"


class KitLine(Struct):
    """A limiting component: one more unit needs ``required`` of it, there is ``available``."""

    sku: str
    required: str
    available: str
    short: str


class KitReport(Struct):
    sku: str
    warehouse: str  # the warehouse's code
    on_hand: str  # of the product itself
    available: str  # on hand less open sales order lines, never below 0
    buildable: str  # whole units the components in stock can build
    limiting: list[KitLine]  # what runs out for buildable + 1 units
    by: str | None = None  # the date asked for
    buildable_by: str | None = None  # whole units with the receipts due by then
    extra_by: str | None = None  # buildable_by - buildable
    incoming_by: str | None = None  # receipts of the product itself due by then
    limiting_by: list[KitLine] = []


def _name(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_NAME or "\x00" in value:
        raise InvalidInput(f"{what} must be 1 to {MAX_NAME} characters without NUL", code="invalid_query")
    return value


async def _warehouse(conn: AsyncConnection, name: str) -> tuple[str, str]:
    """(id, code) of the live warehouse with this code (or this id)."""
    rows = (await conn.execute(select(warehouse.c.id, warehouse.c.code)
                               .where(live(warehouse), (warehouse.c.code == name) | (warehouse.c.id == name))
                               .order_by(warehouse.c.id))).all()
    by_code = [r for r in rows if r.code == name] or rows
    if not by_code:
        raise UnknownWarehouse(f"there is no warehouse {name!r}")
    return by_code[0].id, by_code[0].code or by_code[0].id


def _product(structure: Structure, sku: str) -> str:
    ids = sorted(pid for pid, s in structure.sku.items() if s == sku)
    if not ids:
        raise UnknownProduct(f"there is no product with sku {sku!r}")
    if len(ids) > 1:
        raise InvalidInput(f"two live products have the sku {sku!r}", code="ambiguous_sku")
    return ids[0]


async def load_receipts(conn: AsyncConnection, products: Collection[str], warehouse_id: str,
                        by: dt.date) -> list[Receipt]:
    """Scheduled receipts of these products into this warehouse due on or before ``by``
    (``Receipt.sku`` holds the product id)."""
    ids = sorted(set(products))
    out: list[Receipt] = []
    po = purchase_order_line
    for r in await conn.execute(
            select(po.c.number, po.c.product_id, po.c.due_date, po.c.qty, po.c.qty_received)
            .where(po.c.status == "open", po.c.warehouse_id == warehouse_id, po.c.due_date <= by,
                   po.c.product_id.in_(ids))):
        left = r.qty - (r.qty_received or ZERO)
        if left > 0:
            out.append(Receipt(r.number, r.product_id, warehouse_id, r.due_date, left))
    mo = production_order
    for o in await conn.execute(
            select(mo.c.number, mo.c.product_id, mo.c.due_date, mo.c.qty)
            .where(mo.c.status.in_(OPEN_PRODUCTION_STATES), mo.c.warehouse_id == warehouse_id,
                   mo.c.due_date <= by, mo.c.product_id.in_(ids))):
        if o.qty > 0:
            out.append(Receipt(o.number, o.product_id, warehouse_id, o.due_date, o.qty))
    return out


def _lines(shortages: tuple[Shortage, ...], structure: Structure) -> list[KitLine]:
    out = [KitLine(structure.sku.get(s.sku) or s.sku, qty_text(s.required), qty_text(s.available),
                   qty_text(s.short)) for s in shortages]
    return sorted(out, key=lambda k: k.sku)


async def kitting(db: Database, principal: Principal, sku: str, warehouse_name: str,
                  by: dt.date | None = None) -> KitReport:
    """How many units of ``sku`` the stock of the warehouse can build, what limits it, and with
    ``by`` what the receipts due by then add. Back office and sales may ask."""
    if principal.role not in ALLOWED:
        raise Forbidden("kitting is for back-office and sales devices")
    sku = _name(sku, "sku")
    warehouse_name = _name(warehouse_name, "warehouse")
    async with db.read() as conn:
        structure = await load_structure(conn)
        wid, code = await _warehouse(conn, warehouse_name)
        pid = _product(structure, sku)
        below = structure.below([pid])
        stock = await on_hand_by_product_warehouse(conn, below, wid)
        open_qty = (await open_sales_qty(conn, [pid])).get((pid, wid), ZERO)
        receipts = await load_receipts(conn, below, wid, by) if by is not None else []
    kind = structure.items[pid].kind
    if kind is not ItemKind.MAKE:
        raise KittingDataError(f"{sku} is a {kind} product; only make products are kitted", code="not_make")
    try:
        result = kit(pid, wid, structure.items, structure.bom, stock, receipts, by)
    except BomCycle as exc:
        raise BomCycle([structure.sku.get(p) or p for p in exc.path]) from None
    on_hand = stock.get((pid, wid), ZERO)
    report = KitReport(
        sku=sku, warehouse=code, on_hand=qty_text(on_hand),
        available=qty_text(max(on_hand - open_qty, ZERO)), buildable=qty_text(result.buildable),
        limiting=_lines(result.limiting, structure))
    if by is not None:
        assert result.buildable_by_date is not None and result.extra_by_date is not None
        report.by = by.isoformat()
        report.buildable_by = qty_text(result.buildable_by_date)
        report.extra_by = qty_text(result.extra_by_date)
        report.incoming_by = qty_text(result.incoming or ZERO)
        report.limiting_by = _lines(result.limiting_by_date, structure)
    return report
