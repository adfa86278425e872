"""Supplier allocation on small instances whose optimum is known by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from server.domain.planning.supply import Agreement, AgreementKind
from server.domain.procurement.allocation import allocate, greedy_allocation
from server.domain.procurement.allocation_model import (
    AllocationInput,
    Need,
    OrderAllocation,
    Quota,
    Reason,
    SupplierTerms,
)

TODAY = dt.date(2027, 1, 4)  # a Monday
DUE = dt.date(2027, 1, 20)


def line(supplier: str, min_qty: str, price: str, *, lead: int | None = 5, priority: int = 1,
         sku: str = "P", kind: AgreementKind = AgreementKind.PURCHASE,
         valid_from: dt.date = dt.date(2026, 1, 1), valid_to: dt.date | None = None) -> Agreement:
    return Agreement(supplier, sku, kind, D(min_qty), D(price), valid_from, valid_to, priority, lead)


def need(qty: str, due: dt.date = DUE, sku: str = "P", kind: AgreementKind = AgreementKind.PURCHASE) -> Need:
    return Need(sku, "WH1", kind, D(qty), due, lead_time_days=3)


def caps(**capacity: str | None) -> dict[str, SupplierTerms]:
    return {s: SupplierTerms(s, None if c is None else D(c)) for s, c in capacity.items()}


def run(needs: list[Need], lines: list[Agreement], **kw: object) -> list[OrderAllocation]:
    return list(allocate(AllocationInput(TODAY, tuple(needs), tuple(lines), **kw)).orders)  # type: ignore[arg-type]


def split(oa: OrderAllocation) -> dict[str, tuple[str, str]]:
    return {p.supplier: (str(p.qty), str(p.unit_price)) for p in oa.parts}


def reasons(oa: OrderAllocation) -> dict[str, Reason]:
    return {a.supplier: a.reason for a in oa.alternatives}


def test_a_price_break_makes_splitting_the_dearer_choice():
    # S1 looks cheapest (8 from 100) but has room for 60 only, where its price is 10; S2 takes
    # all 100 at its own 100-tier, 8.50: 850 against 60 x 10 + 40 x 9 = 960 for the split
    lines = [line("S1", "1", "10"), line("S1", "100", "8"), line("S2", "1", "9", priority=2),
             line("S2", "100", "8.50", priority=2)]
    [oa] = run([need("100")], lines, suppliers=caps(S1="60", S2=None))
    assert split(oa) == {"S2": ("100", "8.50")}
    assert oa.cost == D("850")
    assert reasons(oa) == {"S1": Reason.CAPACITY}
    [g] = greedy_allocation(AllocationInput(TODAY, (need("100"),), tuple(lines), caps(S1="60", S2=None))).orders
    assert split(g) == {"S1": ("60", "10"), "S2": ("40", "9")} and g.cost == D("960")


def test_capacity_forces_a_split_over_two_suppliers():
    [oa] = run([need("100")], [line("S1", "1", "5"), line("S2", "1", "6")], suppliers=caps(S1="70"))
    assert split(oa) == {"S1": ("70", "5"), "S2": ("30", "6")}
    assert oa.cost == D("530") and oa.short == 0


def test_capacity_is_shared_by_items_due_in_the_same_week():
    lines = [line("S1", "1", "5", sku="A"), line("S2", "1", "9", sku="A"),
             line("S1", "1", "5", sku="B"), line("S3", "1", "6", sku="B")]
    # S1 can deliver 50 a week over both items: A saves 4 a unit there, B only 1
    a, b = run([need("50", sku="A"), need("50", sku="B", due=DUE + dt.timedelta(days=1))], lines,
               suppliers=caps(S1="50"))
    assert split(a) == {"S1": ("50", "5")}
    assert split(b) == {"S3": ("50", "6")}
    assert reasons(b) == {"S1": Reason.CAPACITY}


def test_a_lead_time_that_misses_the_due_date_rules_out_the_cheapest_supplier():
    due = TODAY + dt.timedelta(days=6)
    [oa] = run([need("10", due=due)], [line("S1", "1", "5", lead=10), line("S2", "1", "6", lead=4)])
    assert split(oa) == {"S2": ("10", "6")}
    [p] = oa.parts
    assert p.order_date == due - dt.timedelta(days=4) and not p.late
    assert reasons(oa) == {"S1": Reason.LEAD_TIME}


def test_a_blocked_supplier_is_never_chosen():
    lines = [line("S1", "1", "5"), line("S2", "1", "6")]
    [oa] = run([need("10")], lines, suppliers={"S1": SupplierTerms("S1", None, blocked=True)})
    assert split(oa) == {"S2": ("10", "6")}
    assert reasons(oa) == {"S1": Reason.BLOCKED}


def test_a_quota_sends_its_share_to_the_second_source_over_all_the_items_orders():
    lines = [line("S1", "1", "5"), line("S2", "1", "6")]
    orders = run([need("60"), need("40", due=DUE + dt.timedelta(days=7))], lines,
                 quotas=(Quota("P", "S2", D("0.3")),))
    to_s2 = sum(p.qty for oa in orders for p in oa.parts if p.supplier == "S2")
    assert to_s2 == 30
    assert sum(oa.cost for oa in orders) == D("70") * 5 + D("30") * 6


def test_late_only_when_nobody_can_deliver_in_time_and_then_flagged():
    due = TODAY + dt.timedelta(days=2)
    # S2 is on time but can deliver 10 that week; S1 is late: it gets the rest, placed today
    [oa] = run([need("30", due=due)], [line("S1", "1", "5", lead=5), line("S2", "1", "9", lead=1)],
               suppliers=caps(S2="10"))
    parts = {p.supplier: p for p in oa.parts}
    assert (parts["S2"].qty, parts["S2"].late) == (10, False)
    assert (parts["S1"].qty, parts["S1"].late, parts["S1"].order_date) == (20, True, TODAY)
    # with room at S2 nothing is late, though S1 is cheaper
    [oa] = run([need("30", due=due)], [line("S1", "1", "5", lead=5), line("S2", "1", "9", lead=1)])
    assert split(oa) == {"S2": ("30", "9")} and reasons(oa) == {"S1": Reason.LEAD_TIME}


def test_priority_breaks_a_price_tie_but_never_beats_a_lower_price():
    [oa] = run([need("10")], [line("S1", "1", "5", priority=2), line("S2", "1", "5", priority=1)])
    assert split(oa) == {"S2": ("10", "5")} and reasons(oa) == {"S1": Reason.PRIORITY}
    [oa] = run([need("10")], [line("S1", "1", "4.99", priority=3), line("S2", "1", "5.00", priority=1)])
    assert split(oa) == {"S1": ("10", "4.99")} and reasons(oa) == {"S2": Reason.PRICE}


def test_a_supplier_below_the_score_threshold_needs_an_override():
    lines = [line("S1", "1", "5"), line("S2", "1", "6")]
    scores = {"S1": D("0.55"), "S2": D("0.9")}
    [oa] = run([need("10")], lines, scores=scores, score_threshold=D("0.8"))
    assert split(oa) == {"S2": ("10", "6")} and reasons(oa) == {"S1": Reason.BELOW_SCORE}
    [oa] = run([need("10")], lines, scores=scores, score_threshold=D("0.8"), overrides=frozenset({"S1"}))
    assert split(oa) == {"S1": ("10", "5")}


def test_what_no_capacity_covers_goes_to_the_least_bad_supplier_flagged():
    [oa] = run([need("100")], [line("S1", "1", "5"), line("S2", "1", "7")], suppliers=caps(S1="40", S2="0"))
    parts = {p.supplier: p for p in oa.parts}
    assert set(parts) == {"S1"}
    assert (parts["S1"].qty, parts["S1"].over_capacity) == (100, 60)
    assert oa.short == 60


def test_agreements_not_valid_on_the_order_date_or_above_the_quantity_are_explained():
    lines = [line("S1", "1", "4", valid_to=dt.date(2027, 1, 10)),  # ordered 2027-01-15
             line("S2", "500", "3"), line("S3", "1", "6")]
    [oa] = run([need("100")], lines)
    assert split(oa) == {"S3": ("100", "6")}
    assert reasons(oa) == {"S1": Reason.NOT_VALID, "S2": Reason.MIN_QTY}
    assert oa.cheapest_rule == "S3"


def test_subcontract_orders_take_the_subcontract_price_list():
    sub = AgreementKind.SUBCONTRACT
    lines = [line("S1", "1", "2", kind=sub, priority=2), line("S2", "1", "3", kind=sub),
             line("S3", "1", "1")]  # a purchase price of the same sku is not a processing price
    [oa] = run([need("10", kind=sub)], lines)
    assert split(oa) == {"S2": ("10", "3")}  # priority 1 first: tests/procurement/test_subcontract_priority.py
    assert reasons(oa) == {"S1": Reason.PRIORITY}


def test_an_order_no_agreement_covers_has_no_parts():
    [oa] = run([need("10", sku="OTHER")], [line("S1", "1", "5")])
    assert oa.parts == () and oa.cheapest_rule is None


def test_fractional_quantities_split_exactly():
    [oa] = run([need("10.5")], [line("S1", "0", "5"), line("S2", "0", "6")], suppliers=caps(S1="2.25"))
    assert split(oa) == {"S1": ("2.25", "5"), "S2": ("8.25", "6")}
    assert sum(p.qty for p in oa.parts) == D("10.5")
