"""Regenerative MRP: planned orders, pegging and exceptions from plain planning data.

Pure: no I/O, no SQL, no clock (``today`` is in the input); the same input gives the same plan,
whatever the order of its rows. The semantics are PLANNING.md's; where it is silent, the rules
below decide (docs/planning.md repeats them for users).

Demand
    Open sales orders plus forecasts. Sales orders of a product and warehouse consume that
    product and warehouse's forecasts in the same ISO week (Monday..Sunday): the week's sales
    total is taken from the week's forecasts in date order (earliest first, then by ref); what
    is left of a forecast stays on its own date, a fully consumed forecast is dropped. Sales
    beyond the week's forecast are simply demand. Past-dated demands (sales or forecasts) are
    demand on their own date. Zero quantities are ignored, negative ones refused.

Netting, per (product, warehouse), bucketless
    A product is planned in every warehouse where it has a stock row, a demand, a receipt or a
    dependent requirement. The dates visited are ``today`` and every date with a receipt or a
    requirement, in order. On each date the day's receipts are added first (past-dated open
    receipts on their own date), then the day's requirements subtracted. If projected on hand
    is then below the threshold, one planned order is due that day for ``threshold -
    projected``, sized by the lot rule; the lot's leftover carries forward. The threshold is
    ``safety_stock`` on and after ``today`` and 0 before it: safety stock is a target from
    today on, while a past-due requirement is covered by a (late) order due on its own past
    date. So stock that starts below safety stock gets an order due ``today`` for the gap (plus
    whatever today's requirements need), and at most one order is due per product, warehouse
    and date. Negative stock is a debt paid first from the first supply, and a
    ``negative_stock`` exception. Stock in another warehouse is never used. A negative
    ``safety_stock`` counts as 0.

Lot rules
    ``lot_for_lot``: the net requirement. ``min``: at least ``lot_qty``. ``multiple``: the
    smallest multiple of ``lot_qty`` that covers it (exact, fractional lots too). A ``min`` or
    ``multiple`` product without a positive ``lot_qty`` orders lot-for-lot.

Orders
    Due on the need date. ``make``: starts the product's ``lead_time_days`` earlier. ``buy`` and
    ``subcontract``: ``choose_supply(item, warehouse, qty, due)`` (with the lot-sized qty)
    gives supplier, price and lead time; without a chooser, or when it answers ``None``, the
    product's lead time is used with no supplier and no price (and, when a chooser was given
    but found nothing, a ``no_supplier`` exception). A start before ``today`` is moved to today
    and flagged late, with a ``late`` exception saying by how many days; the due date never
    moves. ``make`` and ``subcontract`` orders put each component's gross requirement, ``qty x
    qty_per x (1 + scrap_pct/100)``, on the order's (possibly moved) start date in the order's
    warehouse; for a subcontract order that is what is sent to the subcontractor. BOM lines of
    ``buy`` products are not exploded. Low-level codes (lowlevel.py) order the netting, so a
    component used at several levels is netted once, after all its parents.

Open production orders
    A receipt of kind ``production`` (an open production order) is a scheduled receipt of its
    product like any other, and it also allocates its components, as SAP's reservations and
    Odoo's raw-material moves do: per component, ``qty x qty_per x (1 + scrap_pct/100)`` summed
    over the product's BOM lines, less what was already issued to the order (``issued``), when
    positive, is a requirement due on the order's start date (due - the product's
    ``lead_time_days``, moved to ``today`` if earlier) in the order's warehouse. It is an
    independent requirement of the component (its ref is the order's; it is in the coverage)
    that consumes no forecast; within a day it comes after sales orders and forecasts. Like a
    parent order's requirement it hands on the order's pegs (``Receipt.pegging``, the sales
    orders it was made for) times the component's factor, less what was issued taken from the
    first pegs; the rest is not pegged. The BOM of a ``buy`` product is not exploded here
    either.

Pegging
    Supply is allocated to requirements first come, first served: requirements in date order
    (within a day: sales orders, then forecasts, then production orders' allocations, each by
    ref then qty; then dependent
    requirements by parent sku, parent due date, BOM line), supply in the order it becomes
    available (stock, then receipts by date, then planned orders by due date). A dependent
    requirement carries its parent order's pegs scaled by the line's factor, then the parent's
    unpegged part, and hands them to supply in that order. A planned order's pegs are merged
    per demand ref in the order first met; its quantity beyond its pegs is safety stock, lot
    leftover or negative stock paid back. ``plan_with_coverage`` also says how each demand is
    covered (stock, receipts, planned orders), which always adds up to the demand.

Exceptions (sorted by sku, warehouse, kind, detail)
    ``late``: "due 2027-01-06: should start 2027-01-01, 3 days before today; start moved to
    2027-01-04"; ``no_supplier``: "due ...: no supplier for 10; the product's lead time of 6
    days is used"; ``negative_stock``: "on hand -3: covered by the first supply".

Arithmetic is ``Decimal`` throughout, in a context of ``PRECISION`` digits with ``Inexact``
trapped: a result is exact (scrap gives fractional requirements and they stay whole) or the run
fails with ``PlanningDataError``; nothing is rounded. The supply chooser runs in the caller's
own decimal context. Unknown skus, negative quantities, lead times, ``qty_per`` or scrap are
refused (``PlanningDataError``), a BOM cycle too (``BomCycle``). Planned orders are sorted by
(due, sku, warehouse, start).

How it runs: one ``Cell`` per (sku, warehouse), netted in low-level-code order by ``_walk`` in
one pass over its dates. A requirement a planned order covers leaves a *chunk* on it (the
requirement itself, or the part of it); once a cell is netted its orders' pegs are
materialised from their chunks and the parents' pegs, and its orders put their requirements on
the components. The cyclic garbage collector is paused during a run (``paused_gc``) and the result put in
its oldest generation (``to_oldest_generation``). The
``Engine`` also keeps what net-change needs (netchange.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import heapq
from bisect import bisect_left, insort
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from operator import attrgetter
from typing import Any

from server.domain.planning.lowlevel import low_level_codes
from server.domain.planning.model import (
    BomLine,
    Demand,
    DemandKind,
    Item,
    ItemKind,
    LotRule,
    MrpException,
    Peg,
    Plan,
    PlannedOrder,
    PlanningInput,
    ReceiptKind,
    SupplyChoice,
)
from server.domain.planning.render import qty_text
from shared.errors import InvalidInput

__all__ = [
    "Coverage",
    "Engine",
    "PlanningDataError",
    "SupplyChooser",
    "consume_forecasts",
    "exception_sort_key",
    "order_sort_key",
    "paused_gc",
    "plan",
    "plan_with_coverage",
    "to_oldest_generation",
]

SupplyChooser = Callable[[Item, str, Decimal, dt.date], SupplyChoice | None]
Key = tuple[str, str]  # (sku, warehouse): one cell
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
PRECISION = 200  # digits; far beyond any real quantity, and Inexact is trapped: never rounds
_STOCK, _RECEIPT, _PLANNED = 0, 1, 2
_NEVER = 1 << 62
_fromordinal = dt.date.fromordinal
order_sort_key = attrgetter("due", "sku", "warehouse", "start")

# A requirement inside the engine is a plain tuple (sorting tuples is the fast path):
#   (date ordinal, 0 independent | 1 dependent, k1, k2, k3, qty, coverage index, source, factor)
# independent: k1 = 0 sales | 1 forecast | 2 a production order's allocation, k2 = ref, k3 = qty,
#              coverage index into Cell.demands, source = the demand ref, factor None (an
#              allocation: source = its _Reserved, factor ONE, so it hands on the order's pegs)
# dependent:   k1 = parent sku, k2 = parent due ordinal, k3 = BOM line index, coverage -1,
#              source = the parent's _Order, factor = qty_per x (1 + scrap) of the line
# The first five fields of a dependent requirement are unique, so sorting never compares
# sources. A requirement allocated to a planned order leaves a chunk there (below); pegs are
# materialised from chunks once the order is complete.
Req = tuple[int, int, Any, Any, Any, Decimal, int, Any, Any]


class PlanningDataError(InvalidInput):
    """Planning data the engine cannot plan: an unknown sku, a negative quantity."""

    code = "planning_data"


@dataclass(frozen=True)
class Coverage:
    """How one independent demand (after forecast consumption) is covered: from stock on
    hand, from scheduled receipts, from planned orders. They always add up to its qty."""

    demand: Demand
    stock: Decimal
    receipts: Decimal
    planned: Decimal

    @property
    def covered(self) -> Decimal:
        return self.stock + self.receipts + self.planned


def exception_sort_key(e: MrpException) -> tuple[str, str, str, str]:
    return (e.sku, e.warehouse or "", e.kind, e.detail)


# ---- output objects, made fast --------------------------------------------------------------
# A plan has millions of pegs. The frozen dataclasses' __init__ sets each field through
# object.__setattr__; filling __dict__ directly makes equal objects at a third of the cost.
# Only while the model classes are plain (no __slots__, no __post_init__); else the real thing.

_new = object.__new__


def _plain(cls: type) -> bool:
    return "__slots__" not in cls.__dict__ and not hasattr(cls, "__post_init__")


def _peg_fast(ref: str, qty: Decimal) -> Peg:
    p = _new(Peg)
    d = p.__dict__
    d["demand"] = ref
    d["qty"] = qty
    return p


def _order_fast(sku: str, warehouse: str, kind: ItemKind, qty: Decimal, start: dt.date,
                due: dt.date, late: bool, supplier: str | None, unit_price: Decimal | None,
                pegging: tuple[Peg, ...]) -> PlannedOrder:
    o = _new(PlannedOrder)
    o.__dict__.update(sku=sku, warehouse=warehouse, kind=kind, qty=qty, start=start, due=due,
                      late=late, supplier=supplier, unit_price=unit_price, pegging=pegging)
    return o


_make_peg: Callable[[str, Decimal], Peg] = _peg_fast if _plain(Peg) else Peg
_make_order: Callable[..., PlannedOrder] = _order_fast if _plain(PlannedOrder) else PlannedOrder


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused (and restored after). A planning run allocates
    millions of acyclic objects (freed by reference counting anyway), which the collector
    would otherwise rescan again and again, each full pass walking the whole plan."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def to_oldest_generation() -> None:
    """Move every object the collector tracks into its oldest generation at once.

    A plan is millions of long-lived objects. Left young, the collector walks all of them in
    its first young pass, again when they move to the middle generation, and once more in the
    full pass their arrival triggers: about 20 s after a 20,000-product plan (measured), paid by
    whatever allocates next. ``gc.freeze()`` then ``gc.unfreeze()`` puts them straight in the
    oldest generation, walked only by later full passes. Side effect: the caller's own young
    objects are promoted too, so their reference cycles, if any, are freed at the next full
    pass instead of a young one. Not done if the process froze objects itself (``unfreeze``
    would undo that)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


@contextmanager
def _exact() -> Iterator[decimal.Context]:
    """Quantities computed with ``PRECISION`` digits and ``Inexact`` trapped, so a result is
    exact or the run fails: it never rounds silently. Yields the caller's decimal context (the
    supply chooser is the caller's code and runs in it)."""
    outer = decimal.getcontext()
    with decimal.localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.traps[decimal.Inexact] = True
        try:
            yield outer
        except decimal.Inexact as e:
            raise PlanningDataError(f"a quantity needs more than {PRECISION} digits") from e


class _Chooser:
    """The caller's supply chooser, called in the caller's decimal context."""

    __slots__ = ("choose", "outer")

    def __init__(self, choose: SupplyChooser, outer: decimal.Context) -> None:
        self.choose = choose
        self.outer = outer

    def __call__(self, item: Item, wh: str, qty: Decimal, need: dt.date) -> SupplyChoice | None:
        inner = decimal.getcontext()
        decimal.setcontext(self.outer)
        try:
            return self.choose(item, wh, qty, need)
        finally:
            decimal.setcontext(inner)


# ---- demand ---------------------------------------------------------------------------------


def consume_forecasts(demands: Iterable[Demand]) -> list[Demand]:
    """Sales orders (and production orders' allocations) as given, then what is left of each
    forecast after the sales orders of its product, warehouse and ISO week consumed it
    (earliest forecast first). Zero quantities are dropped; a negative one is refused."""
    sales: list[Demand] = []
    forecasts: list[Demand] = []
    sold: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    for d in demands:
        if d.qty <= 0:
            if d.qty < 0:
                raise PlanningDataError(f"demand {d.ref} for {d.sku} has a negative qty {d.qty}")
            continue
        if d.kind is DemandKind.FORECAST:
            forecasts.append(d)
        else:
            sales.append(d)
            if d.kind is DemandKind.SALES:  # a production order's allocation consumes nothing
                # ordinal 1 (0001-01-01) is a Monday, so this is the ISO week, Monday..Sunday
                sold[(d.sku, d.warehouse, (d.date.toordinal() - 1) // 7)] += d.qty
    forecasts.sort(key=attrgetter("date", "ref", "qty"))
    if not sold:
        return sales + forecasts
    for f in forecasts:
        week = (f.sku, f.warehouse, (f.date.toordinal() - 1) // 7)
        left = sold.get(week)
        if not left:
            sales.append(f)
        elif left >= f.qty:
            sold[week] = left - f.qty
        else:
            sold[week] = ZERO
            sales.append(replace(f, qty=f.qty - left))
    return sales


# ---- one product in one warehouse -----------------------------------------------------------


@dataclass(frozen=True)
class _Reserved:
    """The pegs a production order's allocation of one component hands on (equal by value, so
    net-change sees an unchanged one as unchanged)."""

    pegs: tuple[Peg, ...]


def _reserved(pegging: tuple[Peg, ...], factor: Decimal, issued: Decimal) -> _Reserved:
    """The order's pegs times the component's factor, less what was already issued, taken
    from the first pegs (first come, first served)."""
    out = []
    for p in pegging:
        q = p.qty * factor
        if issued >= q:
            issued -= q
            continue
        out.append(_make_peg(p.demand, q - issued))
        issued = ZERO
    return _Reserved(tuple(out))


class _Order:
    """A planned order while the engine works on it. ``chunks`` record what it supplied, in
    order: a requirement it covered whole is the requirement tuple itself (no new object);
    part of one is ``(ref, None, qty, None)`` for an independent demand, or ``(parent order,
    factor, lo, hi)`` for the part [lo, hi) of a dependent requirement. Identity matters: a
    component's requirement names this object, so net-change keeps it when only its pegs
    change."""

    __slots__ = ("chunks", "due", "excs", "late", "out", "pegs", "price", "qty", "start",
                 "supplier")

    def __init__(self, due: int, qty: Decimal, start: int, late: bool, supplier: str | None,
                 price: Decimal | None, excs: tuple[MrpException, ...]) -> None:
        self.due = due
        self.qty = qty
        self.start = start
        self.late = late
        self.supplier = supplier
        self.price = price
        self.excs = excs
        self.chunks: list[tuple[Any, ...]] = []
        self.pegs: tuple[Peg, ...] = ()
        self.out: PlannedOrder | None = None

    def signature(self) -> tuple[Any, ...]:
        return (self.due, self.qty, self.start, self.late, self.supplier, self.price, self.excs)


def _source(chunk: tuple[Any, ...]) -> Any:
    """What a chunk supplied: a demand ref or a parent order."""
    return chunk[7] if len(chunk) == 9 else chunk[0]


def _materialize(chunks: list[tuple[Any, ...]], old: tuple[Peg, ...] = ()) -> tuple[Peg, ...]:
    """The pegs of an order from its chunks, merged per demand ref in the order first met
    (reusing the equal ones of ``old``, the order's last pegs)."""
    if len(chunks) == 1:  # the common case: one demand, or one parent order's requirement
        ch = chunks[0]
        if len(ch) == 9:
            f = ch[8]
            if f is None:
                return (_make_peg(ch[7], ch[5]),)
            if f is ONE:
                return ch[7].pegs  # type: ignore[no-any-return]  # the very same pegs, shared
            return tuple([_make_peg(p.demand, p.qty * f) for p in ch[7].pegs])
    acc: dict[str, Decimal] = {}
    for ch in chunks:
        if len(ch) == 9:  # a whole requirement
            src, f = ch[7], ch[8]
            if f is None:
                q = ch[5]
                acc[src] = acc[src] + q if src in acc else q
            elif f is ONE:
                for p in src.pegs:
                    r = p.demand
                    acc[r] = acc[r] + p.qty if r in acc else p.qty
            else:
                for p in src.pegs:
                    r = p.demand
                    v = p.qty * f
                    acc[r] = acc[r] + v if r in acc else v
            continue
        src, f, lo, hi = ch
        if f is None:
            acc[src] = acc[src] + lo if src in acc else lo
        else:
            c = ZERO
            for p in src.pegs:
                e = c + (p.qty if f is ONE else p.qty * f)
                if e > lo:
                    r = p.demand
                    v = (e if e < hi else hi) - (c if c > lo else lo)
                    acc[r] = acc[r] + v if r in acc else v
                    if e >= hi:
                        break
                c = e
    if old:
        prev = {p.demand: p for p in old}
        return tuple([p if (p := prev.get(r)) is not None and p.qty == q else _make_peg(r, q)
                      for r, q in acc.items()])
    return tuple([_make_peg(r, q) for r, q in acc.items()])


class Cell:
    """The inputs and the last result of one (sku, warehouse). With ``keep`` (net-change) also
    its sorted requirements, the walk's snapshots and which dates' requirements changed."""

    __slots__ = ("changed", "cov", "coverage", "demands", "dep", "exceptions", "fresh",
                 "has_stock", "indep", "lines", "orders", "out", "receipts", "reqs", "sku", "snaps",
                 "stock", "wh")

    def __init__(self, sku: str, wh: str) -> None:
        self.sku = sku
        self.wh = wh
        self.stock = ZERO
        self.has_stock = False
        self.receipts: list[tuple[int, str, Decimal]] = []  # sorted (date ordinal, ref, qty)
        self.demands: list[Demand] = []  # effective independent demands
        self.indep: list[Req] = []
        self.dep: dict[str, list[Req]] = {}  # parent sku -> its requirements here (non-empty)
        self.orders: list[_Order] = []
        self.exceptions: list[MrpException] = []
        self.coverage: list[Coverage] = []
        self.out: dict[str, list[Req]] = {}  # component sku -> requirements these orders put
        self.lines: tuple[tuple[str, Decimal], ...] | None = None  # the BOM ``out`` came from
        # kept for net-change only
        self.reqs: list[Req] | None = None  # indep + dep, sorted; None: rebuild
        self.snaps: list[Snap] | None = None  # the walk's state at each date it visited
        self.cov: list[list[Decimal]] = []  # raw coverage per demand: stock, receipts, planned
        self.changed: set[int] = set()  # dates whose dependent requirements changed
        self.fresh = True  # own inputs or item changed: walk from the start

    def is_empty(self) -> bool:
        return not (self.has_stock or self.receipts or self.indep or self.dep)

    def set_demands(self, demands: list[Demand], reserved: Mapping[str, _Reserved] | None = None) -> None:
        """The cell's independent demands; ``reserved``: the pegs of production orders'
        allocations, by ref (such a requirement hands them on like a dependent one)."""
        self.demands = demands
        self.indep = [
            (d.date.toordinal(), 0, 0, d.ref, d.qty, d.qty, i, d.ref, None) if d.kind is DemandKind.SALES else
            (d.date.toordinal(), 0, 1, d.ref, d.qty, d.qty, i, d.ref, None) if d.kind is DemandKind.FORECAST else
            (d.date.toordinal(), 0, 2, d.ref, d.qty, d.qty, i, reserved[d.ref], ONE)  # type: ignore[index]
            for i, d in enumerate(demands)
        ]
        self.reqs = None
        self.fresh = True

    def all_reqs(self) -> list[Req]:
        reqs = self.indep.copy()
        for lst in self.dep.values():
            reqs += lst
        reqs.sort()
        return reqs

    def set_dep(self, parent: str, new: list[Req] | None) -> None:
        """Replace what ``parent`` requires here, keeping ``reqs`` sorted and noting the dates
        that changed (when ``reqs`` is kept)."""
        old = self.dep.get(parent)
        if new:
            self.dep[parent] = new
        else:
            self.dep.pop(parent, None)
        reqs = self.reqs
        if reqs is None:
            return
        olds = set(old) if old else set()
        news = set(new) if new else set()
        for r in olds - news:  # all removals before any insertion: keys stay unique
            pos = bisect_left(reqs, r)
            del reqs[pos]
            self.changed.add(r[0])
        for r in news - olds:
            insort(reqs, r)
            self.changed.add(r[0])

    def patch_dep(self, parent: str, lst: list[Req], rem: list[Req], add: list[Req]) -> None:
        """``parent``'s requirements here are ``lst`` (shared with the parent's ``out``) less
        ``rem`` plus ``add``; keeps ``reqs`` sorted and notes the dates that changed."""
        reqs, changed = self.reqs, self.changed
        for r in rem:  # all removals before any insertion: keys stay unique
            lst.remove(r)
            if reqs is not None:
                del reqs[bisect_left(reqs, r)]
            changed.add(r[0])
        for r in add:
            lst.append(r)
            if reqs is not None:
                insort(reqs, r)
            changed.add(r[0])
        if lst:
            self.dep[parent] = lst
        else:
            self.dep.pop(parent, None)


def _lot_size(net: Decimal, item: Item) -> Decimal:
    lot = item.lot_qty
    if item.lot_rule is LotRule.LOT_FOR_LOT or lot is None or lot <= 0:
        return net
    if item.lot_rule is LotRule.MIN:
        return net if net >= lot else lot
    n, rest = divmod(net, lot)  # exact: integer quotient and remainder
    return (n + 1) * lot if rest else n * lot


# The walk's state at the start of a date it visits (before that day's receipts), flat:
#   (date, receipts done, projected on hand, then per lot: remaining, kind, due, chunks)
# lots are the supply not yet used up, front first; ``due`` names a planned order (None for
# stock or a receipt) and ``chunks`` is how many chunks it had. A cell has one order per due
# date, and an order found equal after a walk takes the old one's place, so the due date
# names an order across walks; the orders made before a date are those due before it. The
# last snapshot (date _NEVER) is the state after the last date.
Lot = tuple[Decimal, int, "_Order | None"]
Snap = tuple[Any, ...]
_due = attrgetter("due")


def _snap(d: int, j: int, poh: Decimal, lots: Iterable[Lot]) -> Snap:
    out: list[Any] = [d, j, poh]
    for q, kind, o in lots:
        out += (q, kind, None, 0) if o is None else (q, kind, o.due, len(o.chunks))
    return tuple(out)


def _full(o: _Order, saved: dict[_Order, list[Any]]) -> list[Any]:
    """An old order's chunks as the old walk left them (this walk may have cut them short)."""
    return saved[o] if o in saved else o.chunks


def _same(lots: list[Lot], snap: Snap, old: dict[int, _Order], saved: dict[_Order, list[Any]]) -> bool:
    """Whether the new walk's supply equals the old walk's at that snapshot: the same remaining
    quantities, and open planned orders alike, with the same chunks so far."""
    if 4 * len(lots) != len(snap) - 3:
        return False
    x = 3
    for q, kind, o in lots:
        if q != snap[x] or kind != snap[x + 1]:
            return False
        if o is not None:
            o2, n = old[snap[x + 2]], snap[x + 3]
            if o is not o2 and o.signature() != o2.signature():
                return False
            if len(o.chunks) != n or o.chunks != _full(o2, saved)[:n]:
                return False
        x += 4
    return True


def _restore(snap: Snap, orders: list[_Order], saved: dict[_Order, list[Any]]
             ) -> tuple[Decimal, int, _Order | None, deque[Lot]]:
    """The supply at a snapshot (front lot apart), its open orders cut back to the chunks they
    had then; the rest of their old chunks is kept in ``saved``."""
    lots: list[Lot] = []
    for x in range(3, len(snap), 4):
        q, kind, due, n = snap[x:x + 4]
        o = None
        if due is not None:
            o = orders[bisect_left(orders, due, key=_due)]
            assert o.due == due
            full = _full(o, saved)
            saved[o] = full
            o.chunks = full[:n]
        lots.append((q, kind, o))
    if not lots:
        return ZERO, _STOCK, None, deque()
    rem, kind, o = lots[0]
    return rem, kind, o, deque(lots[1:])


def _walk(cell: Cell, item: Item, today: dt.date, choose: Callable[..., SupplyChoice | None] | None,
          reqs: list[Req], record: bool, changed: list[int] | None
          ) -> tuple[list[_Order], MrpException | None, list[list[Decimal]], list[Snap] | None,
                     dict[_Order, list[Any]]]:
    """Net one cell in date order. Returns its planned orders with their chunks, the
    negative-stock exception if any, per independent demand [from stock, from receipts, from
    planned], the snapshots (``record``), and the old chunk lists of old orders it reused.

    ``changed`` (net-change): the sorted dates whose requirements differ from the last walk,
    whose orders and snapshots are in the cell. The walk then starts from the snapshot at the
    first changed date, and wherever its state is again the old walk's on a date that did not
    change, it skips to the next changed date, taking the old orders and snapshots between.
    """
    t = today.toordinal()
    sku, wh = cell.sku, cell.wh
    recs = cell.receipts
    ss = item.safety_stock if item.safety_stock > 0 else ZERO
    lfl = item.lot_rule is LotRule.LOT_FOR_LOT
    make = item.kind is ItemKind.MAKE
    stock = cell.stock
    neg = None
    if stock < 0:
        neg = MrpException(sku, "negative_stock",
                           f"on hand {qty_text(stock)}: covered by the first supply", wh)
    saved: dict[_Order, list[Any]] = {}
    supply: deque[tuple[Decimal, int, _Order | None]]
    snaps: list[Snap] | None = [] if record else None
    nr, nc = len(reqs), len(recs)
    old_snaps: list[Snap] = cell.snaps or []
    old_orders = cell.orders
    old_by_due: dict[int, _Order] = {}
    chg = changed or []
    if changed is None:
        poh = stock
        rem, fkind, forder = (stock, _STOCK, None) if stock > 0 else (ZERO, _STOCK, None)
        supply = deque()
        debt = -stock if stock < 0 else ZERO
        cov = [[ZERO, ZERO, ZERO] for _ in cell.demands]
        orders: list[_Order] = []
        i = j = 0
        today_pending = True
        nd = p = q = 0
    else:  # resume at the first changed date
        old_by_due = {o.due: o for o in old_orders}
        d0 = changed[0]
        k = bisect_left(old_snaps, (d0,))
        s = old_snaps[k]
        if k == 0:  # before the old walk's first date: a fresh start (stock, debt)
            return _walk(cell, item, today, choose, reqs, record, None)
        j, poh = s[1], s[2]
        orders = old_orders[:bisect_left(old_orders, d0, key=_due)]
        rem, fkind, forder, supply = _restore(s, orders, saved)
        debt = ZERO
        cov = [c.copy() for c in cell.cov]
        if snaps is not None:
            snaps += old_snaps[:k]
        i = bisect_left(reqs, (d0,))
        today_pending = d0 <= t
        nd, p, q = len(changed), 0, k
    while True:
        d = reqs[i][0] if i < nr else _NEVER
        if j < nc and recs[j][0] < d:
            d = recs[j][0]
        if today_pending and t <= d:
            d = t
        if nd:
            while p < nd and chg[p] < d:
                p += 1
            if p < nd and chg[p] == d:
                p += 1
            else:  # an unchanged date: is the state the old one again?
                while old_snaps[q][0] < d:
                    q += 1
                s = old_snaps[q]
                if s[0] == d and s[2] == poh:
                    lots = [(rem, fkind, forder), *supply] if rem else list(supply)
                    if _same(lots, s, old_by_due, saved):
                        # yes: take the old walk as it is up to the next changed date
                        for _, _, o in lots:
                            if o is not None:
                                o2 = old_by_due[o.due]
                                if o is not o2:  # the old order stands in for its equal
                                    orders[orders.index(o)] = o2
                                o2.chunks = _full(o2, saved)
                        dn = chg[p] if p < nd else _NEVER
                        k = bisect_left(old_snaps, (dn,), q)
                        to = old_snaps[k]
                        orders += old_orders[bisect_left(old_orders, d, key=_due):
                                             bisect_left(old_orders, dn, key=_due)]
                        j, poh = to[1], to[2]
                        rem, fkind, forder, supply = _restore(to, orders, saved)
                        if dn == _NEVER:
                            if snaps is not None:
                                snaps += old_snaps[q:]
                            break
                        if snaps is not None:
                            snaps += old_snaps[q:k]
                        q = k
                        i = bisect_left(reqs, (dn,), i)
                        today_pending = dn <= t
                        continue
        if snaps is not None:
            if supply:
                snaps.append(_snap(d, j, poh, [(rem, fkind, forder), *supply] if rem else supply))
            elif not rem:
                snaps.append((d, j, poh))
            elif forder is None:
                snaps.append((d, j, poh, rem, fkind, None, 0))
            else:
                snaps.append((d, j, poh, rem, fkind, forder.due, len(forder.chunks)))
        if d == _NEVER:
            break
        if d >= t:
            today_pending = False
        while j < nc and recs[j][0] == d:
            qty = recs[j][2]
            poh += qty
            supply.append((qty, _RECEIPT, None))
            j += 1
        i0 = i
        while i < nr and reqs[i][0] == d:
            poh -= reqs[i][5]
            i += 1
        threshold = ss if d >= t else ZERO
        if poh < threshold:
            qty = threshold - poh if lfl else _lot_size(threshold - poh, item)
            poh += qty
            lead = item.lead_time_days
            supplier = price = None
            excs: tuple[MrpException, ...] = ()
            if not make and choose is not None:
                choice = choose(item, wh, qty, _fromordinal(d))
                if choice is None:
                    excs = (MrpException(sku, "no_supplier", (
                        f"due {_fromordinal(d)}: no supplier for {qty_text(qty)}; "
                        f"the product's lead time of {lead} days is used"), wh),)
                else:
                    lead, supplier, price = choice.lead_time_days, choice.supplier, choice.unit_price
                    if lead < 0:
                        raise PlanningDataError(f"supplier {supplier} has a negative lead time for {sku}")
            start = d - lead
            late = start < t
            if late:
                days = t - start
                excs += (MrpException(sku, "late", (
                    f"due {_fromordinal(d)}: should start {_fromordinal(start)}, {days} "
                    f"day{'s' if days != 1 else ''} before today; start moved to {today}"), wh),)
                start = t
            o = _Order(d, qty, start, late, supplier, price, excs)
            orders.append(o)
            supply.append((qty, _PLANNED, o))
        while debt:
            if not rem:
                rem, fkind, forder = supply.popleft()
            if rem > debt:
                rem -= debt
                debt = ZERO
            else:
                debt -= rem
                rem = ZERO
        for r in reqs[i0:i]:
            _, _, _, _, _, qty, c, src, f = r
            if c >= 0:
                cc = cov[c] = [ZERO, ZERO, ZERO]
            if not rem:
                rem, fkind, forder = supply.popleft()
            if rem >= qty:  # the front lot covers it all: the common case
                rem -= qty
                if forder is not None:
                    forder.chunks.append(r)
                if c >= 0:
                    cc[fkind] += qty
                continue
            lo = ZERO
            while qty:
                if not rem:
                    rem, fkind, forder = supply.popleft()
                if rem >= qty:
                    take = qty
                    rem -= qty
                    qty = ZERO
                else:
                    take = rem
                    qty -= rem
                    rem = ZERO
                if forder is not None:
                    if f is None:
                        forder.chunks.append((src, None, take, None))
                    elif take == r[5]:
                        forder.chunks.append(r)
                    else:
                        forder.chunks.append((src, f, lo, lo + take))
                if c >= 0:
                    cc[fkind] += take
                lo += take
    return orders, neg, cov, snaps, saved


def _explode(sku: str, orders: list[_Order], lines: tuple[tuple[str, Decimal], ...]
             ) -> dict[str, list[Req]]:
    """Component sku -> the requirements these orders put on it (same warehouse, on each
    order's start date)."""
    out: dict[str, list[Req]] = {comp: [] for comp, _ in lines}  # every component, even if []
    for o in orders:
        s, due, qty = o.start, o.due, o.qty
        for idx, (comp, f) in enumerate(lines):
            out[comp].append((s, 1, sku, due, idx, qty if f is ONE else qty * f, -1, o, f))
    return out


def _explosion_lines(lines: Iterable[BomLine]) -> tuple[tuple[str, Decimal], ...]:
    """(component, qty_per x (1 + scrap_pct / 100)) per BOM line, exactly."""
    out = []
    with _exact():
        for ln in lines:
            if ln.qty_per < 0 or ln.scrap_pct < 0:
                raise PlanningDataError(f"BOM line {ln.parent} -> {ln.component} has a negative qty_per or scrap")
            if ln.qty_per:
                f = ln.qty_per * (1 + ln.scrap_pct / HUNDRED)
                out.append((ln.component, ONE if f == 1 else f))
    return tuple(out)


# ---- the whole company ----------------------------------------------------------------------

Change = tuple[Key, int, PlannedOrder | None]  # a cell's order due on a day: new, changed, gone


class Engine:
    """Every cell of a company with what it needs to re-net any of them. A regenerative run
    nets all cells once; the net-change planner keeps an Engine (``keep=True``: chunks are
    kept, results are matched to the previous ones) and re-nets only what changed."""

    def __init__(self, inp: PlanningInput, choose: SupplyChooser | None = None,
                 keep: bool = False) -> None:
        self.today = inp.today
        self.choose = choose
        self.keep = keep
        self.items: dict[str, Item] = {}
        self.bom: dict[str, tuple[BomLine, ...]] = {}
        self.lines: dict[str, tuple[tuple[str, Decimal], ...]] = {}
        self.llc: dict[str, int] = {}
        self.cells: dict[Key, Cell] = {}
        self.by_sku: dict[str, set[str]] = defaultdict(set)
        # parent sku -> the components its open production orders allocate (all its BOM's)
        self.allocating: dict[str, frozenset[str]] = {}
        self._dates: dict[int, dt.date] = {}  # ordinal -> date, made once
        self.set_master(inp.items, inp.bom, set(inp.items) | set(inp.bom))
        self.load_inputs(inp, None)

    # -- inputs --
    def set_master(self, items: Mapping[str, Item], bom: Mapping[str, tuple[BomLine, ...]],
                   skus: Iterable[str]) -> None:
        """Take the item and BOM data of ``skus``; recompute low-level codes if a BOM changed."""
        bom_changed = not self.llc
        for sku in skus:
            item = items.get(sku)
            if item is None:
                self.items.pop(sku, None)
            else:
                if item.lead_time_days < 0:
                    raise PlanningDataError(f"{sku} has a negative lead time")
                self.items[sku] = item
            lines = tuple(bom.get(sku, ()))
            if lines != self.bom.get(sku, ()):
                bom_changed = True
                if lines:
                    self.bom[sku] = lines
                    self.lines[sku] = _explosion_lines(lines)
                else:
                    self.bom.pop(sku, None)
                    self.lines.pop(sku, None)
        if bom_changed:
            for parent, lines in self.bom.items():
                for sku in (parent, *(ln.component for ln in lines)):
                    if sku not in self.items:
                        raise PlanningDataError(f"BOM of {parent} names unknown sku {sku}")
            self.llc = low_level_codes(self.bom, self.items)

    def _cell(self, sku: str, wh: str) -> Cell:
        cell = self.cells.get((sku, wh))
        if cell is None:
            if sku not in self.items:
                raise PlanningDataError(f"unknown sku {sku} (warehouse {wh})")
            cell = self.cells[(sku, wh)] = Cell(sku, wh)
            self.by_sku[sku].add(wh)
        return cell

    def allocations(self, inp: PlanningInput
                    ) -> tuple[list[Demand], dict[Key, dict[str, _Reserved]], dict[str, frozenset[str]]]:
        """What the open production orders still need of their components: per order and
        component, ``qty x qty_per x (1 + scrap)`` over its BOM lines less what was issued to
        it, when positive, due on the order's start (due - the product's lead time, not before
        today) in its warehouse, ref = the order's ref; per component cell and ref, the pegs
        it carries (``_reserved``); and, per product with open production orders, the
        components of its BOM (what a change to it may move)."""
        out: list[Demand] = []
        pegs: dict[Key, dict[str, _Reserved]] = defaultdict(dict)
        allocating: dict[str, frozenset[str]] = {}
        today = self.today.toordinal()
        with _exact():
            for r in inp.receipts:
                if r.kind is not ReceiptKind.PRODUCTION:
                    continue
                item = self.items.get(r.sku)
                lines = self.lines.get(r.sku)
                if item is None or item.kind is ItemKind.BUY or not lines or r.qty <= 0:
                    continue
                if r.sku not in allocating:
                    allocating[r.sku] = frozenset(c for c, _ in lines)
                factor: dict[str, Decimal] = {}
                for comp, f in lines:
                    factor[comp] = factor[comp] + f if comp in factor else f
                issued = dict(r.issued)
                if any(q < 0 for q in issued.values()):
                    raise PlanningDataError(f"production order {r.ref} has a negative qty issued")
                start = _fromordinal(max(r.date.toordinal() - item.lead_time_days, today))
                for comp, f in factor.items():
                    q = r.qty if f is ONE else r.qty * f
                    done = issued.get(comp, ZERO)
                    if q > done:
                        out.append(Demand(r.ref, comp, r.warehouse, start, q - done, DemandKind.PRODUCTION))
                        pegs[(comp, r.warehouse)][r.ref] = _reserved(r.pegging, f, done)
        return out, pegs, allocating

    def load_inputs(self, inp: PlanningInput, skus: set[str] | None) -> set[Key]:
        """Replace the independent inputs (stock, receipts, demands, production orders'
        allocations) of ``skus`` (all if None) with the input's; returns the cells whose inputs
        were replaced. The components that the production orders of ``skus`` allocated or now
        allocate are reloaded too."""
        touched: set[Key] = set()
        allocs, reserved, allocating = self.allocations(inp)
        if skus is not None:
            extra: set[str] = set()
            for sku in skus:
                extra.update(self.allocating.get(sku, ()), allocating.get(sku, ()))
            skus = skus | extra
            allocs = [a for a in allocs if a.sku in skus]
        self.allocating = allocating
        if skus is not None:
            for sku in skus:
                for wh in self.by_sku.get(sku, ()):
                    cell = self.cells[(sku, wh)]
                    cell.stock, cell.has_stock = ZERO, False
                    cell.receipts = []
                    cell.set_demands([])
                    touched.add((sku, wh))
        for (sku, wh), q in inp.stock.items():
            if skus is None or sku in skus:
                cell = self._cell(sku, wh)
                cell.stock, cell.has_stock = q, True
                touched.add((sku, wh))
        for r in inp.receipts:
            if skus is None or r.sku in skus:
                if r.qty <= 0:
                    if r.qty < 0:
                        raise PlanningDataError(f"receipt {r.ref} for {r.sku} has a negative qty")
                    continue
                cell = self._cell(r.sku, r.warehouse)
                cell.receipts.append((r.date.toordinal(), r.ref, r.qty))
                touched.add((r.sku, r.warehouse))
        demands = [*(inp.demands if skus is None else [d for d in inp.demands if d.sku in skus]), *allocs]
        per_cell: dict[Key, list[Demand]] = defaultdict(list)
        with _exact():
            effective = consume_forecasts(demands)
        for d in effective:
            per_cell[(d.sku, d.warehouse)].append(d)
        for key, ds in per_cell.items():
            self._cell(*key).set_demands(ds, reserved.get(key))
            touched.add(key)
        for key in touched:
            cell = self.cells[key]
            cell.receipts.sort()
            cell.fresh = True
        return touched

    # -- netting --
    def run(self, dirty: Iterable[Key], renew: Collection[str] = ()) -> list[Change]:
        """Re-net the ``dirty`` cells and then, level by level, every component cell whose
        dependent requirements changed (re-netted) or whose parent orders' pegs changed (pegs
        re-materialised). ``renew``: skus whose item changed (their outputs are rebuilt).
        Returns, with ``keep``, every planned order that appeared, changed or went away."""
        with _exact() as outer, paused_gc():
            chooser = None if self.choose is None else _Chooser(self.choose, outer)
            return self._run(set(dirty), renew, chooser)

    def _run(self, qdirty: set[Key], renew: Collection[str], chooser: Any) -> list[Change]:
        llc, items, lines, cells, keep = self.llc, self.items, self.lines, self.cells, self.keep
        heap = [(llc[k[0]], k) for k in qdirty]
        heapq.heapify(heap)
        queued = set(qdirty)
        pdirty: dict[Key, set[_Order]] = {}
        changes: list[Change] = []
        self.rewalked: list[Key] = []  # cells netted again (or removed) by this run
        self.repegged_cells = 0  # cells whose pegs only were brought up to date
        self.resumed = 0  # cells walked again from their first changed date, not the start
        for sku in renew:
            for wh in self.by_sku.get(sku, ()):
                cells[(sku, wh)].fresh = True
        while heap:
            _, key = heapq.heappop(heap)
            # a cell may come back: when a BOM line goes, its old parent can now rank below it
            queued.discard(key)
            cell = cells.get(key)
            if cell is None:
                continue
            sku, wh = key
            item = items.get(sku)
            old_orders = cell.orders
            srcs = pdirty.pop(key, None)
            repegged: set[_Order] = set()
            if key in qdirty:
                qdirty.discard(key)
                self.rewalked.append(key)
                removed = cell.is_empty() or item is None
                if removed:
                    if not cell.is_empty():
                        raise PlanningDataError(f"unknown sku {sku} (warehouse {wh})")
                    del cells[key]
                    self.by_sku[sku].discard(wh)
                    if keep:
                        changes += [(key, o.due, None) for o in cell.orders]
                    cell.orders, cell.exceptions, cell.coverage = [], [], []
                else:
                    assert item is not None
                    self._renet(key, cell, item, chooser, srcs, repegged, sku in renew, changes)
                ln = None if removed or item is None or item.kind is ItemKind.BUY else lines.get(sku)
                if keep and ln is not None and cell.lines is ln:
                    comps = self._explode_delta(cell, old_orders, cell.orders, ln)
                else:
                    comps = self._explode_all(cell, ln)
                for ckey in comps:
                    qdirty.add(ckey)
                    if ckey not in queued:
                        queued.add(ckey)
                        heapq.heappush(heap, (llc[ckey[0]], ckey))
            elif srcs:
                self.repegged_cells += 1
                for o in cell.orders:
                    for ch in o.chunks:
                        if _source(ch) in srcs:
                            self._repeg(o, key, item, repegged, changes)
                            break
            if repegged and cell.out:
                for comp, lst in cell.out.items():
                    if not lst:
                        continue
                    ckey = (comp, wh)
                    pdirty.setdefault(ckey, set()).update(repegged)
                    if ckey not in queued:
                        queued.add(ckey)
                        heapq.heappush(heap, (llc[comp], ckey))
        return changes

    def _renet(self, key: Key, cell: Cell, item: Item, chooser: Any, srcs: set[_Order] | None,
               repegged: set[_Order], renew: bool, changes: list[Change]) -> None:
        """Walk the cell again (with ``keep``: from its first changed date when it can) and
        set its orders, exceptions and coverage."""
        if self.keep:
            if cell.reqs is None:
                cell.reqs = cell.all_reqs()
                cell.fresh = True
            changed = None if cell.fresh or not cell.changed else sorted(cell.changed)
            orders, neg, cov, cell.snaps, saved = _walk(cell, item, self.today, chooser, cell.reqs,
                                                        True, changed)
            self.resumed += changed is not None
            cell.changed, cell.fresh, cell.cov = set(), False, cov
            orders = self._match(key, cell.orders, orders, saved, srcs, repegged, renew, item, changes)
        else:
            orders, neg, cov, _, _ = _walk(cell, item, self.today, chooser, cell.all_reqs(), False, None)
            for o in orders:
                o.pegs = _materialize(o.chunks)
                o.chunks = []
                self._output(o, key, item)
        cell.coverage = [Coverage(dm, c[0], c[1], c[2]) for dm, c in zip(cell.demands, cov, strict=True)]
        cell.orders = orders
        excs = [e for o in orders for e in o.excs]
        if neg is not None:
            excs.append(neg)
        excs.sort(key=exception_sort_key)
        cell.exceptions = excs

    def _explode_all(self, cell: Cell, lines: tuple[tuple[str, Decimal], ...] | None) -> list[Key]:
        """Put the requirements of all the cell's orders on its components (``lines``; None:
        none, the cell is gone or buys); returns the component cells whose requirements
        changed."""
        old_out = cell.out
        new_out = _explode(cell.sku, cell.orders, lines) if lines else {}
        cell.out, cell.lines = new_out, lines
        out = []
        for comp in old_out.keys() | new_out.keys() if old_out else new_out:
            new = new_out.get(comp)
            if new == old_out.get(comp):
                continue
            ckey = (comp, cell.wh)
            ccell = self.cells.get(ckey)
            if ccell is None:
                if not new:
                    continue
                ccell = self._cell(*ckey)
            ccell.set_dep(cell.sku, new)
            out.append(ckey)
        return out

    def _explode_delta(self, cell: Cell, old: list[_Order], new: list[_Order],
                       lines: tuple[tuple[str, Decimal], ...]) -> list[Key]:
        """Same, knowing that the BOM did not change: only the orders that went away or are
        new (kept orders put the very same requirements) change the components'."""
        kept, now = set(old), set(new)
        gone = [o for o in old if o not in now]
        fresh = [o for o in new if o not in kept]
        if not gone and not fresh:
            return []
        sku, wh = cell.sku, cell.wh
        out = []
        for idx, (comp, f) in enumerate(lines):
            rem = [(o.start, 1, sku, o.due, idx, o.qty if f is ONE else o.qty * f, -1, o, f) for o in gone]
            add = [(o.start, 1, sku, o.due, idx, o.qty if f is ONE else o.qty * f, -1, o, f) for o in fresh]
            ckey = (comp, wh)
            self._cell(*ckey).patch_dep(sku, cell.out[comp], rem, add)
            out.append(ckey)
        return out

    def _output(self, o: _Order, key: Key, item: Item) -> None:
        dates = self._dates
        start = dates.get(o.start) or dates.setdefault(o.start, _fromordinal(o.start))
        due = dates.get(o.due) or dates.setdefault(o.due, _fromordinal(o.due))
        o.out = _make_order(key[0], key[1], item.kind, o.qty, start, due, o.late, o.supplier,
                            o.price, o.pegs)

    def _repeg(self, o: _Order, key: Key, item: Any, repegged: set[_Order],
               changes: list[Change]) -> None:
        pegs = _materialize(o.chunks, o.pegs)
        if pegs != o.pegs:
            o.pegs = pegs
            repegged.add(o)
            self._output(o, key, item)
            changes.append((key, o.due, o.out))

    def _match(self, key: Key, old: list[_Order], new: list[_Order], saved: dict[_Order, list[Any]],
               srcs: set[_Order] | None, repegged: set[_Order], renew: bool, item: Item,
               changes: list[Change]) -> list[_Order]:
        """After a walk: keep the old order object wherever the walk reused it or made an
        equal one (same due, qty, start, supplier...), so that the requirements its components
        hold, which name it, stay equal; re-materialise pegs where its chunks or its sources'
        pegs changed; record every order that appeared, changed or went away."""
        kept = set(old)
        by_due = {o.due: o for o in old}
        out = []
        for o in new:
            if o in kept:  # taken over from the last walk
                del by_due[o.due]
                diff = False
                if o in saved:
                    if saved[o] == o.chunks:
                        o.chunks = saved[o]  # the old chunks: the new equal ones are let go
                    else:
                        diff = True
                if diff or (srcs and any(_source(c) in srcs for c in o.chunks)):
                    self._repeg(o, key, item, repegged, changes)
            else:
                prev = by_due.pop(o.due, None)
                if prev is None or prev.signature() != o.signature():
                    o.pegs = _materialize(o.chunks, prev.pegs if prev is not None else ())
                    self._output(o, key, item)
                    changes.append((key, o.due, o.out))
                    out.append(o)
                    continue
                diff = prev.chunks != o.chunks
                if diff:
                    prev.chunks = o.chunks
                if diff or (srcs and any(_source(c) in srcs for c in prev.chunks)):
                    self._repeg(prev, key, item, repegged, changes)
                o = prev
            if renew:
                self._output(o, key, item)
                changes.append((key, o.due, o.out))
            out.append(o)
        changes += [(key, due, None) for due in by_due]
        return out

    # -- results --
    def plan(self) -> Plan:
        by_due: dict[int, list[PlannedOrder]] = defaultdict(list)
        excs: list[MrpException] = []
        for key in sorted(self.cells):
            cell = self.cells[key]
            for o in cell.orders:
                by_due[o.due].append(o.out)  # type: ignore[arg-type]
            excs += cell.exceptions
        orders: list[PlannedOrder] = []
        for due in sorted(by_due):
            orders += by_due[due]
        return Plan(self.today, tuple(orders), tuple(excs))

    def coverage(self) -> tuple[Coverage, ...]:
        out: list[Coverage] = []
        for key in sorted(self.cells):
            out += self.cells[key].coverage
        return tuple(out)


def plan_with_coverage(inp: PlanningInput, choose_supply: SupplyChooser | None = None
                       ) -> tuple[Plan, tuple[Coverage, ...]]:
    """The plan, and how each independent demand is covered (by sku and warehouse)."""
    with paused_gc():
        engine = Engine(inp, choose_supply)
        engine.run(list(engine.cells))
        result = engine.plan(), engine.coverage()
        del engine  # freed here, still without the collector
        to_oldest_generation()
    return result


def plan(inp: PlanningInput, choose_supply: SupplyChooser | None = None) -> Plan:
    """A full regenerative MRP run over ``inp`` (see the module docstring for the rules)."""
    return plan_with_coverage(inp, choose_supply)[0]
