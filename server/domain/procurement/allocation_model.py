"""The plain data of supplier allocation: what is to be bought, on what terms, and the answer.

No I/O. Quantities and prices are ``Decimal``; dates are ``datetime.date``. The solver works in
floats inside ``milp.py`` only; everything that leaves the package is exact again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from server.domain.planning.supply import Agreement, AgreementKind

__all__ = [
    "Allocation",
    "AllocationInput",
    "Alternative",
    "Need",
    "OrderAllocation",
    "Part",
    "Quota",
    "Reason",
    "SupplierTerms",
]


@dataclass(frozen=True)
class Need:
    """A planned buy or subcontract order MRP wants covered: ``qty`` in ``warehouse`` by ``due``.
    ``lead_time_days`` is the product's, used for agreements that give none."""

    sku: str
    warehouse: str
    kind: AgreementKind
    qty: Decimal
    due: dt.date
    lead_time_days: int = 0


@dataclass(frozen=True)
class SupplierTerms:
    """What allocation needs of a supplier: capacity in units per ISO week over all items
    (``None``: unlimited) and the ``blocked`` flag."""

    code: str
    capacity_per_week: Decimal | None = None
    blocked: bool = False


@dataclass(frozen=True)
class Quota:
    """At least ``min_share`` (0..1) of ``sku``'s allocated volume goes to ``supplier``, and,
    given ``max_share`` (0..1), at most that."""

    sku: str
    supplier: str
    min_share: Decimal
    max_share: Decimal | None = None


@dataclass(frozen=True)
class AllocationInput:
    today: dt.date
    needs: tuple[Need, ...]
    agreements: tuple[Agreement, ...]
    suppliers: Mapping[str, SupplierTerms] = field(default_factory=dict)
    quotas: tuple[Quota, ...] = ()
    scores: Mapping[str, Decimal] = field(default_factory=dict)  # supplier -> scorecard score
    score_threshold: Decimal | None = None  # below it a supplier is left out...
    overrides: frozenset[str] = frozenset()  # ...unless named here
    time_limit_s: float = 10.0
    mip_rel_gap: float = 0.005


class Reason(StrEnum):
    """Why an alternative supplier did not get (all of) an order."""

    PRICE = "price"  # dearer for this quantity
    PRIORITY = "priority"  # as cheap, but a lower priority (higher number)
    CAPACITY = "capacity"  # cheaper, but its week was full
    LEAD_TIME = "lead_time"  # cannot deliver by the due date while someone else can
    BLOCKED = "blocked"
    NOT_VALID = "not_valid"  # no agreement valid on its order date
    MIN_QTY = "min_qty"  # the order is smaller than its smallest tier
    BELOW_SCORE = "below_score"  # scorecard score under the threshold, no override
    QUOTA = "quota"  # cheaper, but the item's quota sent volume to another supplier
    GAP = "gap"  # cheaper by less than the solver's proven tolerance


@dataclass(frozen=True)
class Part:
    """One supplier's share of an order, priced by the tier its own quantity reaches."""

    supplier: str
    qty: Decimal
    unit_price: Decimal
    min_qty: Decimal  # the tier
    priority: int
    lead_time_days: int
    order_date: dt.date  # the planned order's start
    late: bool  # nobody could deliver this part by the due date
    over_capacity: Decimal = Decimal(0)  # of ``qty``, what no capacity was left for

    @property
    def cost(self) -> Decimal:
        return self.qty * self.unit_price


@dataclass(frozen=True)
class Alternative:
    """A supplier that was considered and lost, with its cost for the whole order quantity
    (``None`` when it could not quote it) and the reason."""

    supplier: str
    reason: Reason
    detail: str
    unit_price: Decimal | None = None
    cost: Decimal | None = None


@dataclass(frozen=True)
class OrderAllocation:
    need: Need
    parts: tuple[Part, ...]  # empty: no supplier can supply it at all
    alternatives: tuple[Alternative, ...] = ()
    cheapest_rule: str | None = None  # the supplier the one-order rule (supply.py) would pick
    quotas: tuple[str, ...] = ()  # the quotas on the item, in words, for the explanation

    @property
    def cost(self) -> Decimal:
        return sum((p.cost for p in self.parts), Decimal(0))

    @property
    def short(self) -> Decimal:
        return sum((p.over_capacity for p in self.parts), Decimal(0))


@dataclass(frozen=True)
class Allocation:
    orders: tuple[OrderAllocation, ...]  # in the order of ``AllocationInput.needs``
    status: str  # "optimal", "within_gap" or "time_limit"
    gap: float  # the proven relative gap of the worst component (0 when optimal)
    seconds: float  # solver wall time
    components: int = 0  # independent sub-problems the MILP solved
    # (sku, supplier, qty the quota's minimum missed; negative: qty above its maximum share)
    quota_short: tuple[tuple[str, str, Decimal], ...] = ()

    @property
    def cost(self) -> Decimal:
        return sum((o.cost for o in self.orders), Decimal(0))
