"""Who supplies a planned buy or subcontract order, one order at a time: the cheapest valid
agreement. MRP plans with it first (the provisional choice that gives each order a start date);
then the supplier allocation (``allocated.py``, ``server/domain/procurement/allocation.py``)
decides over all orders at once, with capacities and splits, and its explanation names what
this rule would have picked.

Pure: plain data in, a choice out; no I/O. ``load.load_agreements`` reads the agreements, and
``cheapest_valid_agreement`` turns them into the ``choose_supply`` callback of ``mrp.plan``.
This rule ignores capacity, and gives an order to one supplier whole.

The rule, for an order of ``qty`` of a product due on ``due``:

1. Candidates are the product's agreements of the order's kind (``purchase`` for a ``buy``
   product, ``subcontract`` for a ``subcontract`` one) whose supplier is not blocked.
2. Each candidate has its lead time (the agreement's, else the product's) and so its own order
   date: ``due - lead``, but not before ``today`` (a late order is placed today). The agreement
   must be valid on that date: ``valid_from <= order date <= valid_to`` (no ``valid_to``: open).
3. Quantity breaks: a tier applies when ``min_qty <= qty``, and its price applies to the whole
   order (no blending of tiers).
4. The lowest unit price wins; ties go to the lower ``priority`` number (1 = first choice), then
   the shorter lead time, then the supplier code, so the same data always gives the same choice.
   A subcontract order goes by the outsourcing price list's priority first: the lowest
   ``priority`` number wins, the price decides among equal priority.

No candidate: ``None`` (MRP then uses the product's lead time and reports ``no_supplier``).
Unlike Odoo's ``_select_seller`` (first vendor by sequence, then its price), a cheaper valid
purchase agreement always beats a preferred but dearer one: ``priority`` only breaks price ties.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from server.domain.planning.model import Item, ItemKind, SupplyChoice

__all__ = [
    "Agreement",
    "AgreementKind",
    "Chooser",
    "cheapest_valid_agreement",
    "choose_agreement",
    "order_date",
]


class AgreementKind(StrEnum):
    PURCHASE = "purchase"
    SUBCONTRACT = "subcontract"


# the ``choose_supply`` signature of ``mrp.plan``: (item, warehouse, qty, due) -> choice or None
Chooser = Callable[[Item, str, Decimal, dt.date], SupplyChoice | None]

_KIND_FOR: dict[ItemKind, AgreementKind] = {
    ItemKind.BUY: AgreementKind.PURCHASE,
    ItemKind.SUBCONTRACT: AgreementKind.SUBCONTRACT,
}


@dataclass(frozen=True)
class Agreement:
    """One price agreement line (one quantity tier) with what the rule needs of its supplier."""

    supplier: str  # the supplier's code
    sku: str
    kind: AgreementKind
    min_qty: Decimal
    unit_price: Decimal
    valid_from: dt.date
    valid_to: dt.date | None = None  # None: open-ended
    priority: int = 1
    lead_time_days: int | None = None  # None: the product's
    blocked: bool = False  # the supplier's flag


def order_date(due: dt.date, lead_time_days: int, today: dt.date) -> dt.date:
    """The day the order is placed: ``lead_time_days`` before ``due``, never before today."""
    return max(today, due - dt.timedelta(days=lead_time_days))


def _lead(a: Agreement, item: Item) -> int:
    return item.lead_time_days if a.lead_time_days is None else a.lead_time_days


def choose_agreement(agreements: Iterable[Agreement], item: Item, qty: Decimal, due: dt.date,
                     today: dt.date) -> Agreement | None:
    """The agreement line the rule picks for this order, or None (see the module docstring)."""
    kind = _KIND_FOR.get(item.kind)
    if kind is None:
        return None
    best: Agreement | None = None
    best_key: tuple[int, Decimal, int, int, str] | None = None
    for a in agreements:
        if a.sku != item.sku or a.kind is not kind or a.blocked or a.min_qty > qty:
            continue
        lead = _lead(a, item)
        placed = order_date(due, lead, today)
        if placed < a.valid_from or (a.valid_to is not None and placed > a.valid_to):
            continue
        first = a.priority if kind is AgreementKind.SUBCONTRACT else 0
        key = (first, a.unit_price, a.priority, lead, a.supplier)
        if best_key is None or key < best_key:
            best, best_key = a, key
    return best


def cheapest_valid_agreement(agreements: Iterable[Agreement], today: dt.date) -> Chooser:
    """The ``choose_supply`` callback of ``mrp.plan`` for this rule over ``agreements``."""
    by_sku: dict[str, list[Agreement]] = defaultdict(list)
    for a in agreements:
        by_sku[a.sku].append(a)

    def choose(item: Item, warehouse: str, qty: Decimal, due: dt.date) -> SupplyChoice | None:
        a = choose_agreement(by_sku.get(item.sku, ()), item, qty, due, today)
        if a is None:
            return None
        return SupplyChoice(supplier=a.supplier, unit_price=a.unit_price, lead_time_days=_lead(a, item))

    return choose
