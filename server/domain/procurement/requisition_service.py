"""Purchase requisitions, stored: made from a kept MRP run, listed, read and edited by the back
office until they are approved (``purchase_orders.approve``).

Every write is one transaction. A requisition is locked before it is read for a change
(``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), so an edit racing
an approval either lands before it or is refused after it. Numbers (``PR-000001``) come from
``planning_sequence``, unique across server processes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import uuid_utils
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.masterdata import purchase_order_line, supplier
from server.db.planning_schema import mrp_run
from server.db.procurement_schema import po_line_terms, requisition, requisition_line
from server.db.retry import retrying
from server.db.schema import sql_tables
from server.domain.planning.load import live
from server.domain.planning.render import price_text, qty_text
from server.domain.procurement.numbering import unused_numbers
from server.domain.procurement.requisitions import PlannedBuy, by_supplier, planned_buys
from server.domain.sync.principal import Principal
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.values import ColType, ValueError_, coerce, utc_text

__all__ = [
    "FromRun",
    "LineEdit",
    "RequisitionLineOut",
    "RequisitionOut",
    "edit_line",
    "from_run",
    "get_requisition",
    "guard",
    "key",
    "list_requisitions",
    "lock_requisition",
    "orders_of",
    "remove_line",
    "requisition_out",
]

NUMBER_FORMAT = "PR-{:06d}"
SEQUENCE = "requisition"
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(9000, 12, 31)

product = sql_tables["product"]
warehouse = sql_tables["warehouse"]

Text64 = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class FromRun(msgspec.Struct, forbid_unknown_fields=True):
    run_id: Text64


class LineEdit(msgspec.Struct, forbid_unknown_fields=True):
    """The fields to change; the ones left out stay as they are."""

    qty: str | None = None  # a decimal as text, > 0
    unit_price: str | None = None  # a decimal as text, >= 0
    due_date: dt.date | None = None
    supplier: Text64 | None = None  # a supplier code: the line moves to that supplier's requisition


class RequisitionLineOut(msgspec.Struct):
    id: str
    sku: str
    warehouse: str
    kind: str
    qty: str
    unit_price: str | None
    order_date: str
    due_date: str
    late: bool


class RequisitionOut(msgspec.Struct):
    number: str
    status: str
    supplier: str | None
    supplier_name: str | None
    run_id: str
    created_at: str
    approved_at: str | None
    approved_by: str | None
    purchase_orders: list[str]
    lines: list[RequisitionLineOut]


def key(text: str) -> str:
    """A name to look a row up by, as the database can compare it: at most 64 characters, a NUL
    (which PostgreSQL text cannot hold) replaced by U+FFFD as push stores such text."""
    return text[:64].replace("\x00", "\ufffd")


def guard(principal: Principal) -> None:
    if not principal.is_backoffice:
        raise Forbidden("only the back office may work with requisitions, purchase orders and scorecards")


def _utc_text(t: dt.datetime | None) -> str | None:
    return None if t is None else utc_text(t)


def decimal_field(name: str, raw: str, *, positive: bool) -> Decimal:
    try:
        value: Decimal = coerce(ColType.DECIMAL, raw, nullable=False)
    except ValueError_ as exc:
        raise InvalidInput(f"{name}: {exc}", code="invalid_value") from None
    if value < 0 or (positive and value == 0):
        raise InvalidInput(f"{name} must be {'more than' if positive else 'at least'} 0, got {raw}",
                           code="invalid_value")
    return value


# ---- reading ----------------------------------------------------------------------------------


async def orders_of(conn: AsyncConnection, requisition_ids: Sequence[str]) -> dict[str, list[str]]:
    """Purchase order numbers by the requisition they were approved from."""
    out: dict[str, set[str]] = defaultdict(set)
    if requisition_ids:
        for r in await conn.execute(
                select(po_line_terms.c.requisition_id, purchase_order_line.c.number)
                .join(purchase_order_line, purchase_order_line.c.id == po_line_terms.c.po_line_id)
                .where(po_line_terms.c.requisition_id.in_(list(requisition_ids)))):
            out[r.requisition_id].add(r.number)
    return {k: sorted(v) for k, v in out.items()}


async def requisition_out(conn: AsyncConnection, rows: Sequence[Any]) -> list[RequisitionOut]:
    """The given ``requisition`` rows with their lines and purchase orders, in the rows' order."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    ln, p, w = requisition_line, product, warehouse
    lines: dict[str, list[RequisitionLineOut]] = {i: [] for i in ids}
    for r in await conn.execute(
            select(ln, p.c.sku, w.c.code).join(p, p.c.id == ln.c.product_id).join(w, w.c.id == ln.c.warehouse_id)
            .where(ln.c.requisition_id.in_(ids)).order_by(ln.c.due_date, p.c.sku, w.c.code, ln.c.id)):
        lines[r.requisition_id].append(RequisitionLineOut(
            r.id, r.sku, r.code, r.kind, qty_text(r.qty), None if r.unit_price is None else price_text(r.unit_price),
            r.order_date.isoformat(), r.due_date.isoformat(), bool(r.late)))
    suppliers = {r.id: r for r in await conn.execute(
        select(supplier.c.id, supplier.c.code, supplier.c.name)
        .where(supplier.c.id.in_([r.supplier_id for r in rows if r.supplier_id])))}
    pos = await orders_of(conn, ids)
    out = []
    for r in rows:
        s = suppliers.get(r.supplier_id)
        out.append(RequisitionOut(r.number, r.status, s.code if s else None, s.name if s else None, r.run_id,
                                  _utc_text(r.created_at) or "", _utc_text(r.approved_at), r.approved_by,
                                  pos.get(r.id, []), lines[r.id]))
    return out


async def list_requisitions(db: Database, principal: Principal, status: str | None,
                            run_id: str | None, limit: int) -> list[RequisitionOut]:
    """Requisitions, newest first, optionally of one status or one run."""
    guard(principal)
    stmt = select(requisition).order_by(requisition.c.created_at.desc(), requisition.c.number.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(requisition.c.status == status)
    if run_id is not None:
        stmt = stmt.where(requisition.c.run_id == key(run_id))
    async with db.read() as conn:
        return await requisition_out(conn, (await conn.execute(stmt)).all())


async def get_requisition(db: Database, principal: Principal, number: str) -> RequisitionOut:
    guard(principal)
    async with db.read() as conn:
        row = (await conn.execute(select(requisition).where(requisition.c.number == key(number)))).one_or_none()
        if row is None:
            raise NotFound(f"there is no requisition {number[:64]!r}", code="unknown_requisition")
        return (await requisition_out(conn, [row]))[0]


# ---- from a run ---------------------------------------------------------------------------------


async def _new_numbers(conn: AsyncConnection, n: int) -> list[str]:
    return await unused_numbers(conn, SEQUENCE, NUMBER_FORMAT, requisition.c.number, n)


async def _ids_by(conn: AsyncConnection, table: Any, column: Any, keys: set[str], what: str) -> dict[str, str]:
    found: dict[str, str] = {}
    if keys:
        conds = [column.in_(sorted(keys))] + ([live(table)] if "_deleted" in table.c else [])
        for r in await conn.execute(select(table.c.id, column.label("key")).where(*conds).order_by(table.c.id)):
            found.setdefault(r.key, r.id)
    missing = sorted(keys - found.keys())
    if missing:
        raise Conflict(f"the run names {what} that no longer exist: {', '.join(missing[:20])}; run MRP again",
                       code="stale_run")
    return found


async def from_run(db: Database, principal: Principal, req: FromRun, now: dt.datetime) -> list[RequisitionOut]:
    """One draft requisition per supplier from the run's buy and subcontract orders. A run gives
    requisitions once (409 ``already_requisitioned`` after that)."""
    guard(principal)

    async def attempt() -> list[RequisitionOut]:
        async with db.write() as conn:
            stmt = select(mrp_run.c.id, mrp_run.c.plan).where(mrp_run.c.id == key(req.run_id))
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            run = (await conn.execute(stmt)).one_or_none()
            if run is None:
                raise NotFound(f"there is no MRP run {req.run_id!r}", code="unknown_run")
            done = (await conn.execute(select(requisition.c.number).where(requisition.c.run_id == run.id)
                                       .order_by(requisition.c.number))).scalars().all()
            if done:
                raise Conflict(f"run {run.id} already gave requisitions {', '.join(done)}; edit those, or run "
                               "MRP again for a new plan", code="already_requisitioned")
            groups = by_supplier(planned_buys(msgspec.json.decode(run.plan)["planned_orders"]))
            if not groups:
                raise Conflict(f"run {run.id} plans nothing to buy or subcontract", code="nothing_to_requisition")
            rows = await _create(conn, run.id, groups, now)
            return await requisition_out(conn, rows)

    return await retrying(attempt)


async def _create(conn: AsyncConnection, run_id: str, groups: dict[str | None, list[PlannedBuy]],
                  now: dt.datetime) -> list[Any]:
    buys = [b for g in groups.values() for b in g]
    products = await _ids_by(conn, product, product.c.sku, {b.sku for b in buys}, "products")
    warehouses = await _ids_by(conn, warehouse, warehouse.c.code, {b.warehouse for b in buys}, "warehouses")
    suppliers = await _ids_by(conn, supplier, supplier.c.code, {k for k in groups if k is not None}, "suppliers")
    numbers = await _new_numbers(conn, len(groups))
    heads, lines = [], []
    for (code, group), number in zip(groups.items(), numbers, strict=True):
        rid = str(uuid_utils.uuid7())
        heads.append({"id": rid, "number": number, "run_id": run_id, "supplier_id": suppliers.get(code) if code else None,
                      "status": "draft", "created_at": now, "approved_at": None, "approved_by": None})
        lines += [{"id": str(uuid_utils.uuid7()), "requisition_id": rid, "product_id": products[b.sku],
                   "warehouse_id": warehouses[b.warehouse], "kind": b.kind, "qty": b.qty, "unit_price": b.unit_price,
                   "order_date": b.order_date, "due_date": b.due, "late": b.late} for b in group]
    await conn.execute(requisition.insert(), heads)
    await conn.execute(requisition_line.insert(), lines)
    return list((await conn.execute(select(requisition).where(requisition.c.id.in_([h["id"] for h in heads]))
                                    .order_by(requisition.c.number))).all())


# ---- editing ------------------------------------------------------------------------------------


async def lock_requisition(conn: AsyncConnection, number: str, doing: str) -> Any:
    """The requisition, locked; refused unless it is a draft."""
    stmt = select(requisition).where(requisition.c.number == key(number))
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound(f"there is no requisition {number[:64]!r}", code="unknown_requisition")
    if row.status != "draft":
        raise Conflict(f"requisition {row.number} was approved by {row.approved_by} on "
                       f"{_utc_text(row.approved_at)}; it cannot be {doing}. Change its purchase orders instead",
                       code="requisition_approved")
    return row


async def _line(conn: AsyncConnection, req: Any, line_id: str) -> Any:
    row = (await conn.execute(select(requisition_line).where(
        requisition_line.c.id == key(line_id), requisition_line.c.requisition_id == req.id))).one_or_none()
    if row is None:
        raise NotFound(f"requisition {req.number} has no line {line_id[:64]!r}", code="unknown_line")
    return row


async def _requisition_of_supplier(conn: AsyncConnection, run_id: str, code: str, now: dt.datetime) -> Any:
    """The draft requisition of ``run_id`` for supplier ``code``, made if there is none."""
    s = (await conn.execute(select(supplier.c.id, supplier.c.blocked).where(supplier.c.code == key(code)))).one_or_none()
    if s is None:
        raise InvalidInput(f"there is no supplier {code!r}", code="unknown_supplier")
    found = (await conn.execute(select(requisition).where(
        requisition.c.run_id == run_id, requisition.c.supplier_id == s.id, requisition.c.status == "draft")
        .order_by(requisition.c.number).limit(1))).one_or_none()
    if found is not None:
        return found
    rid = str(uuid_utils.uuid7())
    await conn.execute(requisition.insert().values(
        id=rid, number=(await _new_numbers(conn, 1))[0], run_id=run_id, supplier_id=s.id, status="draft",
        created_at=now, approved_at=None, approved_by=None))
    return (await conn.execute(select(requisition).where(requisition.c.id == rid))).one()


async def edit_line(db: Database, principal: Principal, number: str, line_id: str, edit: LineEdit,
                    now: dt.datetime) -> RequisitionOut:
    """Change a draft requisition's line; a new supplier moves the line to that supplier's draft
    requisition of the same run. Returns the requisition that holds the line afterwards."""
    guard(principal)
    values: dict[str, Any] = {}
    if edit.qty is not None:
        values["qty"] = decimal_field("qty", edit.qty, positive=True)
    if edit.unit_price is not None:
        values["unit_price"] = decimal_field("unit_price", edit.unit_price, positive=False)
    if edit.due_date is not None:
        if not EARLIEST <= edit.due_date <= LATEST:
            raise InvalidInput(f"due_date {edit.due_date} is outside {EARLIEST}..{LATEST}", code="invalid_value")
        values["due_date"] = edit.due_date
    if not values and edit.supplier is None:
        raise InvalidInput("name at least one of qty, unit_price, due_date, supplier to change", code="invalid_value")

    async def attempt() -> RequisitionOut:
        async with db.write() as conn:
            req = await lock_requisition(conn, number, "edited")
            line = await _line(conn, req, line_id)
            holder = req
            if edit.supplier is not None:
                holder = await _requisition_of_supplier(conn, req.run_id, edit.supplier, now)
                values["requisition_id"] = holder.id
            if values:
                await conn.execute(update(requisition_line).where(requisition_line.c.id == line.id).values(**values))
            return (await requisition_out(conn, [holder]))[0]

    return await retrying(attempt)


async def remove_line(db: Database, principal: Principal, number: str, line_id: str) -> RequisitionOut:
    guard(principal)

    async def attempt() -> RequisitionOut:
        async with db.write() as conn:
            req = await lock_requisition(conn, number, "edited")
            line = await _line(conn, req, line_id)
            await conn.execute(delete(requisition_line).where(requisition_line.c.id == line.id))
            return (await requisition_out(conn, [req]))[0]

    return await retrying(attempt)
