"""The plain data MRP and kitting read and write. No I/O, no SQL: the loader turns stored rows
into these, and the planners are pure functions of them.

Quantities are ``Decimal``; dates are ``datetime.date``; time is in calendar days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "BomLine",
    "Demand",
    "DemandKind",
    "Item",
    "ItemKind",
    "LotRule",
    "MrpException",
    "Peg",
    "Plan",
    "PlannedOrder",
    "PlanningInput",
    "Receipt",
    "ReceiptKind",
    "SupplyChoice",
]


class ItemKind(StrEnum):
    MAKE = "make"
    BUY = "buy"
    SUBCONTRACT = "subcontract"


class LotRule(StrEnum):
    LOT_FOR_LOT = "lot_for_lot"
    MIN = "min"
    MULTIPLE = "multiple"


class DemandKind(StrEnum):
    SALES = "sales"  # an open sales order line: make-to-order
    FORECAST = "forecast"  # make-to-stock
    PRODUCTION = "production"  # what an open production order still needs of a component (MRP makes these)


class ReceiptKind(StrEnum):
    PURCHASE = "purchase"  # an open purchase order line
    PRODUCTION = "production"  # an open production order: it also allocates its components


@dataclass(frozen=True)
class Item:
    sku: str
    kind: ItemKind
    lead_time_days: int = 0
    safety_stock: Decimal = Decimal(0)
    lot_rule: LotRule = LotRule.LOT_FOR_LOT
    lot_qty: Decimal | None = None


@dataclass(frozen=True)
class BomLine:
    parent: str
    component: str
    qty_per: Decimal
    scrap_pct: Decimal = Decimal(0)


@dataclass(frozen=True)
class Demand:
    """An independent requirement. ``ref`` is what pegging names: the sales order number, or
    ``forecast:<sku>:<date>``."""

    ref: str
    sku: str
    warehouse: str
    date: dt.date
    qty: Decimal
    kind: DemandKind = DemandKind.SALES


@dataclass(frozen=True)
class Peg:
    demand: str  # Demand.ref of the independent demand this quantity ultimately serves
    qty: Decimal


@dataclass(frozen=True)
class Receipt:
    """A scheduled receipt: an open purchase or production order. A production order also
    allocates its components (mrp.py): ``issued`` is what was already issued to it, as
    (component sku, qty) sorted by sku, and reduces what it still requires; ``pegging`` is
    the demands it was made for (sales order number and qty), which its components' planned
    orders then serve."""

    ref: str
    sku: str
    warehouse: str
    date: dt.date
    qty: Decimal
    kind: ReceiptKind = ReceiptKind.PURCHASE
    issued: tuple[tuple[str, Decimal], ...] = ()
    pegging: tuple[Peg, ...] = ()


@dataclass(frozen=True)
class SupplyChoice:
    """Who supplies a planned buy/subcontract order, at what price and lead time."""

    supplier: str
    unit_price: Decimal
    lead_time_days: int


@dataclass(frozen=True)
class PlanningInput:
    today: dt.date
    items: Mapping[str, Item]
    bom: Mapping[str, tuple[BomLine, ...]]  # parent sku -> its lines
    stock: Mapping[tuple[str, str], Decimal]  # (sku, warehouse) -> on hand
    demands: tuple[Demand, ...]
    receipts: tuple[Receipt, ...] = ()


@dataclass(frozen=True)
class PlannedOrder:
    sku: str
    warehouse: str
    kind: ItemKind
    qty: Decimal
    start: dt.date
    due: dt.date
    late: bool = False
    supplier: str | None = None
    unit_price: Decimal | None = None
    pegging: tuple[Peg, ...] = ()


@dataclass(frozen=True)
class MrpException:
    sku: str
    kind: str  # "late", "no_supplier", "negative_stock", ...
    detail: str
    warehouse: str | None = None


@dataclass(frozen=True)
class Plan:
    today: dt.date
    planned_orders: tuple[PlannedOrder, ...]
    exceptions: tuple[MrpException, ...] = field(default_factory=tuple)
