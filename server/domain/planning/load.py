"""From the database to the plain data MRP plans: ``load_planning_input`` and ``load_agreements``
(``load_planning``: both, reading products once).

Reads only, in the caller's transaction (give it one snapshot, see ``runs.snapshot``), and
knows the rules of what counts; the planner itself never sees a row. Products and warehouses
are named by ``sku`` and ``code``; deleted rows (``_deleted``) are gone from planning, and so is
anything that references one (a BOM line, a demand, stock, a receipt of a deleted product or in
a deleted warehouse). Decimal arithmetic happens here in Python, never in SQL (SQLite stores
decimals as text).

What counts (docs/planning.md repeats this for users):

- Items: live products with a ``sku`` and a ``kind``; no lead time reads 0, no safety stock 0,
  no lot rule ``lot_for_lot``.
- Stock: on hand per (sku, warehouse code) from the ``stock_move`` ledger with count semantics
  (``server.domain.inventory.onhand``).
- Sales demand: every line (qty > 0) of a live sales order whose status is in
  ``OPEN_SALES_STATES``: submitted up to ready. A draft is not an order yet; a shipped order's
  goods left with a ``delivery`` stock move, so it no longer needs stock; cancelled is gone.
  An order stays demand while ``scheduled``/``in_production``/``ready``: the production orders
  made for it are scheduled receipts (supply), so the order must stay the requirement they
  cover, else its goods would show as free stock. The demand is due on the order's
  ``due_date`` (no date: today) in the order's warehouse, ``ref`` = the order ``number``
  (no number, as on an order a phone has not had numbered: its id).
- Forecasts: every forecast row (qty > 0), ``ref`` = ``forecast:<sku>:<date>``.
- Receipts: open purchase order lines for what is still to come (``qty - qty_received`` > 0),
  ref = the PO number; production orders ``planned`` or ``released``, ref = their number, for
  their qty less what they delivered (``production_in`` moves whose ``ref`` is the order
  number), with what was issued to them (``production_out`` moves whose ``ref`` is the order
  number, negated, per component and whatever the warehouse): MRP plans only what they still
  need of their components; and with the sales orders they were made for
  (``production_order_peg``), which their components' planned orders then serve.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.masterdata import (
    bom_line,
    forecast,
    price_agreement,
    production_order,
    purchase_order_line,
    supplier,
)
from server.db.planning_schema import production_order_peg
from server.db.schema import sql_tables
from server.domain.inventory.onhand import Move, on_hand
from server.domain.planning.model import (
    BomLine,
    Demand,
    DemandKind,
    Item,
    ItemKind,
    LotRule,
    Peg,
    PlanningInput,
    Receipt,
    ReceiptKind,
)
from server.domain.planning.supply import Agreement, AgreementKind
from shared.errors import InvalidInput

__all__ = [
    "OPEN_PRODUCTION_STATES",
    "OPEN_SALES_STATES",
    "forecast_ref",
    "load_agreements",
    "load_planning",
    "load_planning_input",
    "sales_ref",
]

OPEN_SALES_STATES = ("submitted", "confirmed", "scheduled", "in_production", "ready")
OPEN_PRODUCTION_STATES = ("planned", "released")
ZERO = Decimal(0)

product = sql_tables["product"]
warehouse = sql_tables["warehouse"]
sales_order = sql_tables["sales_order"]
sales_order_line = sql_tables["sales_order_line"]
stock_move = sql_tables["stock_move"]


class PlanningLoadError(InvalidInput):
    """Stored data planning cannot read unambiguously (two live products with one sku)."""

    code = "planning_data"


def live(t: Any) -> Any:
    """SQL: the lww row is not deleted (its tombstone is unset or false)."""
    return or_(t.c._deleted.is_(None), t.c._deleted.is_(False))


def forecast_ref(sku: str, date: dt.date) -> str:
    return f"forecast:{sku}:{date.isoformat()}"


def sales_ref(number: str | None, order_id: str) -> str:
    return number if number else order_id


async def _products(conn: AsyncConnection) -> tuple[dict[str, Item], dict[str, str]]:
    """Items by sku, and product id -> sku, of live products with a sku and a kind."""
    rows = await conn.execute(
        select(product.c.id, product.c.sku, product.c.kind, product.c.lead_time_days,
               product.c.safety_stock, product.c.lot_rule, product.c.lot_qty)
        .where(live(product), product.c.sku.is_not(None), product.c.kind.is_not(None))
        .order_by(product.c.sku, product.c.id))
    items: dict[str, Item] = {}
    sku_of: dict[str, str] = {}
    for r in rows:
        if r.sku in items:
            raise PlanningLoadError(f"two live products have the sku {r.sku!r}; planning needs one")
        items[r.sku] = Item(
            sku=r.sku, kind=ItemKind(r.kind), lead_time_days=int(r.lead_time_days or 0),
            safety_stock=r.safety_stock if r.safety_stock is not None else ZERO,
            lot_rule=LotRule(r.lot_rule) if r.lot_rule else LotRule.LOT_FOR_LOT,
            lot_qty=r.lot_qty)
        sku_of[r.id] = r.sku
    return items, sku_of


async def _warehouses(conn: AsyncConnection) -> dict[str, str]:
    """Warehouse id -> code, of live warehouses with a code."""
    rows = await conn.execute(select(warehouse.c.id, warehouse.c.code)
                              .where(live(warehouse), warehouse.c.code.is_not(None)))
    return {r.id: r.code for r in rows}


async def _bom(conn: AsyncConnection, sku_of: Mapping[str, str]) -> dict[str, tuple[BomLine, ...]]:
    rows = await conn.execute(select(bom_line.c.parent_id, bom_line.c.component_id,
                                     bom_line.c.qty_per, bom_line.c.scrap_pct))
    lines: dict[str, list[BomLine]] = defaultdict(list)
    for r in rows:
        parent, comp = sku_of.get(r.parent_id), sku_of.get(r.component_id)
        if parent is None or comp is None:
            continue
        lines[parent].append(BomLine(parent, comp, r.qty_per, r.scrap_pct or ZERO))
    return {p: tuple(sorted(ls, key=lambda ln: ln.component)) for p, ls in sorted(lines.items())}


# (production order number, product id) -> qty: components issued to it, or goods it delivered
Booked = dict[tuple[str, str], Decimal]


async def _stock(conn: AsyncConnection, sku_of: Mapping[str, str],
                 code_of: Mapping[str, str]) -> tuple[dict[tuple[str, str], Decimal], Booked, Booked]:
    """On hand per (sku, warehouse code); and, from the moves whose ``ref`` names a production
    order, what was issued to it (``production_out``, negated) and what it delivered
    (``production_in``)."""
    m = stock_move
    result = await conn.execute(select(m.c.id, m.c.product_id, m.c.warehouse_id, m.c.qty, m.c.kind,
                                      m.c._ts, m.c._site, m.c.ref))
    moves = []
    issued: Booked = defaultdict(Decimal)
    delivered: Booked = defaultdict(Decimal)
    for r in result:
        if r.qty is None:
            continue
        moves.append(Move(r.product_id, r.warehouse_id, r.qty, r.kind, r._ts, r._site, r.id))
        if r.ref and r.kind == "production_out":
            issued[(r.ref, r.product_id)] -= r.qty
        elif r.ref and r.kind == "production_in":
            delivered[(r.ref, r.product_id)] += r.qty
    out: dict[tuple[str, str], Decimal] = {}
    for (product_id, warehouse_id), qty in on_hand(moves).items():
        sku, code = sku_of.get(product_id), code_of.get(warehouse_id)
        if sku is not None and code is not None:
            out[(sku, code)] = out.get((sku, code), ZERO) + qty
    return dict(sorted(out.items())), issued, delivered


async def _sales_demands(conn: AsyncConnection, today: dt.date, sku_of: Mapping[str, str],
                         code_of: Mapping[str, str]) -> list[Demand]:
    o, ln = sales_order, sales_order_line
    rows = await conn.execute(
        select(o.c.id, o.c.number, o.c.warehouse_id, o.c.due_date, ln.c.id.label("line_id"),
               ln.c.product_id, ln.c.qty)
        .join(o, o.c.id == ln.c.order_id)
        .where(live(o), live(ln), o.c.status.in_(OPEN_SALES_STATES))
        .order_by(o.c.id, ln.c.id))
    out: list[Demand] = []
    for r in rows:
        sku, code = sku_of.get(r.product_id), code_of.get(r.warehouse_id)
        if sku is None or code is None or r.qty is None or r.qty <= 0:
            continue
        out.append(Demand(sales_ref(r.number, r.id), sku, code, r.due_date or today, r.qty,
                          DemandKind.SALES))
    return out


async def _forecasts(conn: AsyncConnection, sku_of: Mapping[str, str],
                     code_of: Mapping[str, str]) -> list[Demand]:
    f = forecast
    rows = await conn.execute(select(f.c.product_id, f.c.warehouse_id, f.c.date, f.c.qty)
                              .order_by(f.c.date, f.c.id))
    out: list[Demand] = []
    for r in rows:
        sku, code = sku_of.get(r.product_id), code_of.get(r.warehouse_id)
        if sku is None or code is None or r.qty <= 0:
            continue
        out.append(Demand(forecast_ref(sku, r.date), sku, code, r.date, r.qty, DemandKind.FORECAST))
    return out


async def _receipts(conn: AsyncConnection, sku_of: Mapping[str, str], code_of: Mapping[str, str],
                    issued: Booked, delivered: Booked) -> list[Receipt]:
    out: list[Receipt] = []
    po = purchase_order_line
    for r in await conn.execute(
            select(po.c.number, po.c.product_id, po.c.warehouse_id, po.c.due_date, po.c.qty,
                   po.c.qty_received)
            .where(po.c.status == "open").order_by(po.c.due_date, po.c.number, po.c.id)):
        sku, code = sku_of.get(r.product_id), code_of.get(r.warehouse_id)
        left = r.qty - (r.qty_received or ZERO)
        if sku is not None and code is not None and left > 0:
            out.append(Receipt(r.number, sku, code, r.due_date, left))
    mo = production_order
    by_order: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for (ref, product_id), q in issued.items():
        comp = sku_of.get(product_id)
        if comp is not None and q > 0:
            by_order[ref].append((comp, q.normalize()))
    open_mo = mo.c.status.in_(OPEN_PRODUCTION_STATES)
    pg = production_order_peg
    pegs: dict[str, list[Peg]] = defaultdict(list)
    for p in await conn.execute(
            select(pg.c.production_order_id, pg.c.sales_order_number, pg.c.qty)
            .join(mo, mo.c.id == pg.c.production_order_id).where(open_mo)
            .order_by(pg.c.production_order_id, pg.c.sales_order_number, pg.c.id)):
        if p.qty > 0:
            pegs[p.production_order_id].append(Peg(p.sales_order_number, p.qty))
    for m in await conn.execute(
            select(mo.c.id, mo.c.number, mo.c.product_id, mo.c.warehouse_id, mo.c.due_date, mo.c.qty)
            .where(open_mo).order_by(mo.c.due_date, mo.c.number)):
        sku, code = sku_of.get(m.product_id), code_of.get(m.warehouse_id)
        left = m.qty - delivered.get((m.number, m.product_id), ZERO)
        if sku is not None and code is not None and left > 0:
            out.append(Receipt(m.number, sku, code, m.due_date, left, ReceiptKind.PRODUCTION,
                               tuple(sorted(by_order.get(m.number, ()))), tuple(pegs.get(m.id, ()))))
    return out


async def load_planning(conn: AsyncConnection, today: dt.date) -> tuple[PlanningInput, list[Agreement]]:
    """``load_planning_input`` and ``load_agreements`` in one go (products read once)."""
    products = await _products(conn)
    return await load_planning_input(conn, today, products), await load_agreements(conn, products[1])


async def load_planning_input(conn: AsyncConnection, today: dt.date,
                              products: tuple[dict[str, Item], dict[str, str]] | None = None) -> PlanningInput:
    """Everything MRP plans from, as stored now (see the module docstring for what counts)."""
    items, sku_of = products or await _products(conn)
    code_of = await _warehouses(conn)
    demands = await _sales_demands(conn, today, sku_of, code_of)
    demands += await _forecasts(conn, sku_of, code_of)
    stock, issued, delivered = await _stock(conn, sku_of, code_of)
    return PlanningInput(
        today=today,
        items=items,
        bom=await _bom(conn, sku_of),
        stock=stock,
        demands=tuple(demands),
        receipts=tuple(await _receipts(conn, sku_of, code_of, issued, delivered)),
    )


async def load_agreements(conn: AsyncConnection, sku_of: Mapping[str, str] | None = None) -> list[Agreement]:
    """Every price agreement line of a live product, with its supplier's code and blocked flag."""
    if sku_of is None:
        _, sku_of = await _products(conn)
    pa, s = price_agreement, supplier
    rows = await conn.execute(
        select(s.c.code, s.c.blocked, pa.c.product_id, pa.c.kind, pa.c.min_qty, pa.c.unit_price,
               pa.c.valid_from, pa.c.valid_to, pa.c.priority, pa.c.lead_time_days)
        .join(s, s.c.id == pa.c.supplier_id)
        .order_by(s.c.code, pa.c.product_id, pa.c.kind, pa.c.valid_from, pa.c.id))
    out: list[Agreement] = []
    for r in rows:
        sku = sku_of.get(r.product_id)
        if sku is None:
            continue
        out.append(Agreement(
            supplier=r.code, sku=sku, kind=AgreementKind(r.kind), min_qty=r.min_qty,
            unit_price=r.unit_price, valid_from=r.valid_from, valid_to=r.valid_to,
            priority=int(r.priority), blocked=bool(r.blocked),
            lead_time_days=None if r.lead_time_days is None else int(r.lead_time_days)))
    out.sort(key=lambda a: (a.sku, a.supplier, a.kind, a.valid_from, a.min_qty))
    return out
