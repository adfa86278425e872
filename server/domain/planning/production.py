"""Production orders from sales orders in one step (ERPNext's 批量新增生产任务单).

``from_sales_orders`` takes sales order numbers and, in ONE write transaction:

1. checks every order: it exists (live), is ``submitted`` or ``confirmed``, has a warehouse and
   a due date, and has at least one open line (qty > 0) of a live ``make`` product; any failure
   refuses the whole request (4xx) and writes nothing;
2. groups the make lines: with ``combine`` (the default) one production order per
   (product, warehouse, due date) over all the orders given, which is what Odoo does not do
   (odoo/odoo#64124: one manufacturing order per sales order, never merged); without it, one
   production order per sales order line;
3. numbers the production orders ``PO-MFG-000001``, ... from a sequence kept in the database
   (``planning_sequence``), unique across server processes, skipping a number that an import
   already used;
4. stores them (status ``planned``, due on the sales order's due date, in its warehouse, for the
   full line quantity: stock is MRP's business, this is make-to-order), each with a
   ``production_order_peg`` row per sales order it serves and the quantity it serves;
5. moves each sales order's status to ``scheduled`` with a server write, so it reaches the
   sales rep's device on its next pull like any other change.

Concurrent requests for the same order cannot both succeed: the orders' rows are locked
(``FOR UPDATE`` on PostgreSQL; SQLite write transactions are serialised by ``BEGIN IMMEDIATE``)
before their status is read. Production orders are scheduled receipts in the next MRP run, and
the sales orders stay demand until shipped (``load.OPEN_SALES_STATES``), so the receipt covers
the order instead of showing as free stock.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import uuid_utils
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.masterdata import production_order
from server.db.planning_schema import planning_sequence, production_order_peg
from server.db.retry import retrying
from server.db.schema import sql_tables
from server.domain.planning.load import live
from server.domain.planning.render import qty_text
from server.domain.sync.clock import ServerClock
from server.domain.sync.principal import Principal
from server.domain.sync.server_writes import ServerWrite, write_as_server
from shared.errors import Conflict, Forbidden, NotFound

__all__ = [
    "SCHEDULABLE_STATES",
    "CreatedOrder",
    "FromSalesOrders",
    "FromSalesOrdersResult",
    "from_sales_orders",
    "next_numbers",
]

SCHEDULABLE_STATES = ("submitted", "confirmed")
SCHEDULED = "scheduled"
SEQUENCE = "production_order"
NUMBER_FORMAT = "PO-MFG-{:06d}"

OrderNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]

sales_order = sql_tables["sales_order"]
sales_order_line = sql_tables["sales_order_line"]
product = sql_tables["product"]
warehouse = sql_tables["warehouse"]


class FromSalesOrders(msgspec.Struct, forbid_unknown_fields=True):
    orders: Annotated[list[OrderNumber], msgspec.Meta(min_length=1, max_length=500)]
    combine: bool = True  # one production order per product, warehouse and due date


class PegOut(msgspec.Struct):
    sales_order: str
    qty: str


class CreatedOrder(msgspec.Struct):
    id: str
    number: str
    sku: str
    warehouse: str
    qty: str
    due_date: str
    status: str
    pegging: list[PegOut]


class ScheduledOrder(msgspec.Struct):
    number: str
    status: str


class FromSalesOrdersResult(msgspec.Struct):
    production_orders: list[CreatedOrder]
    sales_orders: list[ScheduledOrder]


@dataclass(frozen=True)
class _Line:
    order_id: str
    order_number: str
    product_id: str
    sku: str
    warehouse_id: str
    warehouse_code: str
    due: dt.date
    qty: Decimal
    line_id: str


async def next_numbers(conn: AsyncConnection, name: str, n: int) -> list[int]:
    """Take ``n`` consecutive numbers of the sequence ``name`` (starting at 1) in the caller's
    write transaction: one upsert that returns the new high-water mark."""
    t = planning_sequence
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(t)
    stmt = (ins.values(name=name, value=n)
            .on_conflict_do_update(index_elements=[t.c.name], set_={"value": t.c.value + n})
            .returning(t.c.value))
    last = int((await conn.execute(stmt)).scalar_one())
    return list(range(last - n + 1, last + 1))


async def _new_numbers(conn: AsyncConnection, n: int) -> list[str]:
    """``n`` production order numbers no row holds yet."""
    out: list[str] = []
    while len(out) < n:
        want = [NUMBER_FORMAT.format(i) for i in await next_numbers(conn, SEQUENCE, n - len(out))]
        taken = set((await conn.execute(select(production_order.c.number)
                                        .where(production_order.c.number.in_(want)))).scalars())
        out += [w for w in want if w not in taken]
    return out


async def _orders(conn: AsyncConnection, numbers: list[str]) -> dict[str, Any]:
    """Live sales orders by number, locked for this transaction; refuses unknown or ambiguous."""
    stmt = (select(sales_order.c.id, sales_order.c.number, sales_order.c.status,
                   sales_order.c.warehouse_id, sales_order.c.due_date)
            .where(live(sales_order), sales_order.c.number.in_(numbers))
            .order_by(sales_order.c.id))
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found: dict[str, list[Any]] = defaultdict(list)
    for r in await conn.execute(stmt):
        found[r.number].append(r)
    unknown = [n for n in numbers if n not in found]
    if unknown:
        raise NotFound(f"unknown sales order{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                       code="unknown_sales_order")
    ambiguous = [n for n in numbers if len(found[n]) > 1]
    if ambiguous:
        raise Conflict(f"more than one sales order is numbered {', '.join(ambiguous)}",
                       code="ambiguous_sales_order")
    return {n: found[n][0] for n in numbers}


async def _make_lines(conn: AsyncConnection, orders: dict[str, Any]) -> list[_Line]:
    by_id = {r.id: r for r in orders.values()}
    ln, p, w = sales_order_line, product, warehouse
    codes = {r.id: r.code for r in await conn.execute(
        select(w.c.id, w.c.code).where(live(w), w.c.id.in_([r.warehouse_id for r in by_id.values()
                                                             if r.warehouse_id])))}
    rows = await conn.execute(
        select(ln.c.id, ln.c.order_id, ln.c.product_id, ln.c.qty, p.c.sku)
        .join(p, p.c.id == ln.c.product_id)
        .where(live(ln), live(p), p.c.kind == "make", p.c.sku.is_not(None),
               ln.c.order_id.in_(list(by_id)))
        .order_by(ln.c.order_id, ln.c.id))
    lines: list[_Line] = []
    for r in rows:
        if r.qty is None or r.qty <= 0:
            continue
        o = by_id[r.order_id]
        lines.append(_Line(o.id, o.number, r.product_id, r.sku, o.warehouse_id,
                           codes.get(o.warehouse_id, ""), o.due_date, r.qty, r.id))
    return lines


def _check(numbers: list[str], orders: dict[str, Any], lines: list[_Line],
           codes_known: set[str]) -> None:
    """Refuse (Conflict) the request when any order cannot be scheduled; name every such order."""
    with_make = {ln.order_number for ln in lines}
    problems: list[str] = []
    for n in numbers:
        o = orders[n]
        if o.status not in SCHEDULABLE_STATES:
            problems.append(f"{n} is {o.status or 'without a status'} (only submitted or "
                            "confirmed orders can be scheduled)")
        elif n not in with_make:
            problems.append(f"{n} has no open line of a make product")
        elif o.warehouse_id not in codes_known:
            problems.append(f"{n} has no (live) warehouse")
        elif o.due_date is None:
            problems.append(f"{n} has no due date")
    if problems:
        raise Conflict("; ".join(problems), code="not_schedulable")


async def from_sales_orders(db: Database, clock: ServerClock, principal: Principal,
                            req: FromSalesOrders, now: dt.datetime) -> FromSalesOrdersResult:
    """Create the production orders for ``req.orders`` and schedule them (module docstring).
    The transaction is retried whole if the database reports a deadlock."""
    if not principal.is_backoffice:
        raise Forbidden("only the back office may create production orders")
    numbers = list(dict.fromkeys(req.orders))

    async def attempt() -> FromSalesOrdersResult:
        async with db.write() as conn:
            return await _schedule(conn, clock, numbers, req.combine, now)

    return await retrying(attempt)


async def _schedule(conn: AsyncConnection, clock: ServerClock, numbers: list[str], combine: bool,
                    now: dt.datetime) -> FromSalesOrdersResult:
    orders = await _orders(conn, numbers)
    lines = await _make_lines(conn, orders)
    _check(numbers, orders, lines, {ln.warehouse_id for ln in lines if ln.warehouse_code})

    groups: dict[tuple[Any, ...], list[_Line]] = defaultdict(list)
    for ln in lines:
        key = (ln.due, ln.sku, ln.warehouse_code, ln.product_id, ln.warehouse_id)
        groups[key if combine else (*key, ln.order_number, ln.line_id)].append(ln)
    keys = sorted(groups)
    new_numbers = await _new_numbers(conn, len(keys))

    created: list[CreatedOrder] = []
    order_rows: list[dict[str, Any]] = []
    peg_rows: list[dict[str, Any]] = []
    for key, number in zip(keys, new_numbers, strict=True):
        group = groups[key]
        first = group[0]
        per_order: dict[str, Decimal] = defaultdict(Decimal)
        order_ids: dict[str, str] = {}
        for ln in group:
            per_order[ln.order_number] += ln.qty
            order_ids[ln.order_number] = ln.order_id
        qty = sum(per_order.values(), Decimal(0))
        po_id = str(uuid_utils.uuid7())
        order_rows.append({"id": po_id, "number": number, "product_id": first.product_id,
                           "qty": qty, "due_date": first.due, "warehouse_id": first.warehouse_id,
                           "status": "planned", "created_at": now})
        peg_rows += [{"id": str(uuid_utils.uuid7()), "production_order_id": po_id,
                      "sales_order_id": order_ids[so], "sales_order_number": so, "qty": q}
                     for so, q in per_order.items()]
        created.append(CreatedOrder(
            po_id, number, first.sku, first.warehouse_code, qty_text(qty), first.due.isoformat(),
            "planned", [PegOut(so, qty_text(q)) for so, q in per_order.items()]))
    await conn.execute(production_order.insert(), order_rows)
    await conn.execute(production_order_peg.insert(), peg_rows)
    await conn.run_sync(write_as_server, clock, [ServerWrite("sales_order", orders[n].id, {"status": SCHEDULED})
                                        for n in numbers])
    return FromSalesOrdersResult(created, [ScheduledOrder(n, SCHEDULED) for n in numbers])
