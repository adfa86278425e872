"""Subcontract orders go by the outsourcing price list's priority (委外价格资料): among the
subcontract lines that can deliver, the lowest priority number wins; price decides only among
equal priority. Small instances whose answer is known by hand, for the MILP and the greedy rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

from server.domain.planning.supply import Agreement, AgreementKind
from server.domain.procurement.allocation import allocate, greedy_allocation, objective
from server.domain.procurement.allocation_model import AllocationInput, Reason, SupplierTerms
from tests.procurement.test_allocation import DUE, TODAY, caps, line, need, reasons, run, split

SUB = AgreementKind.SUBCONTRACT


def sub(supplier: str, min_qty: str, price: str, **kw: Any) -> Agreement:
    return line(supplier, min_qty, price, kind=SUB, **kw)


def greedy_split(lines: list[Agreement], **kw: Any) -> dict[str, tuple[str, str]]:
    [g] = greedy_allocation(AllocationInput(TODAY, (need("10", kind=SUB),), tuple(lines), **kw)).orders
    return split(g)


def test_a_cheaper_priority_2_subcontractor_loses_to_priority_1() -> None:
    lines = [sub("S1", "1", "2", priority=2), sub("S2", "1", "3", priority=1)]
    [oa] = run([need("10", kind=SUB)], lines)
    assert split(oa) == {"S2": ("10", "3")} and oa.cost == D("30")
    [alt] = oa.alternatives
    assert alt.supplier == "S1" and alt.reason is Reason.PRIORITY
    assert alt.detail.startswith("lost on priority: priority 2 against 1, though cheaper at 2")
    assert oa.cheapest_rule == "S2"  # the one-order rule goes by priority for subcontracting too
    assert greedy_split(lines) == {"S2": ("10", "3")}


def test_no_price_difference_beats_one_priority_rank() -> None:
    # 1000 against 0.01 a unit: the priority term is computed from the spread of the prices
    lines = [sub("S1", "1", "0.01", priority=2), sub("S2", "1", "1000", priority=1)]
    [oa] = run([need("10", kind=SUB)], lines)
    assert split(oa) == {"S2": ("10", "1000")}


def test_price_decides_among_equal_priority_with_tiers_on_the_whole_quantity() -> None:
    # S1's 10-tier (4) applies to all 10 units: cheaper than S2's 4.50; S3 is cheaper still
    # but priority 2
    lines = [sub("S1", "1", "6"), sub("S1", "10", "4"), sub("S2", "1", "4.50"),
             sub("S3", "1", "1", priority=2)]
    [oa] = run([need("10", kind=SUB)], lines)
    assert split(oa) == {"S1": ("10", "4")}
    assert reasons(oa) == {"S2": Reason.PRICE, "S3": Reason.PRIORITY}
    assert greedy_split(lines) == {"S1": ("10", "4")}


def test_priority_2_gets_it_when_priority_1_is_blocked() -> None:
    lines = [sub("S1", "1", "3", priority=1), sub("S2", "1", "5", priority=2)]
    suppliers = {"S1": SupplierTerms("S1", None, blocked=True)}
    [oa] = run([need("10", kind=SUB)], lines, suppliers=suppliers)
    assert split(oa) == {"S2": ("10", "5")}
    assert reasons(oa) == {"S1": Reason.BLOCKED}
    assert greedy_split(lines, suppliers=suppliers) == {"S2": ("10", "5")}


def test_priority_2_gets_it_when_priority_1_would_be_late() -> None:
    # due 2027-01-20, today 2027-01-04: S1's 30 days would arrive 2027-02-03
    lines = [sub("S1", "1", "3", priority=1, lead=30), sub("S2", "1", "5", priority=2, lead=5)]
    [oa] = run([need("10", kind=SUB)], lines)
    assert split(oa) == {"S2": ("10", "5")} and not oa.parts[0].late
    assert reasons(oa) == {"S1": Reason.LEAD_TIME}
    assert greedy_split(lines) == {"S2": ("10", "5")}


def test_a_late_priority_1_is_still_chosen_when_no_one_can_deliver_on_time() -> None:
    lines = [sub("S1", "1", "3", priority=1, lead=30), sub("S2", "1", "5", priority=2, lead=40)]
    [oa] = run([need("10", kind=SUB)], lines)
    assert split(oa) == {"S1": ("10", "3")} and oa.parts[0].late


def test_priority_2_gets_what_priority_1_has_no_capacity_for() -> None:
    lines = [sub("S1", "1", "3", priority=1), sub("S2", "1", "2", priority=2)]
    [oa] = run([need("10", kind=SUB)], lines, suppliers=caps(S1="4"))
    assert split(oa) == {"S1": ("4", "3"), "S2": ("6", "2")}
    assert greedy_split(lines, suppliers=caps(S1="4")) == {"S1": ("4", "3"), "S2": ("6", "2")}


def test_priority_1_with_its_week_taken_loses_on_capacity() -> None:
    # two orders due the same week share S1's 10: the first gets it all, the second goes to S2
    lines = [sub("S1", "1", "3", priority=1), sub("S2", "1", "2", priority=2)]
    first, second = run([need("10", kind=SUB), need("10", due=DUE + dt.timedelta(days=1), kind=SUB)],
                        lines, suppliers=caps(S1="10"))
    assert {**split(first), **split(second)} == {"S1": ("10", "3"), "S2": ("10", "2")}
    lost = first if "S2" in split(first) else second
    assert reasons(lost) == {"S1": Reason.CAPACITY}
    assert lost.alternatives[0].detail.startswith("a higher priority, but week")


def test_the_objective_counts_one_rank_as_the_price_spread_plus_one_per_unit() -> None:
    # spread 3 - 2 = 1, so a rank costs 2 a unit: S2 at priority 1 costs 30, S1 at priority 2
    # would cost 20 + 10 x 2 = 40
    lines = [sub("S1", "1", "2", priority=2), sub("S2", "1", "3", priority=1)]
    inp = AllocationInput(TODAY, (need("10", kind=SUB),), tuple(lines))
    best = allocate(inp)
    assert objective(inp, best.orders) == D("30")
    forced = allocate(AllocationInput(TODAY, (need("10", kind=SUB),), tuple(lines),
                                      {"S2": SupplierTerms("S2", None, blocked=True)}))
    assert objective(inp, forced.orders) == D("40")
