"""Hypothesis strategies for planning: small companies (a handful of products, an acyclic BOM
with shared components, two warehouses, sales orders and forecasts around ``TODAY`` so that
past-due demand, ISO-week forecast consumption, receipts, safety stock, every lot rule, scrap
and late starts all occur), and sequences of changes to one (for net-change).

Products are ``P0``..``Pn``; a BOM line always goes from a lower to a higher index, so the BOM
is acyclic and a product can be a component at several levels.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from hypothesis import strategies as st

from server.domain.planning.model import (
    BomLine,
    Demand,
    DemandKind,
    Item,
    ItemKind,
    LotRule,
    Peg,
    PlanningInput,
    Receipt,
    ReceiptKind,
    SupplyChoice,
)

__all__ = [
    "TODAY",
    "WAREHOUSES",
    "Company",
    "changes",
    "chooser",
    "companies",
]

TODAY = dt.date(2027, 1, 6)  # a Wednesday: the week of today started two days ago
WAREHOUSES = ("W1", "W2")
QTYS = [Decimal(x) for x in ("0.5", "1", "2", "3", "4", "5", "7.25", "10", "12")]
QTY_PER = [Decimal(x) for x in ("0.5", "1", "1", "2", "3")]
SCRAP = [Decimal(x) for x in ("0", "0", "10", "2.5")]
LOTS = [Decimal(x) for x in ("2", "2.5", "5", "10")]


def chooser(item: Item, warehouse: str, qty: Decimal, need: dt.date) -> SupplyChoice | None:
    """A pure supply chooser: no supplier for products ending in 3, else a lead time that
    depends on the need date's weekday and a price that depends on the quantity."""
    if item.sku.endswith("3"):
        return None
    return SupplyChoice(f"S{need.weekday() % 2}", Decimal("1.80") if qty >= 5 else Decimal("2.05"),
                        1 + need.weekday() % 3)


@dataclass
class Company:
    """A planning input being edited: plain dicts and lists, turned into a PlanningInput."""

    items: dict[str, Item]
    bom: dict[str, list[BomLine]]
    stock: dict[tuple[str, str], Decimal]
    demands: list[Demand]
    receipts: list[Receipt] = field(default_factory=list)

    def input(self) -> PlanningInput:
        return PlanningInput(TODAY, dict(self.items), {p: tuple(ls) for p, ls in self.bom.items() if ls},
                             dict(self.stock), tuple(self.demands), tuple(self.receipts))

    def copy(self) -> Company:
        return Company(dict(self.items), {p: list(ls) for p, ls in self.bom.items()}, dict(self.stock),
                       list(self.demands), list(self.receipts))


dates = st.integers(-4, 24).map(lambda n: TODAY + dt.timedelta(days=n))


@st.composite
def items(draw: st.DrawFn, sku: str) -> Item:
    kind = draw(st.sampled_from(list(ItemKind)))
    rule = draw(st.sampled_from(list(LotRule)))
    return Item(sku, kind, draw(st.integers(0, 6)),
                draw(st.sampled_from([Decimal(0), Decimal(0), Decimal(3), Decimal("4.5")])), rule,
                None if rule is LotRule.LOT_FOR_LOT else draw(st.sampled_from(LOTS)))


@st.composite
def bom_lines(draw: st.DrawFn, n: int) -> list[BomLine]:
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 2), st.integers(1, n - 1))
                          .filter(lambda p: p[0] < p[1]), max_size=2 * n, unique=True))
    return [BomLine(f"P{a}", f"P{b}", draw(st.sampled_from(QTY_PER)), draw(st.sampled_from(SCRAP)))
            for a, b in pairs]


@st.composite
def demands(draw: st.DrawFn, skus: list[str], n: int) -> Demand:
    sku = draw(st.sampled_from(skus[: max(1, len(skus) // 2 + 1)]))
    wh = draw(st.sampled_from(WAREHOUSES))
    day = draw(dates)
    if draw(st.booleans()):
        return Demand(f"forecast:{sku}:{day.isoformat()}", sku, wh, day, draw(st.sampled_from(QTYS)),
                      DemandKind.FORECAST)
    return Demand(f"SO-{n}", sku, wh, day, draw(st.sampled_from(QTYS)))


@st.composite
def receipts(draw: st.DrawFn, skus: list[str], n: int) -> Receipt:
    """A purchase order line, or a production order (which allocates its components) with
    something already issued to it now and then."""
    sku, wh, day, qty = (draw(st.sampled_from(skus)), draw(st.sampled_from(WAREHOUSES)), draw(dates),
                         draw(st.sampled_from(QTYS)))
    if draw(st.booleans()):
        return Receipt(f"PO-{n}", sku, wh, day, qty)
    issued = draw(st.lists(st.tuples(st.sampled_from(skus), st.sampled_from(QTYS)), max_size=2,
                           unique_by=lambda t: t[0]))
    pegs = draw(st.lists(st.sampled_from([q for q in QTYS if q <= qty / 2] or [qty]), max_size=1 if qty < 1 else 2))
    return Receipt(f"MO-{n}", sku, wh, day, qty, ReceiptKind.PRODUCTION, tuple(sorted(issued)),
                   tuple(Peg(f"SO-MO-{n}-{i}", q) for i, q in enumerate(pegs)))


@st.composite
def companies(draw: st.DrawFn, max_products: int = 6, max_demands: int = 12) -> Company:
    n = draw(st.integers(2, max_products))
    skus = [f"P{i}" for i in range(n)]
    its = {s: draw(items(s)) for s in skus}
    bom: dict[str, list[BomLine]] = {}
    for line in draw(bom_lines(n)):
        bom.setdefault(line.parent, []).append(line)
    stock = {}
    for s in skus:
        for wh in WAREHOUSES:
            if draw(st.integers(0, 2)) == 0:
                stock[(s, wh)] = draw(st.sampled_from([Decimal(0), *QTYS, Decimal(-2)]))
    ds = [draw(demands(skus, i)) for i in range(draw(st.integers(0, max_demands)))]
    rs = [draw(receipts(skus, i)) for i in range(draw(st.integers(0, 3)))]
    return Company(its, bom, stock, ds, rs)


# ---- changes, for net-change ----------------------------------------------------------------


@st.composite
def change(draw: st.DrawFn, co: Company, n: int) -> set[str]:
    """Apply one random change to ``co`` in place; return the skus whose own inputs changed."""
    skus = sorted(co.items)
    what = draw(st.sampled_from(["add_demand", "add_demand", "drop_demand", "stock", "receipt",
                                 "issue", "item", "bom_add", "bom_drop", "nothing"]))
    if what == "add_demand":
        d = draw(demands(skus, 1000 + n))
        co.demands.append(d)
        return {d.sku}
    if what == "drop_demand" and co.demands:
        d = co.demands.pop(draw(st.integers(0, len(co.demands) - 1)))
        return {d.sku}
    if what == "stock":
        sku, wh = draw(st.sampled_from(skus)), draw(st.sampled_from(WAREHOUSES))
        if draw(st.booleans()):
            co.stock[(sku, wh)] = draw(st.sampled_from([Decimal(0), *QTYS]))
        else:
            co.stock.pop((sku, wh), None)
        return {sku}
    if what == "receipt":
        if co.receipts and draw(st.booleans()):
            r = co.receipts.pop(draw(st.integers(0, len(co.receipts) - 1)))
        else:
            r = draw(receipts(skus, 1000 + n))
            co.receipts.append(r)
        return {r.sku}
    orders = [i for i, r in enumerate(co.receipts) if r.kind is ReceiptKind.PRODUCTION]
    if what == "issue" and orders:  # a component issued to a production order: its requirement shrinks
        i = draw(st.sampled_from(orders))
        comp = draw(st.sampled_from(skus))
        issued = dict(co.receipts[i].issued)
        issued[comp] = issued.get(comp, Decimal(0)) + draw(st.sampled_from(QTYS))
        co.receipts[i] = replace(co.receipts[i], issued=tuple(sorted(issued.items())))
        return {comp}
    if what == "item":
        sku = draw(st.sampled_from(skus))
        new = draw(items(sku))
        if draw(st.booleans()):  # often a small change: one parameter
            new = replace(co.items[sku], safety_stock=new.safety_stock, lead_time_days=new.lead_time_days)
        co.items[sku] = new
        return {sku}
    if what == "bom_add" and len(skus) > 1:
        a = draw(st.integers(0, len(skus) - 2))
        b = draw(st.integers(a + 1, len(skus) - 1))
        parent, comp = f"P{a}", f"P{b}"
        lines = [ln for ln in co.bom.get(parent, []) if ln.component != comp]
        lines.append(BomLine(parent, comp, draw(st.sampled_from(QTY_PER)), draw(st.sampled_from(SCRAP))))
        co.bom[parent] = lines
        return {parent}
    if what == "bom_drop":
        parents = sorted(p for p, ls in co.bom.items() if ls)
        if parents:
            parent = draw(st.sampled_from(parents))
            lines = co.bom[parent]
            lines.pop(draw(st.integers(0, len(lines) - 1)))
            return {parent}
    return set()


@st.composite
def changes(draw: st.DrawFn, co: Company, max_changes: int = 6) -> list[tuple[Company, set[str]]]:
    """A sequence of states of ``co`` after 1..max_changes random changes, each with the skus
    it changed (sometimes several changes are reported together)."""
    out = []
    cur = co.copy()
    for i in range(draw(st.integers(1, max_changes))):
        touched = draw(change(cur, i))
        if draw(st.integers(0, 3)) == 0:
            touched |= draw(change(cur, 100 + i))
        out.append((cur.copy(), touched))
    return out
