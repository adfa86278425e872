"""Purchase requisitions from an MRP plan, pure: which planned orders become requisition lines,
how they group, how an approved requisition splits into purchase orders, and what a subcontract
order sends to its subcontractor.

- Every planned ``buy`` and ``subcontract`` order becomes one line; ``make`` orders are for
  production, not for suppliers.
- Lines group by the supplier MRP chose (its allocation, or the cheapest valid agreement before
  that lands): one requisition per supplier, plus one for the orders no supplier could take
  (``supplier`` None), which the back office must give a supplier before approving.
- A purchase order holds one line per product (the key of ``purchase_order_line``), so an
  approved requisition with the same product due on several days becomes several purchase orders:
  the first line of each product in the first, the second in the second, and so on.
- A subcontractor receives the components of the subcontracted product: its BOM times the
  quantity, with scrap (``qty_per x (1 + scrap_pct / 100)``, as MRP explodes it).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

__all__ = [
    "PURCHASED_KINDS",
    "Component",
    "PlannedBuy",
    "by_supplier",
    "components_to_send",
    "planned_buys",
    "split_into_orders",
]

PURCHASED_KINDS = ("buy", "subcontract")
HUNDRED = Decimal(100)
T = TypeVar("T")


@dataclass(frozen=True)
class PlannedBuy:
    """A planned order MRP wants bought or subcontracted, as the plan document names it."""

    sku: str
    warehouse: str
    kind: str
    qty: Decimal
    order_date: dt.date
    due: dt.date
    supplier: str | None
    unit_price: Decimal | None
    late: bool


@dataclass(frozen=True)
class Component:
    """One BOM line of a subcontracted product."""

    component_id: str
    qty_per: Decimal
    scrap_pct: Decimal


def planned_buys(orders: Iterable[Mapping[str, object]]) -> list[PlannedBuy]:
    """The plan's buy and subcontract orders (plan JSON entries) with typed values, in plan order."""
    out: list[PlannedBuy] = []
    for o in orders:
        if o["kind"] not in PURCHASED_KINDS:
            continue
        price = o.get("unit_price")
        out.append(PlannedBuy(sku=str(o["sku"]), warehouse=str(o["warehouse"]), kind=str(o["kind"]),
                              qty=Decimal(str(o["qty"])), order_date=dt.date.fromisoformat(str(o["start"])),
                              due=dt.date.fromisoformat(str(o["due"])),
                              supplier=None if o.get("supplier") is None else str(o["supplier"]),
                              unit_price=None if price is None else Decimal(str(price)), late=bool(o["late"])))
    return out


def by_supplier(buys: Iterable[PlannedBuy]) -> dict[str | None, list[PlannedBuy]]:
    """Buys grouped by supplier code (None: no supplier), suppliers in code order, the unsourced
    last; within a group by due date, then sku and warehouse."""
    groups: dict[str | None, list[PlannedBuy]] = defaultdict(list)
    for b in buys:
        groups[b.supplier].append(b)
    keys: list[str | None] = [*sorted(k for k in groups if k is not None), *([None] if None in groups else [])]
    return {k: sorted(groups[k], key=lambda b: (b.due, b.sku, b.warehouse)) for k in keys}


def split_into_orders(lines: Sequence[T], product: Callable[[T], str]) -> list[list[T]]:
    """Split a requisition's lines into purchase orders holding one line per product, keeping
    the lines' order: the n-th line of a product goes into the n-th order."""
    orders: list[list[T]] = []
    seen: dict[str, int] = defaultdict(int)
    for line in lines:
        n = seen[product(line)]
        seen[product(line)] += 1
        if n == len(orders):
            orders.append([])
        orders[n].append(line)
    return orders


def components_to_send(qty: Decimal, bom: Iterable[Component]) -> dict[str, Decimal]:
    """What a subcontractor needs to make ``qty``: per component, qty x qty_per x (1 + scrap)."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for c in bom:
        out[c.component_id] += qty * c.qty_per * (1 + c.scrap_pct / HUNDRED)
    return dict(out)
