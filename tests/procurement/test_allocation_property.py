"""Allocation against the greedy first-by-priority rule on random small inputs: never worse,
never over a capacity, every order covered in full (or the rest flagged), exact parts."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.planning.supply import Agreement, AgreementKind
from server.domain.procurement.allocation import allocate, greedy_allocation, objective
from server.domain.procurement.allocation_model import AllocationInput, Need, Quota, SupplierTerms

TODAY = dt.date(2027, 1, 4)
SUPPLIERS = ("S1", "S2", "S3", "S4")
SKUS = ("A", "B", "C")


@st.composite
def inputs(draw: st.DrawFn) -> AllocationInput:
    suppliers = {s: SupplierTerms(s, draw(st.one_of(st.none(), st.integers(0, 120).map(D))),
                                  blocked=draw(st.integers(0, 9)) == 0) for s in SUPPLIERS}
    # an item is bought or subcontracted: subcontract options go by priority first (options.py)
    kinds = {sku: draw(st.sampled_from([AgreementKind.PURCHASE, AgreementKind.SUBCONTRACT])) for sku in SKUS}
    agreements = []
    for sku in SKUS:
        for s in draw(st.lists(st.sampled_from(SUPPLIERS), min_size=1, max_size=3, unique=True)):
            lead = draw(st.integers(0, 20))
            priority = draw(st.integers(1, 3))
            price = draw(st.integers(100, 1000))
            for min_qty in sorted(draw(st.lists(st.sampled_from([0, 1, 20, 50, 100]), min_size=1,
                                                max_size=3, unique=True))):
                agreements.append(Agreement(s, sku, kinds[sku], D(min_qty), D(price) / 100,
                                            dt.date(2026, 1, 1), None, priority, lead))
                price = max(price - draw(st.integers(0, 150)), 50)
    skus = [draw(st.sampled_from(SKUS)) for _ in range(draw(st.integers(1, 6)))]
    needs = tuple(Need(sku, "WH1", kinds[sku], D(draw(st.integers(1, 150))),
                       TODAY + dt.timedelta(days=draw(st.integers(0, 20))), 3) for sku in skus)
    quotas = tuple(Quota(sku, s, D(share) / 10, None if most is None else D(share + most) / 10)
                   for sku, s, share, most in draw(st.lists(st.tuples(
                       st.sampled_from(SKUS), st.sampled_from(SUPPLIERS), st.integers(1, 5),
                       st.one_of(st.none(), st.integers(0, 5))), max_size=1)))
    return AllocationInput(TODAY, needs, tuple(agreements), suppliers, quotas)


def _week(p_date: dt.date, lead: int) -> tuple[int, int]:
    iso = (p_date + dt.timedelta(days=lead)).isocalendar()
    return (iso[0], iso[1])


@settings(max_examples=60, deadline=None)
@given(inputs())
def test_allocation_is_never_worse_than_greedy_and_keeps_every_capacity(inp: AllocationInput) -> None:
    best = allocate(inp)
    greedy = greedy_allocation(inp)
    assert objective(inp, best.orders) <= objective(inp, greedy.orders)
    used: dict[tuple[str, tuple[int, int]], D] = defaultdict(D)
    for oa in best.orders:
        if oa.parts:
            assert sum(p.qty for p in oa.parts) == oa.need.qty  # in full, exactly
        for p in oa.parts:
            assert p.qty > 0 and 0 <= p.over_capacity <= p.qty
            assert p.min_qty <= p.qty or p.over_capacity  # a tier not reached only by what had no room
            assert not inp.suppliers[p.supplier].blocked
            used[(p.supplier, _week(p.order_date, p.lead_time_days))] += p.qty - p.over_capacity
        assert len({p.supplier for p in oa.parts}) == len(oa.parts)
    for (s, _), units in used.items():
        cap = inp.suppliers[s].capacity_per_week
        assert cap is None or units <= cap
