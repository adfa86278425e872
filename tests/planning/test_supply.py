"""The simple supply rule, cheapest valid agreement, on worked examples (most taken from the demo
company's price_agreements.csv), and its use as MRP's supply chooser."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from server.domain.planning.model import Demand, Item, ItemKind, PlanningInput
from server.domain.planning.mrp import plan
from server.domain.planning.supply import (
    Agreement,
    AgreementKind,
    cheapest_valid_agreement,
    choose_agreement,
    order_date,
)

P, SUB = AgreementKind.PURCHASE, AgreementKind.SUBCONTRACT
TODAY = dt.date(2026, 12, 1)
SCREW = Item("RM-SCREW-M6", ItemKind.BUY, lead_time_days=5)
MOTOR = Item("PT-MOTOR", ItemKind.BUY, lead_time_days=42)
LEG = Item("SC-LEG-PC", ItemKind.SUBCONTRACT, lead_time_days=10)

SCREWS = [  # demo: S01 has three tiers with priority 1; S03 is second choice, open-ended
    Agreement("S01", "RM-SCREW-M6", P, D(1), D("0.045"), dt.date(2026, 1, 1), dt.date(2027, 12, 31), 1, 5),
    Agreement("S01", "RM-SCREW-M6", P, D(5000), D("0.038"), dt.date(2026, 1, 1), dt.date(2027, 12, 31), 1, 5),
    Agreement("S01", "RM-SCREW-M6", P, D(20000), D("0.032"), dt.date(2026, 1, 1), dt.date(2027, 12, 31), 1, 5),
    Agreement("S03", "RM-SCREW-M6", P, D(1), D("0.041"), dt.date(2026, 1, 1), None, 2, 7),
]
MOTORS = [  # demo: S02 changed its price list on 2026-07-01; 42 days lead time
    Agreement("S02", "PT-MOTOR", P, D(1), D("71.00"), dt.date(2026, 1, 1), dt.date(2026, 6, 30), 1, 42),
    Agreement("S02", "PT-MOTOR", P, D(1), D("66.00"), dt.date(2026, 7, 1), dt.date(2027, 6, 30), 1, 42),
    Agreement("S02", "PT-MOTOR", P, D(100), D("62.50"), dt.date(2026, 7, 1), dt.date(2027, 6, 30), 1, 42),
]


def pick(agreements: list[Agreement], item: Item, qty: str, due: dt.date,
         today: dt.date = TODAY) -> tuple[str, D] | None:
    a = choose_agreement(agreements, item, D(qty), due, today)
    return None if a is None else (a.supplier, a.unit_price)


def test_the_cheapest_tier_wins_even_from_a_second_choice_supplier() -> None:
    due = dt.date(2026, 12, 20)
    # 4000 screws: S01's first tier is 0.045, S03 (priority 2) asks 0.041: price beats priority
    assert pick(SCREWS, SCREW, "4000", due) == ("S03", D("0.041"))
    # 5000 reaches S01's second tier, 0.038, which applies to the whole order
    assert pick(SCREWS, SCREW, "5000", due) == ("S01", D("0.038"))
    assert pick(SCREWS, SCREW, "4999.5", due) == ("S03", D("0.041"))
    assert pick(SCREWS, SCREW, "25000", due) == ("S01", D("0.032"))


def test_an_agreement_must_be_valid_on_the_day_the_order_is_placed() -> None:
    today = dt.date(2026, 5, 1)
    # due 2026-08-05, 42 days lead: placed 2026-06-24, when only the old 71.00 list was valid
    assert order_date(dt.date(2026, 8, 5), 42, today) == dt.date(2026, 6, 24)
    assert pick(MOTORS, MOTOR, "10", dt.date(2026, 8, 5), today) == ("S02", D("71.00"))
    # due 2026-08-12: placed 2026-07-01, the new list's first day
    assert pick(MOTORS, MOTOR, "10", dt.date(2026, 8, 12), today) == ("S02", D("66.00"))
    assert pick(MOTORS, MOTOR, "120", dt.date(2026, 8, 12), today) == ("S02", D("62.50"))
    # placed 2027-06-30 is the last valid day; a day later nothing is valid
    assert pick(MOTORS, MOTOR, "10", dt.date(2027, 8, 11), today) == ("S02", D("66.00"))
    assert pick(MOTORS, MOTOR, "10", dt.date(2027, 8, 12), today) is None


def test_a_late_order_is_placed_today_so_todays_agreements_apply() -> None:
    # due in 4 days with 42 days lead: the order is late and placed today (2026-12-01)
    assert order_date(dt.date(2026, 12, 5), 42, TODAY) == TODAY
    assert pick(MOTORS, MOTOR, "10", dt.date(2026, 12, 5)) == ("S02", D("66.00"))
    # were it placed 42 days before due, the old (dearer) list would have applied; it is not
    assert pick(MOTORS, MOTOR, "10", dt.date(2026, 7, 20), dt.date(2026, 7, 1)) == ("S02", D("66.00"))


def test_each_agreement_is_checked_on_its_own_order_date() -> None:
    item = Item("X", ItemKind.BUY, lead_time_days=3)
    slow_cheap = Agreement("SLOW", "X", P, D(1), D("1.00"), dt.date(2027, 1, 1), None, 1, 30)
    fast_dear = Agreement("FAST", "X", P, D(1), D("2.00"), dt.date(2027, 1, 1), None, 1, None)
    # due 2027-01-20: SLOW would be ordered 2026-12-21, before it is valid; FAST (the product's
    # 3 days) on 2027-01-17
    assert pick([slow_cheap, fast_dear], item, "5", dt.date(2027, 1, 20)) == ("FAST", D("2.00"))
    assert pick([slow_cheap, fast_dear], item, "5", dt.date(2027, 2, 5)) == ("SLOW", D("1.00"))


def test_blocked_suppliers_and_tiers_above_the_quantity_are_never_chosen() -> None:
    blocked = [Agreement("S09", "RM-SCREW-M6", P, D(1), D("0.001"), dt.date(2026, 1, 1), None, 1, 1, blocked=True)]
    assert pick(SCREWS + blocked, SCREW, "10", dt.date(2026, 12, 20)) == ("S03", D("0.041"))
    big_only = [Agreement("S01", "RM-SCREW-M6", P, D(5000), D("0.038"), dt.date(2026, 1, 1), None, 1, 5)]
    assert pick(big_only, SCREW, "4999", dt.date(2026, 12, 20)) is None


def test_ties_go_to_priority_then_lead_time_then_supplier_code() -> None:
    def a(sup: str, prio: int, lead: int) -> Agreement:
        return Agreement(sup, "X", P, D(1), D("5.00"), dt.date(2026, 1, 1), None, prio, lead)

    item = Item("X", ItemKind.BUY, lead_time_days=3)
    due = dt.date(2027, 3, 1)
    assert pick([a("B", 2, 1), a("C", 1, 9)], item, "1", due) == ("C", D("5.00"))
    assert pick([a("B", 1, 9), a("C", 1, 2)], item, "1", due) == ("C", D("5.00"))
    assert pick([a("C", 1, 2), a("B", 1, 2)], item, "1", due) == ("B", D("5.00"))


def test_the_kind_of_agreement_follows_the_kind_of_product() -> None:
    legs = [Agreement("S04", "SC-LEG-PC", SUB, D(1), D("6.50"), dt.date(2026, 1, 1), None, 1, 10),
            Agreement("S04", "SC-LEG-PC", SUB, D(200), D("5.90"), dt.date(2026, 1, 1), None, 1, 10),
            Agreement("S05", "SC-LEG-PC", P, D(1), D("1.00"), dt.date(2026, 1, 1), None, 1, 10)]
    assert pick(legs, LEG, "40", dt.date(2027, 1, 1)) == ("S04", D("6.50"))
    assert pick(legs, LEG, "200", dt.date(2027, 1, 1)) == ("S04", D("5.90"))
    assert pick(legs, Item("SC-LEG-PC", ItemKind.BUY), "40", dt.date(2027, 1, 1)) == ("S05", D("1.00"))
    assert pick(legs, Item("SC-LEG-PC", ItemKind.MAKE), "40", dt.date(2027, 1, 1)) is None


def test_mrp_takes_supplier_price_and_lead_time_from_the_rule() -> None:
    today = dt.date(2026, 12, 1)
    inp = PlanningInput(
        today=today,
        items={"RM-SCREW-M6": SCREW},
        bom={},
        stock={("RM-SCREW-M6", "WH1"): D(1000)},
        demands=(Demand("SO-1", "RM-SCREW-M6", "WH1", dt.date(2026, 12, 20), D(7000)),
                 Demand("SO-2", "RM-SCREW-M6", "WH1", dt.date(2026, 12, 28), D(500))),
    )
    p = plan(inp, cheapest_valid_agreement(SCREWS, today))
    first, second = p.planned_orders
    # 6000 net: S01's 5000 tier at 0.038, S01's own 5 days lead time
    assert (first.qty, first.supplier, first.unit_price) == (D(6000), "S01", D("0.038"))
    assert (first.start, first.due) == (dt.date(2026, 12, 15), dt.date(2026, 12, 20))
    # 500: S03 at 0.041 with its 7 days
    assert (second.qty, second.supplier, second.unit_price) == (D(500), "S03", D("0.041"))
    assert (second.start, second.due) == (dt.date(2026, 12, 21), dt.date(2026, 12, 28))
    # nobody sells it: the product's lead time and a no_supplier exception
    p = plan(inp, cheapest_valid_agreement([], today))
    assert all(o.supplier is None and o.start == o.due - dt.timedelta(days=5) for o in p.planned_orders)
    assert {e.kind for e in p.exceptions} == {"no_supplier"}
