"""Read-only queries the back-office pages need and no domain service offers yet: master data
lists with a filter and pages, a product's BOM and stock, sales orders open for production, and
names for ids. Reads only; every write a page makes goes through a domain service.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, cast, func, or_, select

from server.db.engine import Database
from server.db.masterdata import bom_line, price_agreement, production_order, supplier
from server.db.schema import sql_tables
from server.domain.planning.load import live
from server.domain.planning.production import SCHEDULABLE_STATES

__all__ = [
    "MASTER_KINDS",
    "PAGE_SIZE",
    "BomNode",
    "MasterPage",
    "OpenOrder",
    "ProductDetail",
    "make_products",
    "master_page",
    "open_make_orders",
    "product_detail",
    "production_orders",
    "warehouse_codes",
]

PAGE_SIZE = 50
MAX_BOM_DEPTH = 12  # deeper than any real BOM; guards the page against a cycle in bad data
MAX_QUERY = 100

product, warehouse, customer = sql_tables["product"], sql_tables["warehouse"], sql_tables["customer"]
sales_order, sales_order_line = sql_tables["sales_order"], sql_tables["sales_order_line"]
stock_level = sql_tables["stock_level"]


@dataclass(frozen=True)
class MasterKind:
    columns: tuple[str, ...]  # catalogue keys of the column headings, also the row keys
    searched: tuple[str, ...]  # the columns the filter box matches (case-insensitive substring)


MASTER_KINDS: dict[str, MasterKind] = {
    "products": MasterKind(("sku", "name", "kind", "uom", "lead_time_days", "safety_stock", "lot_rule",
                            "lot_qty", "standard_cost", "barcode"), ("sku", "name", "barcode")),
    "customers": MasterKind(("code", "name", "owner", "phone", "address"), ("code", "name", "owner", "address")),
    "suppliers": MasterKind(("code", "name", "capacity_per_week", "blocked"), ("code", "name")),
    "price-agreements": MasterKind(("supplier", "sku", "kind", "min_qty", "unit_price", "valid_from", "valid_to",
                                    "priority", "lead_time_days"), ("supplier", "sku")),
    "warehouses": MasterKind(("code", "name"), ("code", "name")),
}


def _select(kind: str) -> Select[Any]:
    p, w, c, s, a = product, warehouse, customer, supplier, price_agreement
    if kind == "products":
        return select(p.c.sku, p.c.name, p.c.kind, p.c.uom, p.c.lead_time_days, p.c.safety_stock, p.c.lot_rule,
                      p.c.lot_qty, p.c.standard_cost, p.c.barcode).where(live(p)).order_by(p.c.sku, p.c.id)
    if kind == "customers":
        return (select(c.c.code, c.c.name, c.c.owner, c.c.phone, c.c.address).where(live(c))
                .order_by(c.c.code, c.c.id))
    if kind == "suppliers":
        return select(s.c.code, s.c.name, s.c.capacity_per_week, s.c.blocked).order_by(s.c.code)
    if kind == "price-agreements":
        return (select(s.c.code.label("supplier"), p.c.sku, a.c.kind, a.c.min_qty, a.c.unit_price,
                       a.c.valid_from, a.c.valid_to, a.c.priority, a.c.lead_time_days)
                .join(s, s.c.id == a.c.supplier_id).join(p, p.c.id == a.c.product_id)
                .order_by(s.c.code, p.c.sku, a.c.kind, a.c.valid_from, cast(a.c.min_qty, Float), a.c.id))
    assert kind == "warehouses"
    return select(w.c.code, w.c.name).where(live(w)).order_by(w.c.code, w.c.id)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class MasterPage:
    kind: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    query: str
    page: int  # from 1
    more: bool


async def master_page(db: Database, kind: str, query: str, page: int) -> MasterPage:
    """One page of a kind's rows whose searched columns contain ``query`` (any case)."""
    spec = MASTER_KINDS[kind]
    query = query.replace("\x00", "").strip()[:MAX_QUERY]  # PostgreSQL text cannot hold NUL
    stmt = _select(kind)
    if query:
        by_name = {c.name: c for c in stmt.selected_columns}
        matches: list[ColumnElement[bool]] = [func.lower(by_name[n]).like(_like(query), escape="\\")
                                              for n in spec.searched]
        stmt = stmt.where(or_(*matches))
    stmt = stmt.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    async with db.read() as conn:
        rows = [dict(r) for r in (await conn.execute(stmt)).mappings()]
    return MasterPage(kind, spec.columns, rows[:PAGE_SIZE], query, page, len(rows) > PAGE_SIZE)


# ---- a product: its BOM, all levels, and its stock --------------------------------------------


@dataclass(frozen=True)
class BomNode:
    depth: int  # 1 = a direct component
    sku: str
    name: str
    kind: str
    qty_per: Decimal  # per one parent
    scrap_pct: Decimal
    total: Decimal  # per one unit of the product at the top, scrap included


@dataclass(frozen=True)
class ProductDetail:
    row: dict[str, Any]
    bom: list[BomNode]
    used_in: list[str]  # skus of the parents that take it
    stock: list[dict[str, Any]]  # warehouse, on_hand, available, buildable


async def product_detail(db: Database, sku: str) -> ProductDetail | None:
    if "\x00" in sku:  # no SKU holds one, and PostgreSQL refuses it in a query
        return None
    p = product
    async with db.read() as conn:
        row = (await conn.execute(select(p.c.id, p.c.sku, p.c.name, p.c.kind, p.c.uom, p.c.lead_time_days,
                                         p.c.safety_stock, p.c.lot_rule, p.c.lot_qty, p.c.standard_cost,
                                         p.c.barcode).where(live(p), p.c.sku == sku[:200])
                                  .order_by(p.c.id))).mappings().first()
        if row is None:
            return None
        names = {r.id: r for r in await conn.execute(select(p.c.id, p.c.sku, p.c.name, p.c.kind).where(live(p)))}
        children: dict[str, list[Any]] = defaultdict(list)
        parents: dict[str, list[str]] = defaultdict(list)
        for b in await conn.execute(select(bom_line.c.parent_id, bom_line.c.component_id, bom_line.c.qty_per,
                                           bom_line.c.scrap_pct)):
            children[b.parent_id].append(b)
            parents[b.component_id].append(b.parent_id)
        w, s = warehouse, stock_level
        stock = [dict(r) for r in (await conn.execute(
            select(w.c.code.label("warehouse"), s.c.on_hand, s.c.available, s.c.buildable)
            .join(w, w.c.id == s.c.warehouse_id)
            .where(live(s), s.c.product_id == row["id"]).order_by(w.c.code))).mappings()]

    bom: list[BomNode] = []

    def walk(parent_id: str, depth: int, factor: Decimal) -> None:
        if depth > MAX_BOM_DEPTH:
            return
        lines = [b for b in children.get(parent_id, []) if b.component_id in names]
        for b in sorted(lines, key=lambda b: names[b.component_id].sku or ""):
            c = names[b.component_id]
            total = factor * b.qty_per * (1 + b.scrap_pct / 100)
            bom.append(BomNode(depth, c.sku or "", c.name or "", c.kind or "", b.qty_per, b.scrap_pct, total))
            walk(b.component_id, depth + 1, total)

    walk(row["id"], 1, Decimal(1))
    used_in = sorted({names[pid].sku or "" for pid in parents.get(row["id"], []) if pid in names})
    return ProductDetail(dict(row), bom, used_in, stock)


# ---- orders -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenOrder:
    number: str
    customer: str
    warehouse: str
    due_date: dt.date | None
    status: str
    owner: str
    lines: list[tuple[str, Decimal]]  # (sku, qty) of its open make lines


async def open_make_orders(db: Database) -> list[OpenOrder]:
    """Sales orders that can get production orders now: live, submitted or confirmed, with at
    least one open line of a make product (what ``production.from_sales_orders`` accepts)."""
    so, ln, p, c, w = sales_order, sales_order_line, product, customer, warehouse
    stmt = (select(so.c.number, so.c.status, so.c.due_date, so.c.owner, c.c.name.label("customer"),
                   w.c.code.label("warehouse"), p.c.sku, ln.c.qty)
            .join(ln, ln.c.order_id == so.c.id).join(p, p.c.id == ln.c.product_id)
            .outerjoin(c, c.c.id == so.c.customer_id).outerjoin(w, w.c.id == so.c.warehouse_id)
            .where(live(so), live(ln), live(p), p.c.kind == "make", so.c.status.in_(SCHEDULABLE_STATES))
            .order_by(so.c.due_date, so.c.number, p.c.sku))
    orders: dict[str, OpenOrder] = {}
    async with db.read() as conn:
        for r in await conn.execute(stmt):
            if r.qty is None or r.qty <= 0:
                continue
            o = orders.get(r.number)
            if o is None:
                o = orders[r.number] = OpenOrder(r.number, r.customer or "", r.warehouse or "", r.due_date,
                                                 r.status, r.owner or "", [])
            o.lines.append((r.sku, r.qty))
    return list(orders.values())


async def production_orders(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """The newest production orders first."""
    m, p, w = production_order, product, warehouse
    async with db.read() as conn:
        rows = await conn.execute(
            select(m.c.number, p.c.sku, m.c.qty, m.c.due_date, w.c.code.label("warehouse"), m.c.status,
                   m.c.created_at)
            .join(p, p.c.id == m.c.product_id).join(w, w.c.id == m.c.warehouse_id)
            .order_by(m.c.created_at.desc(), m.c.number.desc()).limit(limit))
        return [dict(r) for r in rows.mappings()]


# ---- names for the forms ----------------------------------------------------------------------


async def warehouse_codes(db: Database) -> dict[str, str]:
    """id -> code of every live warehouse."""
    async with db.read() as conn:
        rows = await conn.execute(select(warehouse.c.id, warehouse.c.code).where(live(warehouse))
                                  .order_by(warehouse.c.code))
        return {r.id: r.code or r.id for r in rows}


async def make_products(db: Database) -> list[tuple[str, str]]:
    """(sku, name) of the live make products that have a BOM, for the kitting form."""
    p = product
    async with db.read() as conn:
        rows = await conn.execute(select(p.c.sku, p.c.name).distinct()
                                  .join(bom_line, bom_line.c.parent_id == p.c.id)
                                  .where(live(p), p.c.kind == "make").order_by(p.c.sku))
        return [(r.sku, r.name or "") for r in rows]
