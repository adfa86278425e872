"""MRP with supplier allocation: the plan's buy and subcontract orders take supplier, split,
price and lead time from the allocation (server/domain/procurement/allocation.py).

Pure. How it runs:

1. MRP plans with the one-order rule (``supply.cheapest_valid_agreement``) as the provisional
   supplier choice: it gives each buy or subcontract order a lead time, so a start date.
2. The allocation takes every planned buy and subcontract order at once (capacity is shared
   between them) and chooses suppliers, splits and tiers.
3. A subcontract order's start date is when its components are needed. Where the allocation's
   start (its earliest part's order date) differs from the one MRP planned with, MRP plans
   again with those lead times, and the allocation runs again on the new plan; at most
   ``MAX_PASSES`` plans. Buy orders have no components: their start never changes the plan.
   If the passes run out, the components keep the last plan's dates (a ``replan_limit``
   exception says so); the orders still show the allocation's start.
4. Each order becomes one planned order per supplier part: same sku, warehouse and due date,
   the part's quantity, supplier, tier price, order date as ``start`` and ``late`` flag. The
   order's pegs are handed to the parts in supplier order, first come first served and split
   where a part ends (exact decimals), so each part's pegs add up to at most its quantity and
   all of them to the order's pegs; what the order had beyond its pegs (safety stock, lot
   leftover) falls on the last parts. An order no agreement can supply keeps the product's lead
   time, no supplier and no price.
5. Exceptions: the provisional ``late`` and ``no_supplier`` of buy and subcontract products are
   replaced by the allocation's: ``late`` per late part (the same text as MRP's),
   ``no_supplier``, ``over_capacity`` (a part's quantity no capacity was left for, given to the
   least-bad supplier anyway) and ``quota`` (an item's quota that could not be met).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from server.domain.planning.model import (
    Item,
    ItemKind,
    MrpException,
    Peg,
    Plan,
    PlannedOrder,
    PlanningInput,
    SupplyChoice,
)
from server.domain.planning.mrp import exception_sort_key
from server.domain.planning.mrp import plan as mrp_plan
from server.domain.planning.render import qty_text
from server.domain.planning.supply import (
    Agreement,
    AgreementKind,
    Chooser,
    cheapest_valid_agreement,
)
from server.domain.procurement.allocation import allocate
from server.domain.procurement.allocation_model import (
    Allocation,
    AllocationInput,
    Need,
    OrderAllocation,
    Quota,
    SupplierTerms,
)

__all__ = ["MAX_PASSES", "AllocatedPlan", "AllocationMemo", "Policy", "allocate_plan", "plan_allocated"]

MAX_PASSES = 3
ZERO = Decimal(0)
_KIND = {ItemKind.BUY: AgreementKind.PURCHASE, ItemKind.SUBCONTRACT: AgreementKind.SUBCONTRACT}
OrderKey = tuple[str, str, dt.date]  # (sku, warehouse, due): one planned order


@dataclass(frozen=True)
class Policy:
    """What the allocation may use besides agreements: capacities, quotas, scores."""

    suppliers: Mapping[str, SupplierTerms]
    quotas: tuple[Quota, ...] = ()
    scores: Mapping[str, Decimal] | None = None
    score_threshold: Decimal | None = None
    overrides: frozenset[str] = frozenset()


@dataclass
class AllocationMemo:
    """What an allocation of a plan can reuse in the next one (the current plan keeps one
    across net-change updates): the lone orders' allocations by need (``allocate``'s memo),
    and per planned order its need and, with its allocation, the orders and exceptions it
    became. Orders that did not change are the very same objects in the next plan, so they
    are found by identity; the entries keep them alive. Valid only while the agreements, the
    policy and the day stay the same: make a new one when they change."""

    lone: dict[Need, OrderAllocation] = field(default_factory=dict)
    needs: dict[int, tuple[PlannedOrder, Need]] = field(default_factory=dict)
    parts: dict[int, tuple[PlannedOrder, OrderAllocation, list[PlannedOrder], list[MrpException]]] = (
        field(default_factory=dict))


@dataclass(frozen=True)
class AllocatedPlan:
    plan: Plan  # the split orders, PLANNING.md's plan
    allocation: Allocation  # one OrderAllocation per buy/subcontract order of the last pass
    passes: int  # MRP plans made (1 when no subcontract start moved)


def _overlay(base: Chooser, leads: Mapping[OrderKey, int]) -> Chooser:
    """The provisional rule, with the allocation's lead time where it decided one."""

    def choose(item: Item, wh: str, qty: Decimal, due: dt.date) -> SupplyChoice | None:
        choice = base(item, wh, qty, due)
        lead = leads.get((item.sku, wh, due))
        if choice is None or lead is None:
            return choice
        return replace(choice, lead_time_days=lead)

    return choose


def _needs(inp: PlanningInput, plan: Plan, memo: AllocationMemo | None = None
           ) -> list[tuple[PlannedOrder, Need]]:
    known = memo.needs if memo is not None else {}
    seen: dict[int, tuple[PlannedOrder, Need]] = {}
    out = []
    for o in plan.planned_orders:
        kind = _KIND.get(o.kind)
        if kind is None:
            continue
        hit = known.get(id(o))
        if hit is None or hit[0] is not o:
            hit = (o, Need(o.sku, o.warehouse, kind, o.qty, o.due, inp.items[o.sku].lead_time_days))
        seen[id(o)] = hit
        out.append(hit)
    if memo is not None:
        memo.needs = seen  # only this plan's orders: the memo does not grow with old ones
    return out


def _allocate(inp: PlanningInput, needs: Sequence[Need], agreements: Sequence[Agreement],
              policy: Policy, memo: AllocationMemo | None = None) -> Allocation:
    return allocate(AllocationInput(
        inp.today, tuple(needs), tuple(agreements), policy.suppliers, policy.quotas,
        policy.scores or {}, policy.score_threshold, policy.overrides), None if memo is None else memo.lone)


def _start(oa: OrderAllocation, today: dt.date, product_lead: int) -> dt.date:
    if not oa.parts:
        return max(today, oa.need.due - dt.timedelta(days=product_lead))
    return min(p.order_date for p in oa.parts)


def plan_allocated(inp: PlanningInput, agreements: Sequence[Agreement], policy: Policy,
                   first: Plan | None = None,
                   replan: Callable[[Chooser], Plan] | None = None,
                   memo: AllocationMemo | None = None) -> AllocatedPlan:
    """MRP and the allocation together (module docstring). ``first`` is a plan already made
    with ``cheapest_valid_agreement`` (net change keeps one); ``replan`` makes a plan with a
    chooser (default: a regenerative ``mrp.plan``); ``memo``: what the last allocation of a
    plan of the same agreements, policy and day can give this one (``AllocationMemo``)."""
    base = cheapest_valid_agreement(agreements, inp.today)
    make = replan or (lambda choose: mrp_plan(inp, choose))
    plan = first if first is not None else make(base)
    leads: dict[OrderKey, int] = {}
    passes = 1
    while True:
        pairs = _needs(inp, plan, memo)
        allocation = _allocate(inp, [n for _, n in pairs], agreements, policy, memo)
        moved = {}
        for (o, n), oa in zip(pairs, allocation.orders, strict=True):
            if o.kind is ItemKind.SUBCONTRACT and oa.parts:
                start = _start(oa, inp.today, n.lead_time_days)
                if start != o.start:
                    moved[(o.sku, o.warehouse, o.due)] = max(p.lead_time_days for p in oa.parts)
        if not moved or passes >= MAX_PASSES:
            break
        leads.update(moved)
        plan = make(_overlay(base, leads))
        passes += 1
    return AllocatedPlan(allocate_plan(inp, plan, pairs, allocation, moved, memo), allocation, passes)


def _split_pegs(pegs: Iterable[Peg], sizes: Sequence[Decimal]) -> list[tuple[Peg, ...]]:
    """The pegs handed to parts of ``sizes`` in turn, split where a part is full."""
    out: list[list[Peg]] = [[] for _ in sizes]
    k, room = 0, sizes[0] if sizes else ZERO
    for p in pegs:
        left = p.qty
        while left > 0 and k < len(sizes):
            take = min(left, room)
            if take > 0:
                out[k].append(Peg(p.demand, take))
                left -= take
                room -= take
            if room <= 0:
                k += 1
                room = sizes[k] if k < len(sizes) else ZERO
    return [tuple(x) for x in out]


def _parts(inp: PlanningInput, o: PlannedOrder, oa: OrderAllocation
           ) -> tuple[list[PlannedOrder], list[MrpException]]:
    """The planned orders one buy or subcontract order becomes, and their exceptions."""
    today = inp.today
    if not oa.parts:
        item = inp.items[o.sku]
        should = o.due - dt.timedelta(days=item.lead_time_days)
        late = should < today
        excs = [MrpException(o.sku, "no_supplier", (
            f"due {o.due}: no supplier for {qty_text(o.qty)}; the product's lead time of "
            f"{item.lead_time_days} days is used"), o.warehouse)]
        if late:
            excs.append(MrpException(o.sku, "late", _late_text(o.due, should, today), o.warehouse))
        return [replace(o, start=max(should, today), late=late, supplier=None, unit_price=None)], excs
    orders: list[PlannedOrder] = []
    excs = []
    pegs = _split_pegs(o.pegging, [p.qty for p in oa.parts])
    for part, mine in zip(oa.parts, pegs, strict=True):
        orders.append(replace(o, qty=part.qty, start=part.order_date, late=part.late,
                              supplier=part.supplier, unit_price=part.unit_price, pegging=mine))
        if part.late:
            should = o.due - dt.timedelta(days=part.lead_time_days)
            excs.append(MrpException(o.sku, "late", _late_text(o.due, should, today), o.warehouse))
        if part.over_capacity > 0:
            excs.append(MrpException(o.sku, "over_capacity", (
                f"due {o.due}: {part.supplier} has no capacity left for "
                f"{qty_text(part.over_capacity)} of {qty_text(part.qty)}; ordered there anyway, "
                "the least-bad choice"), o.warehouse))
    return orders, excs


def _late_text(due: dt.date, should: dt.date, today: dt.date) -> str:
    days = (today - should).days
    return (f"due {due}: should start {should}, {days} day{'s' if days != 1 else ''} before today; "
            f"start moved to {today}")


def allocate_plan(inp: PlanningInput, plan: Plan, pairs: Sequence[tuple[PlannedOrder, Need]],
                  allocation: Allocation, unsettled: Mapping[OrderKey, int] | None = None,
                  memo: AllocationMemo | None = None) -> Plan:
    """``plan`` with its buy and subcontract orders replaced by the allocation's parts."""
    allocated = {id(o): oa for (o, _), oa in zip(pairs, allocation.orders, strict=True)}
    known = memo.parts if memo is not None else {}
    seen: dict[int, tuple[PlannedOrder, OrderAllocation, list[PlannedOrder], list[MrpException]]] = {}
    orders: list[PlannedOrder] = []
    excs: list[MrpException] = []
    for o in plan.planned_orders:
        oa = allocated.get(id(o))
        if oa is None:
            orders.append(o)
            continue
        hit = known.get(id(o))
        if hit is None or hit[0] is not o or hit[1] is not oa:
            hit = (o, oa, *_parts(inp, o, oa))
        seen[id(o)] = hit
        orders += hit[2]
        excs += hit[3]
    if memo is not None:
        memo.parts = seen
    for sku, supplier, miss in allocation.quota_short:
        excs.append(MrpException(sku, "quota", f"{supplier} got {qty_text(miss)} less than its quota" if miss > 0
                                 else f"{supplier} got {qty_text(-miss)} more than its maximum share"))
    for (sku, wh, due) in sorted((unsettled or {}).keys()):
        excs.append(MrpException(sku, "replan_limit", (
            f"due {due}: the allocation's start differs from the one its components were planned "
            f"for after {MAX_PASSES} plans; the components keep the last plan's dates"), wh))
    allocated_kinds = {ItemKind.BUY, ItemKind.SUBCONTRACT}
    kept = [e for e in plan.exceptions if not (
        e.kind in ("late", "no_supplier") and inp.items[e.sku].kind in allocated_kinds)]
    exceptions = sorted(set(kept) | set(excs), key=exception_sort_key)
    orders.sort(key=lambda x: (x.due, x.sku, x.warehouse, x.start, x.supplier or ""))
    return Plan(plan.today, tuple(orders), tuple(exceptions))
