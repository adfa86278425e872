"""Stock availability (ATP) per product and warehouse, kept in the synced ``stock_level`` table
so that a sales rep can quote "can we deliver 40 by Friday?" offline.

For every live product x live warehouse the server writes three figures (docs/kitting.md):

``on_hand``
    From the ``stock_move`` ledger with count semantics (``onhand.py``). It may be negative:
    a negative level means moves were scanned out that were never scanned in, and the back
    office should see that rather than a silent zero.
``available``
    ``on_hand`` minus the quantity on open sales order lines of that product whose order ships
    from that warehouse (open: ``submitted`` up to ``ready``; a shipped order's goods already
    left with a ``delivery`` move). Shown as 0 when the orders ask for more than there is: a
    rep cannot promise a negative quantity, and the shortfall is MRP's business.
``buildable``
    For ``make`` products, the whole units the warehouse's stock of components can build
    through the whole BOM (``planning/kitting.py``); null for other products (and for a make
    product whose BOM cannot be kitted, e.g. a cycle).

:func:`refresh_availability` recomputes these and writes, with :func:`write_as_server`, only the
rows whose figures changed, so devices do not download unchanged rows again. A product's row is
found by (product_id, warehouse_id): the existing row's id is reused, a new pair gets a UUIDv7;
if two rows ever hold one pair, the smallest id is kept and the others are tombstoned. Rows of
deleted products or warehouses are tombstoned. Refreshes are serialised (PostgreSQL: an advisory
transaction lock; SQLite: the write lock), so two processes never create a pair twice.

The push path calls :func:`refresh_touched` with the changes it accepted, after its transaction
commits (:func:`touched_by` says which products, orders and lines they may have moved); start-up
and imports call :func:`refresh_availability` for everything.

This module also loads what the figures need (stock, open sales quantities, the BOM structure),
so the kitting service above it reads the database the same way. Decimal arithmetic happens in
Python, never in SQL (SQLite stores decimals as text).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import uuid_utils
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.masterdata import bom_line
from server.db.retry import retrying
from server.db.schema import sql_tables
from server.domain.inventory.onhand import COUNT, Move, on_hand
from server.domain.planning.kitting import kit
from server.domain.planning.model import BomLine, Item, ItemKind
from server.domain.planning.render import qty_text
from server.domain.sync.clock import ServerClock
from server.domain.sync.server_writes import ServerWrite, write_as_server
from shared.errors import InvalidInput

__all__ = [
    "OPEN_SALES_STATES",
    "Figures",
    "Refreshed",
    "Structure",
    "Touched",
    "live",
    "load_structure",
    "on_hand_by_product_warehouse",
    "open_sales_qty",
    "products_of_orders",
    "refresh_availability",
    "refresh_in",
    "refresh_touched",
    "touched_by",
]

log = logging.getLogger("fieldsync")

OPEN_SALES_STATES = ("submitted", "confirmed", "scheduled", "in_production", "ready")
ZERO = Decimal(0)
_CHUNK = 500
_LOCK_KEY = 0x66730001  # pg_advisory_xact_lock key of the availability refresh ("fs", 1)

product = sql_tables["product"]
warehouse = sql_tables["warehouse"]
stock_move = sql_tables["stock_move"]
stock_level = sql_tables["stock_level"]
sales_order = sql_tables["sales_order"]
sales_order_line = sql_tables["sales_order_line"]

Pair = tuple[str, str]  # (product_id, warehouse_id)
_KINDS = frozenset(k.value for k in ItemKind)


def live(t: Any) -> Any:
    """SQL: the lww row is not deleted (its tombstone is unset or false)."""
    return or_(t.c._deleted.is_(None), t.c._deleted.is_(False))


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    s = sorted(set(ids))
    return [s[i:i + _CHUNK] for i in range(0, len(s), _CHUNK)]


# ---- loading -------------------------------------------------------------------------------


async def on_hand_by_product_warehouse(conn: AsyncConnection, products: Collection[str] | None = None,
                                       warehouse_id: str | None = None) -> dict[Pair, Decimal]:
    """On hand per (product_id, warehouse_id) from the stock ledger, for the given products (all
    when None) and warehouse (all when None). Pairs without moves are absent.

    Only the moves that can matter are read: for a pair with counts, those stamped at or after
    its latest count's ``ts`` (everything earlier is absorbed by that count); for a pair
    without counts, all of them. ``onhand.on_hand`` then applies the exact rule to those."""
    m = stock_move
    out: dict[Pair, Decimal] = {}
    for chunk in ([None] if products is None else _chunks(products)):
        conds: list[Any] = []
        if chunk is not None:
            conds.append(m.c.product_id.in_(chunk))
        if warehouse_id is not None:
            conds.append(m.c.warehouse_id == warehouse_id)
        counts = (select(m.c.product_id, m.c.warehouse_id, func.max(m.c._ts).label("cts"))
                  .where(m.c.kind == COUNT, *conds)
                  .group_by(m.c.product_id, m.c.warehouse_id).subquery())
        rows = await conn.execute(
            select(m.c.id, m.c.product_id, m.c.warehouse_id, m.c.qty, m.c.kind, m.c._ts, m.c._site)
            .select_from(m.outerjoin(counts, and_(counts.c.product_id == m.c.product_id,
                                                  counts.c.warehouse_id == m.c.warehouse_id)))
            .where(or_(counts.c.cts.is_(None), m.c._ts >= counts.c.cts), *conds))
        out.update(on_hand(Move(r.product_id, r.warehouse_id, r.qty, r.kind, r._ts, r._site, r.id)
                           for r in rows if r.qty is not None))
    return out


async def open_sales_qty(conn: AsyncConnection, products: Collection[str] | None = None) -> dict[Pair, Decimal]:
    """Quantity on open sales order lines per (product_id, the order's warehouse_id)."""
    o, ln = sales_order, sales_order_line
    out: dict[Pair, Decimal] = defaultdict(Decimal)
    for chunk in ([None] if products is None else _chunks(products)):
        stmt = (select(ln.c.product_id, o.c.warehouse_id, ln.c.qty)
                .join(o, o.c.id == ln.c.order_id)
                .where(live(o), live(ln), o.c.status.in_(OPEN_SALES_STATES)))
        if chunk is not None:
            stmt = stmt.where(ln.c.product_id.in_(chunk))
        for r in await conn.execute(stmt):
            if r.product_id is not None and r.warehouse_id is not None and r.qty is not None and r.qty > 0:
                out[(r.product_id, r.warehouse_id)] += r.qty
    return dict(out)


async def products_of_orders(conn: AsyncConnection, orders: Collection[str] = (),
                             lines: Collection[str] = ()) -> set[str]:
    """The products on the lines of the given sales orders, and of the given lines (live or
    not)."""
    ln = sales_order_line
    out: set[str] = set()
    for column, ids in ((ln.c.order_id, orders), (ln.c.id, lines)):
        for chunk in _chunks(ids):
            rows = await conn.execute(select(ln.c.product_id).where(column.in_(chunk)))
            out.update(r.product_id for r in rows if r.product_id is not None)
    return out


@dataclass(frozen=True)
class Touched:
    """What a batch of accepted changes may have moved, as :func:`refresh_availability` takes it."""

    products: frozenset[str] = frozenset()
    orders: frozenset[str] = frozenset()
    lines: frozenset[str] = frozenset()
    everything: bool = False  # a warehouse appeared or went: every product gets or loses a row


def touched_by(changes: Iterable[tuple[str, str, Mapping[str, Any]]]) -> Touched | None:
    """From accepted changes ``(table, pk, vals)``, what to refresh; None when nothing that
    availability reads changed. Pure: the push path calls it on the changes it stored."""
    products: set[str] = set()
    orders: set[str] = set()
    lines: set[str] = set()
    everything = False
    for table, pk, vals in changes:
        if table in ("stock_move", "goods_receipt"):  # a goods receipt books a stock move
            if vals.get("product_id"):
                products.add(str(vals["product_id"]))
        elif table == "sales_order_line":
            lines.add(pk)
            if vals.get("product_id"):
                products.add(str(vals["product_id"]))
            if vals.get("order_id"):
                orders.add(str(vals["order_id"]))
        elif table == "sales_order":
            orders.add(pk)
        elif table == "product":
            products.add(pk)
        elif table == "warehouse":
            everything = True
    if not (products or orders or lines or everything):
        return None
    return Touched(frozenset(products), frozenset(orders), frozenset(lines), everything)


async def _parents(conn: AsyncConnection, components: Collection[str]) -> set[str]:
    """Products with a BOM line naming one of ``components`` (live or not)."""
    out: set[str] = set()
    for chunk in _chunks(components):
        rows = await conn.execute(select(bom_line.c.parent_id).where(bom_line.c.component_id.in_(chunk)))
        out.update(r.parent_id for r in rows)
    return out


@dataclass(frozen=True)
class Structure:
    """Live products and the BOM between them, keyed by product id (what kitting needs)."""

    items: dict[str, Item]  # product id -> Item (``Item.sku`` holds the id too)
    bom: dict[str, tuple[BomLine, ...]]  # parent id -> lines, parent/component are ids
    sku: dict[str, str | None]  # product id -> its sku

    def parents(self) -> dict[str, set[str]]:
        up: dict[str, set[str]] = defaultdict(set)
        for parent, lines in self.bom.items():
            for line in lines:
                up[line.component].add(parent)
        return up

    def closure(self, start: Iterable[str], step: Mapping[str, Iterable[str]]) -> set[str]:
        seen = set(start)
        todo = list(seen)
        while todo:
            for nxt in step.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def where_used(self, products: Iterable[str]) -> set[str]:
        """The products and every product that uses one of them, at any depth."""
        return self.closure(products, self.parents())

    def below(self, products: Iterable[str]) -> set[str]:
        """The products and every component of one of them, at any depth."""
        return self.closure(products, {p: [ln.component for ln in ls] for p, ls in self.bom.items()})


async def load_structure(conn: AsyncConnection) -> Structure:
    """Live products (with their kind; no kind reads ``buy``: it cannot be built) and the BOM
    lines between live products."""
    items: dict[str, Item] = {}
    skus: dict[str, str | None] = {}
    for r in await conn.execute(select(product.c.id, product.c.sku, product.c.kind).where(live(product))):
        kind = ItemKind(r.kind) if r.kind in _KINDS else ItemKind.BUY
        items[r.id] = Item(sku=r.id, kind=kind)
        skus[r.id] = r.sku
    lines: dict[str, list[BomLine]] = defaultdict(list)
    for ln in await conn.execute(select(bom_line.c.parent_id, bom_line.c.component_id,
                                        bom_line.c.qty_per, bom_line.c.scrap_pct)):
        if ln.parent_id in items and ln.component_id in items:
            lines[ln.parent_id].append(BomLine(ln.parent_id, ln.component_id, ln.qty_per, ln.scrap_pct or ZERO))
    return Structure(items, {p: tuple(ls) for p, ls in lines.items()}, skus)


# ---- computing and writing -----------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    on_hand: Decimal
    available: Decimal
    buildable: Decimal | None


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did: pairs it recomputed, rows it wrote (new, changed or tombstoned)."""

    pairs: int
    written: int
    ts: int | None  # the stamp of the write, None when nothing changed


def figures(pid: str, wid: str, structure: Structure, stock: Mapping[Pair, Decimal],
            open_qty: Mapping[Pair, Decimal]) -> Figures:
    """The three figures of one product in one warehouse."""
    qty = stock.get((pid, wid), ZERO)
    available = max(qty - open_qty.get((pid, wid), ZERO), ZERO)
    buildable: Decimal | None = None
    if structure.items[pid].kind is ItemKind.MAKE:
        try:
            buildable = kit(pid, wid, structure.items, structure.bom, stock).buildable
        except InvalidInput as exc:  # a BOM cycle, an unbounded kit: no figure, not a failed refresh
            log.warning("no buildable figure for product %s (%s): %s", structure.sku.get(pid), pid, exc.detail)
    return Figures(qty, available, buildable)


def _text(d: Decimal | None) -> str | None:
    return None if d is None else qty_text(d)


def _same(a: Decimal | None, b: Decimal | None) -> bool:
    return a == b if a is not None and b is not None else a is b


async def refresh_in(conn: AsyncConnection, clock: ServerClock, products: Collection[str] | None = None,
                     *, orders: Collection[str] = (), lines: Collection[str] = ()) -> Refreshed:
    """:func:`refresh_availability` in the caller's write transaction."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    structure = await load_structure(conn)
    dead: set[str] = set()
    if products is None:
        targets = set(structure.items)
    else:
        touched = set(products) | await products_of_orders(conn, orders, lines)
        dead = touched - set(structure.items)  # deleted products: their rows are tombstoned...
        touched |= await _parents(conn, dead)  # ...and products that used them lose a component
        targets = structure.where_used(p for p in touched if p in structure.items)
    wids = sorted(r.id for r in await conn.execute(select(warehouse.c.id).where(live(warehouse))))
    needed = structure.below(p for p in targets if structure.items[p].kind is ItemKind.MAKE) | targets
    stock = await on_hand_by_product_warehouse(conn, None if products is None else needed)
    open_qty = await open_sales_qty(conn, None if products is None else targets)

    sl = stock_level
    existing: dict[Pair, list[Any]] = defaultdict(list)
    stmt = select(sl.c.id, sl.c.product_id, sl.c.warehouse_id, sl.c.on_hand, sl.c.available,
                  sl.c.buildable, sl.c._deleted)
    scope = None if products is None else targets | dead
    for chunk in ([None] if scope is None else _chunks(scope)):
        q = stmt if chunk is None else stmt.where(sl.c.product_id.in_(chunk))
        for r in await conn.execute(q):
            existing[(r.product_id, r.warehouse_id)].append(r)

    writes: list[ServerWrite] = []
    wanted = {(p, w) for p in targets for w in wids}
    for pair in sorted(wanted | set(existing)):
        rows = sorted(existing.get(pair, ()), key=lambda r: (bool(r._deleted), r.id))
        keep = rows[0] if rows and pair in wanted else None
        for r in rows:
            if r is not keep and not r._deleted:
                writes.append(ServerWrite("stock_level", r.id, {"_deleted": True}))
        if pair not in wanted:
            continue
        f = figures(pair[0], pair[1], structure, stock, open_qty)
        if keep is None:
            writes.append(ServerWrite("stock_level", str(uuid_utils.uuid7()), {
                "product_id": pair[0], "warehouse_id": pair[1], "on_hand": _text(f.on_hand),
                "available": _text(f.available), "buildable": _text(f.buildable)}))
            continue
        vals: dict[str, Any] = {}
        if keep._deleted:
            vals["_deleted"] = False
        for name, new in (("on_hand", f.on_hand), ("available", f.available), ("buildable", f.buildable)):
            if not _same(getattr(keep, name), new):
                vals[name] = _text(new)
        if vals:
            writes.append(ServerWrite("stock_level", keep.id, vals))
    ts = await conn.run_sync(write_as_server, clock, writes) if writes else None
    return Refreshed(len(wanted), len(writes), ts)


async def refresh_availability(db: Database, clock: ServerClock, products: Collection[str] | None = None,
                               *, orders: Collection[str] = (), lines: Collection[str] = ()) -> Refreshed:
    """Recompute ``stock_level`` and write the rows whose figures changed, in one transaction.

    ``products``: ids of products whose stock, open sales or BOM may have changed (None: every
    product). Every product that uses one of them, at any depth, is recomputed too, since its
    ``buildable`` depends on their stock. ``orders``, ``lines``: ids of sales orders and sales
    order lines that changed; the products on those lines are added to ``products``.
    """

    async def attempt() -> Refreshed:
        async with db.write() as conn:
            return await refresh_in(conn, clock, products, orders=orders, lines=lines)

    return await retrying(attempt)


async def refresh_touched(db: Database, clock: ServerClock,
                          changes: Iterable[tuple[str, str, Mapping[str, Any]]]) -> Refreshed | None:
    """Refresh what accepted changes ``(table, pk, vals)`` may have moved (:func:`touched_by`);
    None when they touched nothing availability reads. Call it after their transaction commits."""
    t = touched_by(changes)
    if t is None:
        return None
    if t.everything:
        return await refresh_availability(db, clock)
    return await refresh_availability(db, clock, t.products, orders=t.orders, lines=t.lines)
