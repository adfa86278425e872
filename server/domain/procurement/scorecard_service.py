"""Supplier scorecards from the database: the purchase order lines due in a window, every goods
receipt against them (dated by the day of its stamp, UTC) and the price agreements, handed to
``scorecards.scorecards``. ``supplier_scores`` is what allocation takes: supplier code -> score.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.masterdata import price_agreement, purchase_order_line, supplier
from server.db.procurement_schema import po_line_terms
from server.db.schema import sql_tables
from server.domain.procurement.requisition_service import guard
from server.domain.procurement.scorecards import (
    AgreedPrice,
    Delivery,
    OrderedLine,
    Scorecard,
    scorecards,
)
from server.domain.sync.principal import Principal
from shared.errors import InvalidInput, NotFound
from sync.hlc import unpack

__all__ = ["ScorecardOut", "load_scorecards", "scorecards_for", "supplier_scores"]

goods_receipt = sql_tables["goods_receipt"]
DEFAULT_DAYS = 365
_CHUNK = 500


class ScorecardOut(msgspec.Struct):
    supplier: str
    supplier_name: str
    window_from: str
    window_to: str
    lines: int
    receipts: int
    on_time_rate: str | None  # fractions 0..1 as decimal text
    quantity_accuracy: str | None
    quality_rate: str | None
    price_variance: str | None  # signed: + paid above the agreement
    score: str | None  # 0..100


def _day(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(unpack(ts)[0] / 1000, dt.UTC).date()


async def load_scorecards(conn: AsyncConnection, start: dt.date, end: dt.date, today: dt.date,
                          supplier_code: str | None = None) -> list[Scorecard]:
    po, t, s = purchase_order_line, po_line_terms, supplier
    stmt = (select(po.c.id, s.c.code, po.c.product_id, po.c.qty, po.c.due_date, po.c.status, t.c.kind,
                   t.c.unit_price, t.c.ordered_on)
            .join(s, s.c.id == po.c.supplier_id).outerjoin(t, t.c.po_line_id == po.c.id)
            .where(po.c.due_date >= start, po.c.due_date <= end))
    if supplier_code is not None:
        stmt = stmt.where(s.c.code == supplier_code)
    lines = [OrderedLine(r.id, r.code, r.product_id, r.qty, r.due_date, r.status, r.kind or "buy", r.unit_price,
                         r.ordered_on) for r in await conn.execute(stmt)]
    ids = sorted(ln.id for ln in lines)
    g = goods_receipt
    deliveries = []
    for i in range(0, len(ids), _CHUNK):
        for r in await conn.execute(select(g.c.receipt_id, g.c._ts, g.c.qty_accepted, g.c.qty_rejected)
                                    .where(g.c.receipt_id.in_(ids[i:i + _CHUNK]))):
            deliveries.append(Delivery(r.receipt_id, _day(r._ts), r.qty_accepted or Decimal(0),
                                       r.qty_rejected or Decimal(0)))
    a = price_agreement
    agreements = [AgreedPrice(r.code, r.product_id, r.kind, r.min_qty, r.unit_price, r.valid_from, r.valid_to)
                  for r in await conn.execute(
                      select(s.c.code, a.c.product_id, a.c.kind, a.c.min_qty, a.c.unit_price, a.c.valid_from,
                             a.c.valid_to).join(s, s.c.id == a.c.supplier_id)
                      .where(a.c.product_id.in_({ln.product_id for ln in lines})))]
    return scorecards(lines, deliveries, agreements, today)


async def supplier_scores(conn: AsyncConnection, today: dt.date, days: int = DEFAULT_DAYS) -> dict[str, Decimal]:
    """Supplier code -> score (0..100) over the lines due in the ``days`` up to ``today``; a
    supplier without data has no entry (allocation then treats it as unscored)."""
    cards = await load_scorecards(conn, today - dt.timedelta(days=days), today, today)
    return {c.supplier: c.score for c in cards if c.score is not None}


def _text(d: Decimal | None) -> str | None:
    return None if d is None else format(d, "f")


def _window(start: dt.date | None, end: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
    end = end or today
    start = start or max(dt.date.min + dt.timedelta(days=DEFAULT_DAYS), end) - dt.timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise InvalidInput(f"the window starts ({start}) after it ends ({end})", code="invalid_value")
    if (end - start).days > 20 * 366:
        raise InvalidInput("a scorecard window spans at most 20 years", code="invalid_value")
    return start, end


async def scorecards_for(db: Database, principal: Principal, today: dt.date, start: dt.date | None,
                         end: dt.date | None, supplier_code: str | None = None) -> list[ScorecardOut]:
    """Scorecards of every supplier with lines due in the window (default: the year to today),
    or of one supplier (404 when it does not exist)."""
    guard(principal)
    start, end = _window(start, end, today)
    async with db.read() as conn:
        names = {r.code: r.name for r in await conn.execute(select(supplier.c.code, supplier.c.name))}
        if supplier_code is not None and supplier_code not in names:
            raise NotFound(f"there is no supplier {supplier_code[:64]!r}", code="unknown_supplier")
        cards = await load_scorecards(conn, start, end, today, supplier_code)
    if supplier_code is not None and not cards:
        cards = [Scorecard(supplier_code, 0, 0, None, None, None, None, None)]
    return [ScorecardOut(c.supplier, names.get(c.supplier, ""), start.isoformat(), end.isoformat(), c.lines,
                         c.receipts, _text(c.on_time_rate), _text(c.quantity_accuracy), _text(c.quality_rate),
                         _text(c.price_variance), _text(c.score)) for c in cards]
