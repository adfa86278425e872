"""Net-change MRP: after a change, re-plan only what it touches and reuse the rest.

``NetChangePlanner`` keeps the last run's engine state per (sku, warehouse): its inputs (stock,
receipts, effective demands, the dependent requirements each parent puts on it, kept sorted),
its planned orders with the chunks of supply they gave to each requirement, a snapshot of the
walk's state at every date it visited, and its exceptions. Told which products' own inputs
changed (demand, stock, receipts, item parameters, BOM lines of a parent), ``update`` re-nets
those products' cells from scratch, then, in low-level-code order:

- a component whose dependent requirements changed on some dates is walked again from the
  snapshot at the first such date; wherever its state (projected on hand, the supply left and
  what it served so far) is again the old walk's on a date that did not change, the walk jumps
  to the next changed date and takes the old orders in between. A new order equal to an old one
  (same due, qty, start, supplier...) keeps the old order object, so that the requirements it
  puts on its own components stay equal and the change stops there;
- a component whose requirements are unchanged but some of whose parent orders now serve other
  demands only has the pegs of the orders those parents supplied re-materialised, and passes on
  the orders whose pegs changed.

``update`` returns what changed (``PlanDelta``: the orders that appeared, changed or went
away, and the new exceptions of the cells it re-netted); ``plan`` is the whole current plan,
assembled on demand from per-due-date buckets that ``update`` patches. The plan equals a
regenerative ``plan()`` of the same input (tests/planning/test_netchange.py proves it over
random change sequences), given a supply chooser that is a pure function of its arguments and
a ``changed`` set that names every product whose own inputs changed.

Why a delta: a plan has about a million orders, and building a new million-entry tuple costs
more than re-planning after a few order lines, and makes the garbage collector walk all of it
again. A caller that stores plans stores the delta; one that needs the whole plan reads
``plan``.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from server.domain.planning.model import MrpException, Plan, PlannedOrder, PlanningInput
from server.domain.planning.mrp import (
    Coverage,
    Engine,
    Key,
    SupplyChooser,
    paused_gc,
    to_oldest_generation,
)

__all__ = ["NetChangePlanner", "PlanDelta", "changed_skus"]


def _per_sku(rows: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in rows:
        lst = out.get(r.sku)
        if lst is None:
            out[r.sku] = [r]
        else:
            lst.append(r)
    return out


def changed_skus(old: PlanningInput, new: PlanningInput) -> set[str]:
    """The skus whose own inputs differ from ``old`` to ``new`` (what ``update`` needs told):
    item, BOM lines as a parent, stock, demands, receipts. Rows are compared per sku in the
    order given, so a loader that reorders rows only makes the set larger, never wrong."""
    out = {s for s in old.items.keys() | new.items.keys() if old.items.get(s) != new.items.get(s)}
    out.update(s for s in old.bom.keys() | new.bom.keys() if old.bom.get(s) != new.bom.get(s))
    out.update(k[0] for k in old.stock.keys() | new.stock.keys() if old.stock.get(k) != new.stock.get(k))
    for a, b in ((old.demands, new.demands), (old.receipts, new.receipts)):
        if a == b:
            continue
        pa, pb = _per_sku(a), _per_sku(b)
        out.update(s for s in pa.keys() | pb.keys() if pa.get(s) != pb.get(s))
    return out


@dataclass(frozen=True)
class PlanDelta:
    """What one net-change ``update`` changed in the plan.

    ``orders``: ``(sku, warehouse, due, order)`` for every planned order that appeared or
    changed (``order`` is the new one) or went away (``order`` is None), sorted by (due, sku,
    warehouse). ``exceptions``: ``(sku, warehouse, exceptions)`` for every re-netted
    product and warehouse, with all its exceptions now (possibly none), sorted."""

    today: dt.date
    orders: tuple[tuple[str, str, dt.date, PlannedOrder | None], ...]
    exceptions: tuple[tuple[str, str, tuple[MrpException, ...]], ...]


class NetChangePlanner:
    """Holds the last plan and re-plans by net change; ``plan`` is always the current one."""

    def __init__(self, inp: PlanningInput, choose_supply: SupplyChooser | None = None) -> None:
        self._choose = choose_supply
        with paused_gc():
            self._load(inp)
            to_oldest_generation()

    def _load(self, inp: PlanningInput) -> None:
        self._engine = engine = Engine(inp, self._choose, keep=True)
        engine.run(list(engine.cells))
        self._buckets: dict[int, tuple[list[Key], list[PlannedOrder]]] = {}
        for key in sorted(engine.cells):
            for o in engine.cells[key].orders:
                bucket = self._buckets.get(o.due)
                if bucket is None:
                    bucket = self._buckets[o.due] = ([], [])
                bucket[0].append(key)
                bucket[1].append(o.out)  # type: ignore[arg-type]
        self._days = sorted(self._buckets)  # due dates (ordinals) with orders
        self._exc_keys = sorted(k for k, c in engine.cells.items() if c.exceptions)
        self._excs = {k: tuple(engine.cells[k].exceptions) for k in self._exc_keys}
        self._plan: Plan | None = None
        n = sum(len(b[0]) for b in self._buckets.values())
        self.last_stats: dict[str, Any] = {"cells": len(engine.cells), "renetted": len(engine.cells),
                                           "resumed": 0, "repegged": 0, "orders_changed": n}

    @property
    def plan(self) -> Plan:
        """The whole current plan, as ``plan()`` would give it (built once per update)."""
        if self._plan is None:
            with paused_gc():
                orders: list[PlannedOrder] = []
                for due in self._days:
                    orders += self._buckets[due][1]
                excs: list[MrpException] = []
                for key in self._exc_keys:
                    excs += self._excs[key]
                self._plan = Plan(self._engine.today, tuple(orders), tuple(excs))
                to_oldest_generation()
        return self._plan

    def coverage(self) -> tuple[Coverage, ...]:
        """How each independent demand is covered, as ``plan_with_coverage`` gives it."""
        return self._engine.coverage()

    def update(self, inp: PlanningInput, changed: Iterable[str]) -> PlanDelta:
        """Re-plan for ``inp`` from ``changed``: every sku whose demand, stock, receipts, item
        parameters or BOM lines (as a parent) differ from the last input. A new ``today``
        moves every date, so it re-plans everything (and the delta lists every order)."""
        with paused_gc():
            engine = self._engine
            if inp.today != engine.today:
                old = self.plan
                self._load(inp)
                delta = self._whole(old)
                to_oldest_generation()
                return delta
            changed = set(changed)
            before = {sku: engine.items.get(sku) for sku in changed}
            engine.set_master(inp.items, inp.bom, changed)
            renew = {sku for sku in changed if engine.items.get(sku) != before[sku]}
            touched = engine.load_inputs(inp, changed)
            changes = engine.run(touched, renew)
            final: dict[tuple[int, Key], PlannedOrder | None] = {}
            for key, due, order in changes:
                final[(due, key)] = order
            final = {k: o for k, o in final.items() if self._put(k[1], k[0], o)}
            excs = {}
            for key in engine.rewalked:
                excs[key] = self._set_exceptions(key)
            self._plan = None
            self.last_stats = {"cells": len(engine.cells), "renetted": len(engine.rewalked),
                               "resumed": engine.resumed, "repegged": engine.repegged_cells,
                               "orders_changed": len(final)}
            fromord = dt.date.fromordinal
            delta = PlanDelta(engine.today,
                              tuple((k[0], k[1], fromord(due), o) for (due, k), o in sorted(final.items())),
                              tuple((k[0], k[1], e) for k, e in sorted(excs.items())))
            to_oldest_generation()
            return delta

    def _whole(self, old: Plan) -> PlanDelta:
        """Every order and exception of the new plan, and those of ``old`` that went away."""
        new = self.plan
        orders: dict[tuple[dt.date, str, str], PlannedOrder | None] = {
            (o.due, o.sku, o.warehouse): None for o in old.planned_orders}
        orders.update({(o.due, o.sku, o.warehouse): o for o in new.planned_orders})
        excs: dict[Key, tuple[MrpException, ...]] = {(e.sku, e.warehouse or ""): () for e in old.exceptions}
        excs.update({k: self._excs[k] for k in self._exc_keys})
        return PlanDelta(new.today, tuple((sku, wh, due, o) for (due, sku, wh), o in sorted(orders.items())),
                         tuple((k[0], k[1], e) for k, e in sorted(excs.items())))

    def _put(self, key: Key, due: int, order: PlannedOrder | None) -> bool:
        """The order of ``key`` due on ``due`` is now ``order`` (None: there is none).
        Returns whether that changed anything (a cell netted twice in one run may put back
        what it had, or take away an order it had only just made)."""
        bucket = self._buckets.get(due)
        if bucket is None:
            if order is None:
                return False
            bucket = self._buckets[due] = ([], [])
            insort(self._days, due)
        keys, vals = bucket
        pos = bisect_left(keys, key)
        here = pos < len(keys) and keys[pos] == key
        if order is not None:
            if here:
                if vals[pos] == order:
                    return False
                vals[pos] = order
            else:
                keys.insert(pos, key)
                vals.insert(pos, order)
            return True
        if not here:
            return False
        del keys[pos]
        del vals[pos]
        if not keys:
            del self._buckets[due]
            del self._days[bisect_left(self._days, due)]
        return True

    def _set_exceptions(self, key: Key) -> tuple[MrpException, ...]:
        cell = self._engine.cells.get(key)
        excs = tuple(cell.exceptions) if cell is not None else ()
        pos = bisect_left(self._exc_keys, key)
        here = pos < len(self._exc_keys) and self._exc_keys[pos] == key
        if excs:
            self._excs[key] = excs
            if not here:
                self._exc_keys.insert(pos, key)
        elif here:
            del self._exc_keys[pos]
            del self._excs[key]
        return excs
