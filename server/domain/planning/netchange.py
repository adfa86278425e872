"""Net-change MRP: after a change, re-plan only what it touches and reuse the rest.

``NetChangePlanner`` keeps the last run's engine state per (sku, warehouse): its inputs (stock,
receipts, effective demands, the dependent requirements each parent puts on it), its planned
orders with the chunks of supply they gave to each requirement, and its exceptions. Told which
products' own inputs changed (demand, stock, receipts, item parameters, BOM lines of a
parent), ``update`` re-nets those products' cells, then, in low-level-code order:

- a component whose dependent requirements changed (a date, a quantity, a parent order) is
  re-netted; each new planned order equal to an old one (same due, qty, start, supplier...)
  keeps the old order object, so that the requirements it puts on its own components stay equal
  and the change stops there;
- a component whose requirements are unchanged but some of whose parent orders now serve other
  demands only has the pegs of the orders supplied by those parents re-materialised, and passes
  on the orders whose pegs changed.

Everything else, and the sorted plan itself (kept in per-due-date buckets), is reused. The
result equals a regenerative ``plan()`` of the same input (tests/planning/test_netchange.py
proves it on random change sequences); it needs a supply chooser that is a pure function of
its arguments, and a ``changed`` set that names every product whose own inputs changed.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import Any

from server.domain.planning.model import MrpException, Plan, PlannedOrder, PlanningInput
from server.domain.planning.mrp import Change, Coverage, Engine, Key, SupplyChooser, paused_gc

__all__ = ["NetChangePlanner"]


class NetChangePlanner:
    """Holds the last plan and re-plans by net change; ``plan`` is always the current one."""

    def __init__(self, inp: PlanningInput, choose_supply: SupplyChooser | None = None) -> None:
        self._choose = choose_supply
        with paused_gc():
            self._load(inp)

    def _load(self, inp: PlanningInput) -> None:
        self._engine = engine = Engine(inp, self._choose, keep=True)
        engine.run(list(engine.cells))
        self._days: list[int] = []  # due dates (ordinals) with orders, sorted
        self._buckets: dict[int, tuple[list[Key], list[PlannedOrder]]] = {}
        for key in sorted(engine.cells):
            for o in engine.cells[key].orders:
                bucket = self._buckets.get(o.due)
                if bucket is None:
                    bucket = self._buckets[o.due] = ([], [])
                bucket[0].append(key)
                bucket[1].append(o.out)  # type: ignore[arg-type]
        self._days = sorted(self._buckets)
        self._exc_keys = sorted(k for k, c in engine.cells.items() if c.exceptions)
        self._excs = {k: tuple(engine.cells[k].exceptions) for k in self._exc_keys}
        self.last_stats: dict[str, Any] = {"cells": len(engine.cells),
                                           "renetted": len(engine.cells), "repegged": 0,
                                           "orders_changed": sum(len(b[0]) for b in self._buckets.values())}
        self._plan = self._assemble()

    @property
    def plan(self) -> Plan:
        return self._plan

    def coverage(self) -> tuple[Coverage, ...]:
        """How each independent demand is covered, as ``plan_with_coverage`` gives it."""
        return self._engine.coverage()

    def update(self, inp: PlanningInput, changed: Iterable[str]) -> Plan:
        """The plan for ``inp``, re-planning from ``changed``: every sku whose demand, stock,
        receipts, item parameters or BOM lines (as a parent) differ from the last input.
        A new ``today`` changes every date, so it re-plans everything."""
        with paused_gc():
            return self._update(inp, changed)

    def _update(self, inp: PlanningInput, changed: Iterable[str]) -> Plan:
        engine = self._engine
        if inp.today != engine.today:
            self._load(inp)
            return self._plan
        changed = set(changed)
        before = {sku: engine.items.get(sku) for sku in changed}
        engine.set_master(inp.items, inp.bom, changed)
        renew = {sku for sku in changed if engine.items.get(sku) != before[sku]}
        touched = engine.load_inputs(inp, changed)
        changes = engine.run(touched, renew)
        self._apply(changes)
        for key in engine.rewalked:
            self._set_exceptions(key)
        self.last_stats = {"cells": len(engine.cells), "renetted": len(engine.rewalked),
                           "repegged": engine.repegged_cells, "orders_changed": len(changes)}
        self._plan = self._assemble()
        return self._plan

    # -- the sorted plan, patched --
    def _apply(self, changes: list[Change]) -> None:
        for key, due, order in changes:
            bucket = self._buckets.get(due)
            if bucket is None:
                if order is None:
                    continue
                bucket = self._buckets[due] = ([], [])
                insort(self._days, due)
            keys, vals = bucket
            pos = bisect_left(keys, key)
            here = pos < len(keys) and keys[pos] == key
            if order is not None:
                if here:
                    vals[pos] = order
                else:
                    keys.insert(pos, key)
                    vals.insert(pos, order)
            elif here:
                del keys[pos]
                del vals[pos]
                if not keys:
                    del self._buckets[due]
                    del self._days[bisect_left(self._days, due)]

    def _set_exceptions(self, key: Key) -> None:
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

    def _assemble(self) -> Plan:
        orders: list[PlannedOrder] = []
        for due in self._days:
            orders += self._buckets[due][1]
        excs: list[MrpException] = []
        for key in self._exc_keys:
            excs += self._excs[key]
        return Plan(self._engine.today, tuple(orders), tuple(excs))
