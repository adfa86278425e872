"""Net-change MRP gives exactly the regenerative plan: after any sequence of random changes
(demand added or dropped, stock, receipts, item parameters, BOM lines added or dropped), the
planner told only which products changed returns the same planned orders, pegging included,
and the same exceptions as a full ``plan()`` of the same input; and it re-nets only part of the
company when the change is local."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.planning.model import (
    BomLine,
    Demand,
    DemandKind,
    Item,
    ItemKind,
    LotRule,
    MrpException,
    Plan,
    PlanningInput,
)
from server.domain.planning.mrp import plan, plan_with_coverage
from server.domain.planning.netchange import NetChangePlanner, PlanDelta, changed_skus
from tests.planning.strategies import TODAY, Company, changes, chooser, companies


@settings(max_examples=400, deadline=None)
@given(st.data(), st.booleans())
def test_net_change_equals_regenerative_after_any_changes(data: st.DataObject, use_chooser: bool) -> None:
    co = data.draw(companies(max_demands=30))
    choose = chooser if use_chooser else None
    planner = NetChangePlanner(co.input(), choose)
    assert planner.plan == plan(co.input(), choose)
    for state, touched in data.draw(changes(co)):
        inp = state.input()
        before = planner.plan
        delta = planner.update(inp, touched)
        got = planner.plan
        want, coverage = plan_with_coverage(inp, choose)
        assert got.planned_orders == want.planned_orders
        assert got.exceptions == want.exceptions
        assert got == want
        assert planner.coverage() == coverage
        assert _apply(before, delta) == got


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_changed_skus_names_at_least_what_each_change_touched_and_plans_alike(data: st.DataObject) -> None:
    """What the server does: diff the input it read before against the one it reads now."""
    co = data.draw(companies(max_demands=20))
    old = co.input()
    planner = NetChangePlanner(old, chooser)
    for state, touched in data.draw(changes(co)):
        inp = state.input()
        found = changed_skus(old, inp)
        assert found >= {s for s in touched if _own_inputs(old, s) != _own_inputs(inp, s)}
        planner.update(inp, found)
        assert planner.plan == plan(inp, chooser)
        old = inp


def _own_inputs(inp: PlanningInput, sku: str) -> tuple[object, ...]:
    return (inp.items.get(sku), inp.bom.get(sku), sorted((k, v) for k, v in inp.stock.items() if k[0] == sku),
            sorted(repr(d) for d in inp.demands if d.sku == sku), sorted(repr(r) for r in inp.receipts if r.sku == sku))


def _apply(before: Plan, delta: PlanDelta) -> Plan:
    """The plan ``before`` with the delta applied: the delta says everything that changed."""
    orders = {(o.due, o.sku, o.warehouse): o for o in before.planned_orders}
    for sku, wh, due, o in delta.orders:
        if o is None:
            del orders[(due, sku, wh)]
        else:
            orders[(due, sku, wh)] = o
    excs: dict[tuple[str, str], list[MrpException]] = {}
    for e in before.exceptions:
        excs.setdefault((e.sku, e.warehouse or ""), []).append(e)
    for sku, wh, es in delta.exceptions:
        excs[(sku, wh)] = list(es)
    return Plan(delta.today, tuple(o for _, o in sorted(orders.items())),
                tuple(e for _, es in sorted(excs.items()) for e in es))


def _chain_company(n_products: int) -> Company:
    """Independent finished goods F0..Fn, each made from its own part and one shared part."""
    items = {"SHARED": Item("SHARED", ItemKind.BUY, 3, lot_rule=LotRule.LOT_FOR_LOT)}
    bom = {}
    demands = []
    for i in range(n_products):
        items[f"F{i}"] = Item(f"F{i}", ItemKind.MAKE, 1)
        items[f"C{i}"] = Item(f"C{i}", ItemKind.BUY, 2)
        bom[f"F{i}"] = [BomLine(f"F{i}", f"C{i}", Decimal(2)), BomLine(f"F{i}", "SHARED", Decimal(1))]
        demands.append(Demand(f"SO-{i}", f"F{i}", "W1", TODAY + dt.timedelta(days=10 + i), Decimal(5)))
    return Company(items, bom, {}, demands)


def test_a_new_order_line_re_nets_only_its_product_its_parts_and_what_they_share() -> None:
    """A new line for F3 re-nets F3, C3 and SHARED (3 of 21 cells); the other products'
    parts are reused untouched, and the plan still equals the regenerative one."""
    co = _chain_company(10)
    planner = NetChangePlanner(co.input())
    co.demands.append(Demand("SO-NEW", "F3", "W1", TODAY + dt.timedelta(days=20), Decimal(4)))
    planner.update(co.input(), {"F3"})
    got = planner.plan
    assert got == plan(co.input())
    assert planner.last_stats["renetted"] == 3
    assert planner.last_stats["cells"] == 21


def test_a_change_that_only_moves_pegs_re_pegs_without_re_netting() -> None:
    """A sales order replacing forecast in the same week and on the same day leaves every
    quantity as it was: F0 is re-netted, but C0 and SHARED only get their pegs rewritten."""
    co = _chain_company(2)
    day = TODAY + dt.timedelta(days=12)  # a Monday
    co.demands.append(Demand(f"forecast:F0:{day}", "F0", "W1", day, Decimal(10), DemandKind.FORECAST))
    planner = NetChangePlanner(co.input())
    co.demands.append(Demand("SO-X", "F0", "W1", day, Decimal(4)))
    planner.update(co.input(), {"F0"})
    got = planner.plan
    assert got == plan(co.input())
    assert planner.last_stats["renetted"] == 1
    assert planner.last_stats["repegged"] == 2
    f0 = [o for o in got.planned_orders if o.sku == "C0" and o.due == day - dt.timedelta(days=1)]
    assert [(g.demand, g.qty) for g in f0[0].pegging] == [("SO-X", Decimal(8)), (f"forecast:F0:{day}", Decimal(12))]


def test_a_bom_change_and_a_new_today_are_planned_like_regenerative() -> None:
    co = _chain_company(3)
    planner = NetChangePlanner(co.input())
    co.bom["F1"] = [BomLine("F1", "C1", Decimal(3), Decimal(10))]
    before = planner.plan
    delta = planner.update(co.input(), {"F1"})
    assert planner.plan == plan(co.input()) == _apply(before, delta)
    later = replace(co.input(), today=TODAY + dt.timedelta(days=12))
    before = planner.plan
    delta = planner.update(later, set())
    assert planner.plan == plan(later) == _apply(before, delta)
    assert {o for *_, o in delta.orders if o is not None} == set(planner.plan.planned_orders)


def test_a_component_re_netted_for_one_parent_still_takes_new_pegs_from_another() -> None:
    """C is used by A and B. A's new sales order replaces part of its forecast on the same
    day (A's quantities stay, its pegs change) while B's order grows (C is re-netted). C's
    order for A keeps its quantity and chunks, yet must now peg SO-A as well."""
    day = TODAY + dt.timedelta(days=12)  # a Monday
    items = {s: Item(s, ItemKind.MAKE) for s in "AB"} | {"C": Item("C", ItemKind.BUY)}
    bom = {"A": [BomLine("A", "C", Decimal(1))], "B": [BomLine("B", "C", Decimal(1))]}
    co = Company(items, bom, {}, [
        Demand(f"forecast:A:{day}", "A", "W1", day, Decimal(10), DemandKind.FORECAST),
        Demand("SO-B", "B", "W1", day + dt.timedelta(days=3), Decimal(5)),
    ])
    planner = NetChangePlanner(co.input())
    co.demands[1] = Demand("SO-B", "B", "W1", day + dt.timedelta(days=3), Decimal(6))
    co.demands.append(Demand("SO-A", "A", "W1", day, Decimal(4)))
    planner.update(co.input(), {"A", "B"})
    got = planner.plan
    assert got == plan(co.input())
    (c_for_a,) = [o for o in got.planned_orders if o.sku == "C" and o.due == day]
    assert [(g.demand, g.qty) for g in c_for_a.pegging] == [("SO-A", Decimal(4)), (f"forecast:A:{day}", Decimal(6))]
