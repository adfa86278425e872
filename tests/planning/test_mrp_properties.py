"""Properties of every regenerative plan, on random small companies (tests/planning/strategies.py).

Each check recomputes what it needs from the input and the plan, independently of the engine:
the gross requirements (independent demand after forecast consumption, plus the components of
every planned make/subcontract order), projected on hand, the pegs a component may receive.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.planning.model import DemandKind, ItemKind, Plan, PlanningInput, ReceiptKind
from server.domain.planning.mrp import Coverage, plan, plan_with_coverage
from tests.planning.strategies import TODAY, Company, chooser, companies

SETTINGS = settings(max_examples=300, deadline=None)


def _plan(co: Company, use_chooser: bool) -> tuple[PlanningInput, Plan, tuple[Coverage, ...]]:
    inp = co.input()
    p, cov = plan_with_coverage(inp, chooser if use_chooser else None)
    return inp, p, cov


def _factor(inp: PlanningInput, parent: str) -> list[tuple[str, Decimal]]:
    if inp.items[parent].kind is ItemKind.BUY:
        return []
    return [(ln.component, ln.qty_per * (1 + ln.scrap_pct / 100)) for ln in inp.bom.get(parent, ())]


def _week(d: dt.date) -> tuple[int, int]:
    return d.isocalendar()[:2]


def _effective_totals(inp: PlanningInput) -> dict[tuple[str, str, tuple[int, int]], Decimal]:
    """Per product, warehouse and ISO week: sales + whatever forecast exceeds them, + what open
    production orders still need of their components (from their start date)."""
    sales: dict[tuple[str, str, tuple[int, int]], Decimal] = defaultdict(Decimal)
    fc: dict[tuple[str, str, tuple[int, int]], Decimal] = defaultdict(Decimal)
    for d in inp.demands:
        (fc if d.kind is DemandKind.FORECAST else sales)[(d.sku, d.warehouse, _week(d.date))] += d.qty
    out = {k: sales[k] + max(Decimal(0), fc[k] - sales[k]) for k in sales.keys() | fc.keys()}
    for r in inp.receipts:  # an open production order allocates what it still needs of its components
        if r.kind is not ReceiptKind.PRODUCTION or r.qty <= 0:
            continue
        need: dict[str, Decimal] = defaultdict(Decimal)
        for comp, f in _factor(inp, r.sku):
            need[comp] += r.qty * f
        for comp, q in r.issued:
            if comp in need:
                need[comp] -= q
        start = max(TODAY, r.date - dt.timedelta(days=inp.items[r.sku].lead_time_days))
        for comp, q in need.items():
            if q > 0:
                key = (comp, r.warehouse, _week(start))
                out[key] = out.get(key, Decimal(0)) + q
    return out


@SETTINGS
@given(companies(), st.booleans())
def test_projected_on_hand_never_falls_below_safety_stock(co: Company, use_chooser: bool) -> None:
    """From today on, projected on hand (stock + receipts + planned orders on their due date -
    gross requirements, a day's receipts before its requirements) is never below safety stock;
    before today it is never negative. Late orders too: they are still due on the need date."""
    inp, p, cov = _plan(co, use_chooser)
    gross: dict[tuple[str, str], dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    supply: dict[tuple[str, str], dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for c in cov:
        gross[(c.demand.sku, c.demand.warehouse)][c.demand.date] += c.demand.qty
    for o in p.planned_orders:
        supply[(o.sku, o.warehouse)][o.due] += o.qty
        for comp, f in _factor(inp, o.sku):
            gross[(comp, o.warehouse)][o.start] += o.qty * f
    for r in inp.receipts:
        supply[(r.sku, r.warehouse)][r.date] += r.qty
    for key in gross.keys() | supply.keys() | inp.stock.keys():
        ss = inp.items[key[0]].safety_stock
        poh = inp.stock.get(key, Decimal(0))
        for day in sorted({TODAY, *gross[key], *supply[key]}):
            poh += supply[key][day] - gross[key][day]
            floor = ss if day >= TODAY else Decimal(0)
            assert poh >= floor, (key, day, poh, floor)


def _reserved_pegs(inp: PlanningInput) -> dict[tuple[str, str, str], list[tuple[str, Decimal]]]:
    """Per (component, warehouse, production order): the order's pegs times the component's
    factor, less what was issued to it, taken from the first pegs."""
    out: dict[tuple[str, str, str], list[tuple[str, Decimal]]] = {}
    for r in inp.receipts:
        if r.kind is not ReceiptKind.PRODUCTION:
            continue
        factor: dict[str, Decimal] = defaultdict(Decimal)
        for comp, f in _factor(inp, r.sku):
            factor[comp] += f
        for comp, f in factor.items():
            issued = dict(r.issued).get(comp, Decimal(0))
            pegs = []
            for p in r.pegging:
                take = max(Decimal(0), p.qty * f - issued)
                issued = max(Decimal(0), issued - p.qty * f)
                if take:
                    pegs.append((p.demand, take))
            out[(comp, r.warehouse, r.ref)] = pegs
    return out


@SETTINGS
@given(companies(), st.booleans())
def test_every_demand_is_covered_and_pegged(co: Company, use_chooser: bool) -> None:
    """Each demand (after forecast consumption) is covered exactly by stock + receipts +
    planned orders; the effective demand per week is sales + the forecast beyond them; the
    planned part is what the product's own orders peg to it; a component's orders peg to a
    demand at most what its parents' orders pass down (exactly that when the component has no
    stock or receipts to cover part of it)."""
    inp, p, cov = _plan(co, use_chooser)
    totals: dict[tuple[str, str, tuple[int, int]], Decimal] = defaultdict(Decimal)
    for c in cov:
        assert c.stock >= 0 and c.receipts >= 0 and c.planned >= 0
        assert c.covered == c.demand.qty > 0
        totals[(c.demand.sku, c.demand.warehouse, _week(c.demand.date))] += c.demand.qty
    assert {k: v for k, v in totals.items()} == {k: v for k, v in _effective_totals(inp).items() if v}

    inflow: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    reserved = _reserved_pegs(inp)
    for c in cov:
        if c.planned and c.demand.kind is DemandKind.PRODUCTION:  # hands on its order's pegs
            for ref, q in reserved[(c.demand.sku, c.demand.warehouse, c.demand.ref)]:
                inflow[(c.demand.sku, c.demand.warehouse)][ref] += q
        elif c.planned:
            inflow[(c.demand.sku, c.demand.warehouse)][c.demand.ref] += c.planned
    pegged: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for o in p.planned_orders:
        refs = [g.demand for g in o.pegging]
        assert len(refs) == len(set(refs)), "pegs are merged per demand"
        assert all(g.qty > 0 for g in o.pegging)
        assert sum((g.qty for g in o.pegging), Decimal(0)) <= o.qty
        for g in o.pegging:
            pegged[(o.sku, o.warehouse)][g.demand] += g.qty
            for comp, f in _factor(inp, o.sku):
                inflow[(comp, o.warehouse)][g.demand] += g.qty * f
    receiving = {(r.sku, r.warehouse) for r in inp.receipts}
    for key in pegged.keys() | inflow.keys():
        exact = inp.stock.get(key, Decimal(0)) <= 0 and key not in receiving
        for ref in pegged[key].keys() | inflow[key].keys():
            if exact:
                assert pegged[key][ref] == inflow[key][ref], (key, ref)
            else:
                assert pegged[key][ref] <= inflow[key][ref], (key, ref)


@SETTINGS
@given(companies(), st.booleans())
def test_planned_orders_are_positive_timed_and_flagged(co: Company, use_chooser: bool) -> None:
    """Quantities are positive; one order per product, warehouse and due date; the start is
    the due date minus the lead time (the chooser's for buy/subcontract when it answers), or
    today with ``late`` and a ``late`` exception when that is in the past; output is sorted."""
    inp, p, _ = _plan(co, use_chooser)
    seen = set()
    late: Counter[str] = Counter()
    for o in p.planned_orders:
        assert o.qty > 0
        assert (o.sku, o.warehouse, o.due) not in seen
        seen.add((o.sku, o.warehouse, o.due))
        item = inp.items[o.sku]
        lead = item.lead_time_days
        if use_chooser and item.kind is not ItemKind.MAKE:
            choice = chooser(item, o.warehouse, o.qty, o.due)
            if choice is not None:
                lead = choice.lead_time_days
                assert (o.supplier, o.unit_price) == (choice.supplier, choice.unit_price)
        wanted = o.due - dt.timedelta(days=lead)
        assert o.late == (wanted < TODAY)
        assert o.start == (TODAY if o.late else wanted)
        late[o.sku] += o.late
    assert +late == Counter(e.sku for e in p.exceptions if e.kind == "late")
    keys = [(o.due, o.sku, o.warehouse, o.start) for o in p.planned_orders]
    assert keys == sorted(keys)
    ekeys = [(e.sku, e.warehouse or "", e.kind, e.detail) for e in p.exceptions]
    assert ekeys == sorted(ekeys)


@settings(max_examples=100, deadline=None)
@given(companies(), st.randoms(use_true_random=False))
def test_the_plan_does_not_depend_on_input_order(co: Company, rnd: random.Random) -> None:
    inp = co.input()
    shuffled = list(inp.demands)
    rnd.shuffle(shuffled)
    receipts = list(inp.receipts)
    rnd.shuffle(receipts)
    items = list(inp.items.items())
    rnd.shuffle(items)
    other = PlanningInput(inp.today, dict(items), inp.bom, inp.stock, tuple(shuffled), tuple(receipts))
    assert plan(other, chooser) == plan(inp, chooser)
