"""Worked MRP examples, each computed by hand in its docstring. Today is Monday 2027-01-04 and
every order lives in WH1 unless said otherwise. Orders are written ``qty due (start)``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal
from itertools import pairwise

import pytest

from server.domain.planning.lowlevel import BomCycle, find_cycle, low_level_codes
from server.domain.planning.model import (
    BomLine,
    Demand,
    DemandKind,
    Item,
    ItemKind,
    LotRule,
    Peg,
    Plan,
    PlanningInput,
    Receipt,
    ReceiptKind,
    SupplyChoice,
)
from server.domain.planning.mrp import Coverage, SupplyChooser, plan, plan_with_coverage
from server.domain.planning.render import plan_to_json, qty_text

TODAY = dt.date(2027, 1, 4)
D = Decimal


def day(mmdd: str) -> dt.date:
    return dt.date.fromisoformat(("2026-" if mmdd.startswith("12") else "2027-") + mmdd)


def so(ref: str, sku: str, mmdd: str, qty: str, wh: str = "WH1") -> Demand:
    return Demand(ref, sku, wh, day(mmdd), D(qty))


def fc(sku: str, mmdd: str, qty: str, wh: str = "WH1") -> Demand:
    return Demand(f"forecast:{sku}:{day(mmdd)}", sku, wh, day(mmdd), D(qty), DemandKind.FORECAST)


def line(parent: str, comp: str, qty_per: str, scrap: str = "0") -> BomLine:
    return BomLine(parent, comp, D(qty_per), D(scrap))


def run(items: Iterable[Item], bom: Iterable[BomLine] = (), stock: dict[tuple[str, str], str] | None = None,
        demands: Iterable[Demand] = (), receipts: Iterable[Receipt] = (),
        choose: SupplyChooser | None = None) -> tuple[Plan, tuple[Coverage, ...]]:
    by_parent: dict[str, list[BomLine]] = {}
    for ln in bom:
        by_parent.setdefault(ln.parent, []).append(ln)
    inp = PlanningInput(TODAY, {i.sku: i for i in items}, {p: tuple(ls) for p, ls in by_parent.items()},
                        {k: D(v) for k, v in (stock or {}).items()}, tuple(demands), tuple(receipts))
    return plan_with_coverage(inp, choose)


def orders(p: Plan, sku: str | None = None, wh: str = "WH1") -> list[tuple[str, ...]]:
    """``(sku, "qty due (start)", "ref qty, ...")`` per order, ``late`` appended when late."""
    out = []
    for o in p.planned_orders:
        if (sku is None or o.sku == sku) and o.warehouse == wh:
            text = f"{qty_text(o.qty)} {o.due.isoformat()[5:]} ({o.start.isoformat()[5:]})"
            pegs = ", ".join(f"{g.demand} {qty_text(g.qty)}" for g in o.pegging)
            out.append((o.sku, text + (" late" if o.late else ""), pegs))
    return out


def covered(cov: tuple[Coverage, ...]) -> dict[str, tuple[str, str, str]]:
    return {c.demand.ref: (qty_text(c.stock), qty_text(c.receipts), qty_text(c.planned)) for c in cov}


def buy(sku: str, lead: int = 0, **kw: object) -> Item:
    return Item(sku, ItemKind.BUY, lead, **kw)  # type: ignore[arg-type]


def make(sku: str, lead: int = 0, **kw: object) -> Item:
    return Item(sku, ItemKind.MAKE, lead, **kw)  # type: ignore[arg-type]


def test_single_level_nets_stock_and_offsets_the_lead_time() -> None:
    """A (buy, 5 days), 3 on hand, SO-1 wants 10 on 01-20.
    01-04: 3. 01-20: 3 - 10 = -7 < 0 -> order 7 due 01-20, start 01-20 - 5 = 01-15.
    SO-1 takes the 3 on hand first, then 7 from the order."""
    p, cov = run([buy("A", 5)], stock={("A", "WH1"): "3"}, demands=[so("SO-1", "A", "01-20", "10")])
    assert orders(p) == [("A", "7 01-20 (01-15)", "SO-1 7")]
    assert covered(cov) == {"SO-1": ("3", "0", "7")}
    assert p.exceptions == ()


def test_three_levels_explode_on_each_start_date() -> None:
    """A (make, 2 days) <- 2 B (make, 1 day) <- 3 C (buy, 4 days); 4 B on hand; SO-1: 10 A on 01-20.
    A: 10 due 01-20 (01-18).  B needs 10 x 2 = 20 on 01-18: 4 on hand -> 16 due 01-18 (01-17).
    C needs 16 x 3 = 48 on 01-17 -> 48 due 01-17 (01-13). Every order serves SO-1 only."""
    p, _ = run([make("A", 2), make("B", 1), buy("C", 4)], [line("A", "B", "2"), line("B", "C", "3")],
               {("B", "WH1"): "4"}, [so("SO-1", "A", "01-20", "10")])
    assert orders(p) == [
        ("C", "48 01-17 (01-13)", "SO-1 48"),
        ("B", "16 01-18 (01-17)", "SO-1 16"),
        ("A", "10 01-20 (01-18)", "SO-1 10"),
    ]


def test_a_component_used_at_two_levels_is_netted_once() -> None:
    """A (make, 1) <- B x1 and C x2;  B (make, 2) <- C x3;  C (buy, 0) has 12 on hand.
    Low-level codes: A 0, B 1, C 2 (C's deepest use), so C is netted after A and B, once.
    SO-1: 5 A on 01-20 -> A 5 due 01-20 (01-19): B needs 5 and C needs 10 on 01-19.
    B 5 due 01-19 (01-17): C needs 15 on 01-17.
    C: 01-17: 12 - 15 = -3 -> 3 due 01-17; 01-19: 0 - 10 -> 10 due 01-19.
    C planned 13 = 5x2 + 5x3 - 12: the 12 on hand counted once, not once per level."""
    p, _ = run([make("A", 1), make("B", 2), buy("C")],
               [line("A", "B", "1"), line("A", "C", "2"), line("B", "C", "3")],
               {("C", "WH1"): "12"}, [so("SO-1", "A", "01-20", "5")])
    assert orders(p, "C") == [("C", "3 01-17 (01-17)", "SO-1 3"), ("C", "10 01-19 (01-19)", "SO-1 10")]
    assert low_level_codes({"A": (line("A", "B", "1"), line("A", "C", "2")), "B": (line("B", "C", "3"),)}) \
        == {"A": 0, "B": 1, "C": 2}


def test_safety_stock_is_restored_from_today() -> None:
    """A (buy, 0), safety stock 5, 2 on hand; SO-1 wants 4 on 01-10.
    01-04 (today): 2 < 5 -> 3 due 01-04, on hand 5. 01-10: 5 - 4 = 1 < 5 -> 4 due 01-10, back to 5.
    First come, first served: SO-1 takes the 2 on hand, then 2 of the 01-04 order; the rest of
    the 01-04 order and the whole 01-10 order are safety stock, pegged to nothing."""
    p, cov = run([buy("A", safety_stock=D(5))], stock={("A", "WH1"): "2"},
                 demands=[so("SO-1", "A", "01-10", "4")])
    assert orders(p) == [("A", "3 01-04 (01-04)", "SO-1 2"), ("A", "4 01-10 (01-10)", "")]
    assert covered(cov) == {"SO-1": ("2", "0", "2")}


def test_stock_below_safety_stock_with_a_lead_time_orders_today_late() -> None:
    """A (buy, 3 days), safety stock 10, nothing on hand, no demand at all.
    01-04: 0 < 10 -> 10 due 01-04, should start 01-01 -> moved to today, late by 3 days."""
    p, _ = run([buy("A", 3, safety_stock=D(10))], stock={("A", "WH1"): "0"})
    assert orders(p) == [("A", "10 01-04 (01-04) late", "")]
    assert [(e.sku, e.kind, e.detail) for e in p.exceptions] == [
        ("A", "late", "due 2027-01-04: should start 2027-01-01, 3 days before today; start moved to 2027-01-04")]


def test_min_lot_leftover_carries_forward() -> None:
    """A (buy, 0), lot rule min 50. SO-1 20 on 01-10, SO-2 25 on 01-12, SO-3 10 on 01-15.
    01-10: -20 -> 50 (at least 50), 30 left. 01-12: 30 - 25 = 5. 01-15: 5 - 10 = -5 -> 50, 45 left.
    Pegs first come, first served: the first lot serves SO-1 20, SO-2 25, SO-3 5; the second SO-3 5."""
    p, _ = run([buy("A", lot_rule=LotRule.MIN, lot_qty=D(50))], demands=[
        so("SO-1", "A", "01-10", "20"), so("SO-2", "A", "01-12", "25"), so("SO-3", "A", "01-15", "10")])
    assert orders(p) == [("A", "50 01-10 (01-10)", "SO-1 20, SO-2 25, SO-3 5"),
                         ("A", "50 01-15 (01-15)", "SO-3 5")]


def test_multiple_lot_rounds_up_and_leftover_carries_forward() -> None:
    """A (buy, 0), lot rule multiple of 12. SO-1 20 on 01-10, SO-2 3 on 01-11, SO-3 7 on 01-12.
    01-10: -20 -> 2 x 12 = 24, 4 left. 01-11: 4 - 3 = 1. 01-12: 1 - 7 = -6 -> 12, 6 left.
    Pegs: 24 -> SO-1 20, SO-2 3, SO-3 1;  12 -> SO-3 6 (6 left over)."""
    p, _ = run([buy("A", lot_rule=LotRule.MULTIPLE, lot_qty=D(12))], demands=[
        so("SO-1", "A", "01-10", "20"), so("SO-2", "A", "01-11", "3"), so("SO-3", "A", "01-12", "7")])
    assert orders(p) == [("A", "24 01-10 (01-10)", "SO-1 20, SO-2 3, SO-3 1"),
                         ("A", "12 01-12 (01-12)", "SO-3 6")]


def test_lot_for_lot_and_a_fractional_multiple() -> None:
    """B lot-for-lot orders exactly 6.3; C multiple of 2.5 orders ceil(6.3 / 2.5) = 3 lots = 7.5."""
    p, _ = run([buy("B"), buy("C", lot_rule=LotRule.MULTIPLE, lot_qty=D("2.5"))],
               demands=[so("SO-1", "B", "01-10", "6.3"), so("SO-2", "C", "01-10", "6.3")])
    assert orders(p) == [("B", "6.3 01-10 (01-10)", "SO-1 6.3"), ("C", "7.5 01-10 (01-10)", "SO-2 6.3")]


def test_scrap_makes_exact_fractional_requirements() -> None:
    """A (make, 0) <- 1.5 C with 10 % scrap: factor 1.5 x 1.10 = 1.65. SO-1: 7 A on 01-10.
    C needs 7 x 1.65 = 11.55 on 01-10, exactly (nothing rounded) -> 11.55 due 01-10."""
    p, _ = run([make("A"), buy("C")], [line("A", "C", "1.5", "10")], demands=[so("SO-1", "A", "01-10", "7")])
    assert orders(p, "C") == [("C", "11.55 01-10 (01-10)", "SO-1 11.55")]
    assert [o["qty"] for o in plan_to_json(p)["planned_orders"]] == ["7", "11.55"]  # by due, sku


def test_a_late_start_moves_to_today_and_the_due_date_stays() -> None:
    """A (make, 5) <- 1 B (buy, 2). SO-2 wants 1 A on 01-02 (past due), SO-1 10 A on 01-06.
    A, 01-02 (before today, so the threshold is 0): -1 -> 1 due 01-02, should start 12-28:
    7 days late, start moved to 01-04, still due 01-02. 01-04: 0. 01-06: -10 -> 10 due 01-06,
    should start 01-01: 3 days late, start 01-04.
    B needs 1 + 10 = 11 on 01-04 (both A orders now start today) -> 11 due 01-04, should start
    01-02: 2 days late. Within the day, the requirement of A's earlier order comes first."""
    p, _ = run([make("A", 5), buy("B", 2)], [line("A", "B", "1")],
               demands=[so("SO-1", "A", "01-06", "10"), so("SO-2", "A", "01-02", "1")])
    assert orders(p) == [
        ("A", "1 01-02 (01-04) late", "SO-2 1"),
        ("B", "11 01-04 (01-04) late", "SO-2 1, SO-1 10"),
        ("A", "10 01-06 (01-04) late", "SO-1 10"),
    ]
    assert [(e.sku, e.kind, e.detail) for e in p.exceptions] == [
        ("A", "late", "due 2027-01-02: should start 2026-12-28, 7 days before today; start moved to 2027-01-04"),
        ("A", "late", "due 2027-01-06: should start 2027-01-01, 3 days before today; start moved to 2027-01-04"),
        ("B", "late", "due 2027-01-04: should start 2027-01-02, 2 days before today; start moved to 2027-01-04"),
    ]


def test_forecast_is_consumed_within_its_iso_week_only() -> None:
    """A (buy, 0). ISO weeks: Mon 01-04..Sun 01-10, Mon 01-11..Sun 01-17, Mon 01-18..
    Week 1: forecast 10 on 01-04; SO-1 4 on Fri 01-08 and SO-2 5 on Sun 01-10 consume 9 -> 1 left,
    on 01-04. Week 2: forecast 3 on 01-11, SO-3 6 on 01-12: consumed entirely (dropped); SO-3
    stays 6 (sales beyond forecast are demand). Week 3: forecast 7 on 01-18, no sales in WH1 ->
    7; SO-4 100 in WH2 consumes nothing in WH1. Week 1's sales never touch week 2's forecast.
    WH1 orders, lot-for-lot: 1, 4, 5, 6, 7 = 23 (not 10 + 4 + 5 + 3 + 6 + 7 = 35)."""
    p, cov = run([buy("A")], demands=[
        fc("A", "01-04", "10"), so("SO-1", "A", "01-08", "4"), so("SO-2", "A", "01-10", "5"),
        fc("A", "01-11", "3"), so("SO-3", "A", "01-12", "6"), fc("A", "01-18", "7"),
        so("SO-4", "A", "01-19", "100", "WH2")])
    assert orders(p) == [
        ("A", "1 01-04 (01-04)", "forecast:A:2027-01-04 1"),
        ("A", "4 01-08 (01-08)", "SO-1 4"),
        ("A", "5 01-10 (01-10)", "SO-2 5"),
        ("A", "6 01-12 (01-12)", "SO-3 6"),
        ("A", "7 01-18 (01-18)", "forecast:A:2027-01-18 7"),
    ]
    assert orders(p, wh="WH2") == [("A", "100 01-19 (01-19)", "SO-4 100")]
    assert "forecast:A:2027-01-11" not in covered(cov)


def test_receipts_are_counted_before_requirements_of_the_same_day() -> None:
    """A (buy, 0), nothing on hand. SO-2 3 on 01-09; PO-1 brings 5 on 01-10, SO-1 wants 5 on
    01-10; PO-2 brings 4 on 01-12, SO-3 wants 6 on 01-12.
    01-09: -3 -> 3 due 01-09. 01-10: 0 + 5 - 5 = 0: no order (the receipt comes first).
    01-12: 0 + 4 - 6 = -2 -> 2 due 01-12."""
    p, cov = run([buy("A")], demands=[so("SO-1", "A", "01-10", "5"), so("SO-2", "A", "01-09", "3"),
                                     so("SO-3", "A", "01-12", "6")],
                 receipts=[Receipt("PO-1", "A", "WH1", day("01-10"), D(5)),
                           Receipt("PO-2", "A", "WH1", day("01-12"), D(4))])
    assert orders(p) == [("A", "3 01-09 (01-09)", "SO-2 3"), ("A", "2 01-12 (01-12)", "SO-3 2")]
    assert covered(cov) == {"SO-1": ("0", "5", "0"), "SO-2": ("0", "0", "3"), "SO-3": ("0", "4", "2")}


def test_stock_in_another_warehouse_is_not_used() -> None:
    """100 A on hand in WH2 do not cover SO-1's 10 in WH1: 10 due 01-10 in WH1, nothing in WH2."""
    p, cov = run([buy("A")], stock={("A", "WH2"): "100"}, demands=[so("SO-1", "A", "01-10", "10")])
    assert orders(p) == [("A", "10 01-10 (01-10)", "SO-1 10")]
    assert orders(p, wh="WH2") == []
    assert covered(cov) == {"SO-1": ("0", "0", "10")}


def test_a_make_orders_components_are_required_in_its_own_warehouse() -> None:
    """SO-1 in WH2 for A (make) <- 2 C: C is planned in WH2 though C's stock is in WH1."""
    p, _ = run([make("A"), buy("C")], [line("A", "C", "2")], {("C", "WH1"): "50"},
               [so("SO-1", "A", "01-10", "3", "WH2")])
    assert orders(p, wh="WH2") == [("A", "3 01-10 (01-10)", "SO-1 3"), ("C", "6 01-10 (01-10)", "SO-1 6")]
    assert orders(p, wh="WH1") == []


def test_a_component_is_pegged_to_the_sales_orders_its_parent_serves() -> None:
    """A (make, 1) <- 2 C;  C (buy, 0) in multiples of 25;  4 A on hand.
    SO-1 10 A and SO-2 3 A on 01-20, SO-3 5 A on 01-25.
    A, 01-20: 4 - 13 = -9 -> 9 due 01-20 (01-19). SO-1 takes the 4 on hand and 6 of the order,
    SO-2 3 of it -> pegs SO-1 6, SO-2 3. 01-25: -5 -> 5 due 01-25 (01-24), pegs SO-3 5.
    C needs 9 x 2 = 18 on 01-19 (SO-1 12, SO-2 6) and 5 x 2 = 10 on 01-24 (SO-3 10).
    01-19: -18 -> 25, 7 left. 01-24: 7 - 10 = -3 -> 25, 22 left.
    First lot: SO-1 12, SO-2 6, then the 7 left go to SO-3; second lot: SO-3 3 (22 unpegged)."""
    p, _ = run([make("A", 1), buy("C", lot_rule=LotRule.MULTIPLE, lot_qty=D(25))], [line("A", "C", "2")],
               {("A", "WH1"): "4"},
               [so("SO-1", "A", "01-20", "10"), so("SO-2", "A", "01-20", "3"), so("SO-3", "A", "01-25", "5")])
    assert orders(p) == [
        ("C", "25 01-19 (01-19)", "SO-1 12, SO-2 6, SO-3 7"),
        ("A", "9 01-20 (01-19)", "SO-1 6, SO-2 3"),
        ("C", "25 01-24 (01-24)", "SO-3 3"),
        ("A", "5 01-25 (01-24)", "SO-3 5"),
    ]


def test_open_production_orders_allocate_what_they_still_need_of_their_components() -> None:
    """A (make, 3 days) <- 2 B with 5 % scrap and 1 C;  B (buy, 0), 4 on hand, forecast 3 on
    01-04;  C (buy, 2). Open production orders: MO-7 10 A due 01-12, made for SO-1 (6) and
    SO-2 (4), 6 B and 10 C already issued to it; MO-8 4 A due 01-05, made for stock (no pegs),
    nothing issued. SO-1 wants 6 A and SO-2 4 A on 01-12.
    A: MO-8 brings 4 on 01-05, MO-7 10 on 01-12: the sales orders are covered, no A order.
    MO-7 starts 01-09: B 10 x 2 x 1.05 = 21 - 6 issued = 15; C 10 - 10 issued = nothing.
    Its B pegs: SO-1 6 x 2.1 = 12.6 and SO-2 8.4, the 6 issued taken from the first: SO-1
    6.6, SO-2 8.4. MO-8 starts 01-02, moved to today 01-04: B 4 x 2.1 = 8.4, C 4, unpegged.
    B, 01-04: the forecast first (allocations come after forecasts in a day, and consume
    none), 4 - 3 - 8.4 = -7.4 -> 7.4 due 01-04; 01-09: -15 -> 15 due 01-09 for SO-1 and SO-2.
    C, 01-04: -4 -> 4 due 01-04, should start 01-02: late."""
    mo7 = Receipt("MO-7", "A", "WH1", day("01-12"), D(10), ReceiptKind.PRODUCTION, (("B", D(6)), ("C", D(10))),
                  (Peg("SO-1", D(6)), Peg("SO-2", D(4))))
    mo8 = Receipt("MO-8", "A", "WH1", day("01-05"), D(4), ReceiptKind.PRODUCTION)
    p, cov = run([make("A", 3), buy("B"), buy("C", 2)], [line("A", "B", "2", "5"), line("A", "C", "1")],
                 {("B", "WH1"): "4"}, [so("SO-1", "A", "01-12", "6"), so("SO-2", "A", "01-12", "4"),
                                       fc("B", "01-04", "3")], [mo7, mo8])
    assert orders(p) == [
        ("B", "7.4 01-04 (01-04)", ""),
        ("C", "4 01-04 (01-04) late", ""),
        ("B", "15 01-09 (01-09)", "SO-1 6.6, SO-2 8.4"),
    ]
    got = {(c.demand.ref, c.demand.sku): (qty_text(c.stock), qty_text(c.receipts), qty_text(c.planned)) for c in cov}
    assert got == {("SO-1", "A"): ("0", "6", "0"), ("SO-2", "A"): ("0", "4", "0"), ("forecast:B:2027-01-04", "B"): ("3", "0", "0"),
                   ("MO-8", "B"): ("1", "0", "7.4"), ("MO-7", "B"): ("0", "0", "15"), ("MO-8", "C"): ("0", "0", "4")}
    assert [c.demand.kind for c in cov if c.demand.ref.startswith("MO-")] == [DemandKind.PRODUCTION] * 3


def test_supplier_choice_sets_lead_time_supplier_and_price_and_subcontract_explodes() -> None:
    """S (subcontract) <- 2 K (buy, 6 days, no agreement). The chooser answers S1 at 1.80 with
    7 days for S, nothing for K. SO-1: 5 S on 01-20 -> S 5 due 01-20 (01-13), S1, 1.80.
    K is sent to the subcontractor: 10 needed on 01-13 -> 10 due 01-13 (01-07), no supplier,
    the product's 6 days, and a ``no_supplier`` exception."""
    def choose(item: Item, wh: str, qty: Decimal, need: dt.date) -> SupplyChoice | None:
        assert (wh, need) in {("WH1", day("01-20")), ("WH1", day("01-13"))}
        return SupplyChoice("S1", D("1.80"), 7) if item.sku == "S" else None

    p, _ = run([Item("S", ItemKind.SUBCONTRACT, 2), buy("K", 6)], [line("S", "K", "2")],
               demands=[so("SO-1", "S", "01-20", "5")], choose=choose)
    assert orders(p) == [("K", "10 01-13 (01-07)", "SO-1 10"), ("S", "5 01-20 (01-13)", "SO-1 5")]
    s = p.planned_orders[1]
    assert (s.kind, s.supplier, s.unit_price) == (ItemKind.SUBCONTRACT, "S1", D("1.80"))
    assert [(e.sku, e.kind, e.detail) for e in p.exceptions] == [
        ("K", "no_supplier", "due 2027-01-13: no supplier for 10; the product's lead time of 6 days is used")]


def test_negative_stock_is_paid_back_first_and_reported() -> None:
    """-3 on hand (more was shipped than counted): SO-1 wants 2 on 01-10. 01-04: -3 < 0 -> 3 due
    today (the debt, pegged to nothing); 01-10: -2 -> 2, pegged to SO-1."""
    p, _ = run([buy("A")], stock={("A", "WH1"): "-3"}, demands=[so("SO-1", "A", "01-10", "2")])
    assert orders(p) == [("A", "3 01-04 (01-04)", ""), ("A", "2 01-10 (01-10)", "SO-1 2")]
    assert [(e.kind, e.detail) for e in p.exceptions] == [("negative_stock", "on hand -3: covered by the first supply")]


def test_plan_json_has_the_contract_shape() -> None:
    """Quantities without exponent and without trailing zeros, prices at their own scale."""
    def choose(item: Item, wh: str, qty: Decimal, need: dt.date) -> SupplyChoice | None:
        return SupplyChoice("S1", D("1.80"), 5)

    p, _ = run([buy("C", lot_rule=LotRule.MULTIPLE, lot_qty=D("25"))], demands=[so("SO-1", "C", "01-16", "10.00")],
               choose=choose)
    doc = plan_to_json(p)
    assert doc == {"today": "2027-01-04", "exceptions": [], "planned_orders": [
        {"sku": "C", "warehouse": "WH1", "kind": "buy", "qty": "25", "start": "2027-01-11", "due": "2027-01-16",
         "supplier": "S1", "unit_price": "1.80", "late": False, "pegging": [{"demand": "SO-1", "qty": "10"}]}]}
    assert json.loads(json.dumps(doc)) == doc
    assert qty_text(D("1E+2")) == "100" and qty_text(D("0.000")) == "0" and qty_text(D("12.50")) == "12.5"


def test_bom_cycles_are_named_and_refused() -> None:
    bom = {"A": (line("A", "B", "1"),), "B": (line("B", "C", "1"),), "C": (line("C", "A", "1"),)}
    assert find_cycle(bom) == ["A", "B", "C", "A"]
    assert find_cycle({"A": (line("A", "A", "1"),)}) == ["A", "A"]
    assert find_cycle({"A": (line("A", "B", "1"),), "B": ()}) is None
    with pytest.raises(BomCycle) as e:
        plan(PlanningInput(TODAY, {s: make(s) for s in "ABC"}, bom, {}, ()))
    assert e.value.path == ["A", "B", "C", "A"] and "A -> B -> C -> A" in str(e.value)


def test_long_quantities_are_kept_exact_beyond_28_digits() -> None:
    """A <- B <- C <- D, each 1.2345678901 per with 3.3333 % scrap, 7.123456789 A wanted: D
    needs 7.123456789 x (1.2345678901 x 1.033333)^3, a 40-odd-digit number. The default decimal
    context (28 digits) would round it; the plan keeps it whole."""
    import decimal

    per, scrap, want = D("1.2345678901"), D("3.3333"), D("7.123456789")
    skus = "ABCD"
    p, _ = run([make(s) for s in skus[:3]] + [buy("D")],
               [line(a, b, str(per), str(scrap)) for a, b in pairwise(skus)],
               demands=[so("SO-1", "A", "01-10", str(want))])
    with decimal.localcontext() as ctx:
        ctx.prec = 100
        exact = want * (per * (1 + scrap / 100)) ** 3
    (d_order,) = [o for o in p.planned_orders if o.sku == "D"]
    assert d_order.qty == exact and len(exact.as_tuple().digits) > 28
    assert d_order.pegging[0].qty == exact


def test_planning_leaves_the_garbage_collector_as_it_found_it() -> None:
    """The collector is paused during a run and restored after, whether it was on or off; the
    result goes to the oldest generation without freezing anything."""
    import gc

    demands = [so("SO-1", "A", "01-10", "3")]
    was = gc.isenabled()
    try:
        gc.enable()
        run([buy("A")], demands=demands)
        assert gc.isenabled() and gc.get_freeze_count() == 0
        gc.disable()
        run([buy("A")], demands=demands)
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()
