"""The current plan reuses the last allocation for orders that did not change (``AllocationMemo``):
whatever the changes, the plan and the allocation it gives equal a fresh allocation's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.planning.allocated import AllocationMemo, Policy, plan_allocated
from server.domain.planning.model import (
    BomLine,
    Demand,
    DemandKind,
    Item,
    ItemKind,
    LotRule,
    PlanningInput,
)
from server.domain.planning.netchange import NetChangePlanner, changed_skus
from server.domain.planning.supply import Agreement, AgreementKind, cheapest_valid_agreement
from server.domain.procurement.allocation_model import Quota, SupplierTerms

TODAY = dt.date(2027, 1, 4)
BUY, SUB = AgreementKind.PURCHASE, AgreementKind.SUBCONTRACT

ITEMS = {
    "FG": Item("FG", ItemKind.MAKE, 2),
    "SUB": Item("SUB", ItemKind.SUBCONTRACT, 6),
    "P1": Item("P1", ItemKind.BUY, 4, D(0), LotRule.MULTIPLE, D(10)),
    "P2": Item("P2", ItemKind.BUY, 3, D(5)),
    "P3": Item("P3", ItemKind.BUY, 2),
    "P4": Item("P4", ItemKind.BUY, 5, D(0), LotRule.MIN, D(40)),
}
BOM = {
    "FG": (BomLine("FG", "SUB", D(1)), BomLine("FG", "P1", D(2)), BomLine("FG", "P3", D("0.5"))),
    "SUB": (BomLine("SUB", "P2", D(3)), BomLine("SUB", "P4", D(1), D(5))),
}


def ag(supplier: str, sku: str, price: str, lead: int, kind: AgreementKind = BUY, min_qty: str = "1",
       priority: int = 1) -> Agreement:
    return Agreement(supplier, sku, kind, D(min_qty), D(price), dt.date(2026, 1, 1), None, priority, lead)


AGREEMENTS = (
    ag("S1", "P1", "2.00", 5), ag("S1", "P1", "1.80", 5, min_qty="100"), ag("S2", "P1", "2.10", 2),
    ag("S2", "P2", "1.00", 3), ag("S3", "P2", "0.95", 6),
    ag("S3", "P3", "4.00", 2),  # P3 alone: never capacity-bound
    ag("S4", "P4", "7.00", 4), ag("S1", "P4", "7.50", 3),
    ag("T1", "SUB", "12.00", 8, SUB), ag("T2", "SUB", "13.00", 4, SUB, priority=2),
)
POLICIES = [
    Policy({}),
    Policy({"S1": SupplierTerms("S1", D(150)), "T1": SupplierTerms("T1", D(20))}),
    Policy({"S2": SupplierTerms("S2", D(90))}, (Quota("P2", "S3", D("0.3")),)),
]

demand = st.tuples(st.sampled_from(["FG", "SUB", "P2", "P3"]), st.integers(0, 60), st.integers(1, 40))


def _inp(demands: list[Demand]) -> PlanningInput:
    return PlanningInput(TODAY, ITEMS, BOM, {("P1", "WH1"): D(30), ("P2", "WH1"): D(12)}, tuple(demands))


@settings(max_examples=40, deadline=None)
@given(policy=st.sampled_from(POLICIES), first=st.lists(demand, min_size=1, max_size=6),
       steps=st.lists(st.lists(demand, min_size=1, max_size=3), min_size=1, max_size=4))
def test_reusing_the_last_allocation_gives_what_a_fresh_one_gives(policy: Policy, first: list, steps: list) -> None:
    n = 0

    def demands_of(spec: list) -> list[Demand]:
        nonlocal n
        out = []
        for sku, day, qty in spec:
            n += 1
            out.append(Demand(f"SO-{n}", sku, "WH1", TODAY + dt.timedelta(days=day), D(qty), DemandKind.SALES))
        return out

    demands = demands_of(first)
    inp = _inp(demands)
    planner = NetChangePlanner(inp, cheapest_valid_agreement(AGREEMENTS, TODAY))
    memo = AllocationMemo()
    for step in [[], *steps]:
        if step:
            demands += demands_of(step)
            new = _inp(demands)
            planner.update(new, changed_skus(inp, new))
            inp = new
        reused = plan_allocated(inp, AGREEMENTS, policy, first=planner.plan, memo=memo)
        fresh = plan_allocated(inp, AGREEMENTS, policy, first=planner.plan)
        assert reused.plan == fresh.plan
        assert reused.allocation.orders == fresh.allocation.orders
        assert reused.allocation.quota_short == fresh.allocation.quota_short
        assert reused.passes == fresh.passes


def test_an_unchanged_plan_is_allocated_from_the_memo_alone() -> None:
    inp = _inp([Demand("SO-1", "P3", "WH1", TODAY + dt.timedelta(days=9), D(7)),
                Demand("SO-2", "FG", "WH1", TODAY + dt.timedelta(days=20), D(5))])
    planner = NetChangePlanner(inp, cheapest_valid_agreement(AGREEMENTS, TODAY))
    memo = AllocationMemo()
    first = plan_allocated(inp, AGREEMENTS, Policy({}), first=planner.plan, memo=memo)
    assert memo.lone and memo.parts  # every order stood alone (no capacity, no quota)
    again = plan_allocated(inp, AGREEMENTS, Policy({}), first=planner.plan, memo=memo)
    assert again.plan == first.plan
    assert all(a is b for a, b in zip(again.allocation.orders, first.allocation.orders, strict=True))


def test_an_unchanged_order_whose_shared_capacity_was_taken_is_allocated_again() -> None:
    items = {"X": Item("X", ItemKind.BUY, 3)}
    lines = (ag("S1", "X", "1.00", 3), ag("S2", "X", "1.50", 3))
    policy = Policy({"S1": SupplierTerms("S1", D(100))})  # S1: 100 a week

    def inp(*demands: tuple[str, int, int]) -> PlanningInput:
        return PlanningInput(TODAY, items, {}, {}, tuple(
            Demand(ref, "X", "WH1", TODAY + dt.timedelta(days=day), D(qty)) for ref, day, qty in demands))

    before = inp(("SO-1", 10, 60), ("SO-2", 12, 30))
    planner = NetChangePlanner(before, cheapest_valid_agreement(lines, TODAY))
    memo = AllocationMemo()
    first = plan_allocated(before, lines, policy, first=planner.plan, memo=memo)
    assert {o.supplier for o in first.plan.planned_orders} == {"S1"}
    after = inp(("SO-1", 10, 60), ("SO-2", 12, 30), ("SO-3", 11, 50))  # the same week: S1 is short
    planner.update(after, changed_skus(before, after))
    reused = plan_allocated(after, lines, policy, first=planner.plan, memo=memo)
    fresh = plan_allocated(after, lines, policy, first=planner.plan)
    assert reused.plan == fresh.plan and "S2" in {o.supplier for o in reused.plan.planned_orders}


def test_the_memo_holds_the_last_plan_only() -> None:
    def inp(day: int) -> PlanningInput:
        return _inp([Demand("SO-1", "P3", "WH1", TODAY + dt.timedelta(days=day), D(7))])

    memo = AllocationMemo()
    for day in range(5, 25):  # a new due date each time: a new need, the old one gone
        planner = NetChangePlanner(inp(day), cheapest_valid_agreement(AGREEMENTS, TODAY))
        plan_allocated(inp(day), AGREEMENTS, Policy({}), first=planner.plan, memo=memo)
        assert [n.due for n in memo.lone] == [TODAY + dt.timedelta(days=day)]
        assert len(memo.needs) == len(memo.parts) == 1
