"""The current plan of this server process, kept up to date by net change.

One ``CurrentPlan`` per process holds a ``NetChangePlanner`` and the ``PlanningInput`` it
planned. It is built on first use (a full run) and then brought up to date by re-reading the
whole planning input in one snapshot (``runs.snapshot``), finding the skus whose own inputs
changed (``netchange.changed_skus``) and re-planning only those and what they reach. A push
that touches demand, stock or products, and a master-data edit, ask for that refresh in the
background (``stale``), off the request path; reading the plan (``read``) re-reads too, so:

- The plan always reflects the database as of one recorded point: ``as_of`` (when the snapshot
  was read) and ``input_version`` (the SHA-256 of what was read, as a kept run has it). Two
  processes, or a process and a kept run, with the same ``input_version`` have the same plan.
- Several processes on one database agree: each derives its plan from the database only, and
  net change gives exactly the regenerative plan of what it read. A process that missed a
  notification (a push served by another process) catches up at its next read, because it
  re-reads everything; notifications only make that read cheaper.
- A failed update (say a BOM cycle just imported) drops the plan; the next read builds it
  again from the database (and answers 409 while the data cannot be planned).

New price agreements, or a new planning day, re-plan everything (the supply choice is part of
every buy order). The CPU work runs in a worker thread, one update at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from server.db.engine import Database
from server.domain.planning.allocated import AllocationMemo, Policy, plan_allocated
from server.domain.planning.load import load_planning
from server.domain.planning.model import Plan, PlannedOrder, PlanningInput
from server.domain.planning.mrp import paused_gc, to_oldest_generation
from server.domain.planning.netchange import NetChangePlanner, changed_skus
from server.domain.planning.render import exception_json, order_json
from server.domain.planning.runs import (
    PlanDoc,
    PlanException,
    PlanOrder,
    PlanPeg,
    check_today,
    input_version,
    snapshot,
)
from server.domain.planning.supply import Agreement, cheapest_valid_agreement
from server.domain.procurement.allocation_model import Quota, SupplierTerms
from server.domain.procurement.quotas import load_quotas
from server.domain.procurement.supplier_terms import load_supplier_terms
from server.domain.sync.clock import ServerClock
from server.domain.sync.principal import Principal
from shared.errors import Conflict, Forbidden, InvalidInput

__all__ = ["PLAN_TABLES", "CurrentPlan", "CurrentPlanDoc", "PlanStats", "touches_plan"]

log = logging.getLogger("fieldsync.planning")

# synced tables whose rows the planning input reads (master tables are not synced)
PLAN_TABLES = frozenset({"product", "warehouse", "sales_order", "sales_order_line", "stock_move"})


def touches_plan(tables: Iterable[str]) -> bool:
    return not PLAN_TABLES.isdisjoint(tables)


class PlanStats(msgspec.Struct):
    """What the last update that changed the input did."""

    mode: str  # "regenerative" (first build, new day, new agreements) or "net_change"
    products_changed: int  # skus whose own inputs changed (all of them for a regenerative run)
    cells: int  # (sku, warehouse) cells in the plan
    cells_renetted: int  # cells netted again (all of them for a regenerative run)
    cells_repegged: int  # cells whose pegs only were rewritten
    orders_changed: int  # planned orders that appeared, changed or went away
    seconds: float  # CPU time of the update (without reading the database)
    at: str  # when its input was read (UTC)


class CurrentPlanDoc(msgspec.Struct):
    as_of: str  # when the planning input was last read (UTC); the plan is of that input
    today: str
    input_version: str
    stats: PlanStats
    plan: PlanDoc  # the document ``fieldsync mrp --json`` prints for the same data and day


@dataclass
class _State:
    today: dt.date
    inp: PlanningInput
    agreements: tuple[Agreement, ...]
    planner: NetChangePlanner
    stats: PlanStats
    as_of: str
    version: str | None = None
    doc: PlanDoc | None = None
    suppliers: Mapping[str, SupplierTerms] = field(default_factory=dict)  # for the allocation
    quotas: tuple[Quota, ...] = ()  # for the allocation
    # what the next allocation can reuse of the last (same agreements, day and policy only)
    memo: AllocationMemo = field(default_factory=AllocationMemo)
    # each planned order of the last document, rendered: an unchanged order is the same object
    rendered: dict[int, tuple[PlannedOrder, PlanOrder]] = field(default_factory=dict)


def _allocated_document(state: _State) -> PlanDoc:
    """The supplier allocation on the net-change plan, as a kept run does it, as a document.
    Both make millions of objects: the collector waits until they are made (as MRP's does)."""
    with paused_gc():
        plan = plan_allocated(state.inp, state.agreements, Policy(state.suppliers, state.quotas),
                              first=state.planner.plan, memo=state.memo).plan
        doc = _document(plan, state)
        del plan
    to_oldest_generation()
    return doc


def _document(plan: Plan, state: _State) -> PlanDoc:
    """``plan`` as the ``mrp --json`` document, rendering only the orders the last document did
    not have (net change and the allocation memo keep unchanged orders as the same objects)."""
    seen: dict[int, tuple[PlannedOrder, PlanOrder]] = {}
    orders: list[PlanOrder] = []
    known = state.rendered
    for o in plan.planned_orders:
        hit = known.get(id(o))
        if hit is None or hit[0] is not o:
            doc = order_json(o)
            hit = (o, PlanOrder(**{**doc, "pegging": [PlanPeg(**p) for p in doc["pegging"]]}))
        seen[id(o)] = hit
        orders.append(hit[1])
    state.rendered = seen
    return PlanDoc(plan.today.isoformat(), orders,
                   [PlanException(**exception_json(e)) for e in plan.exceptions])


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CurrentPlan:
    def __init__(self, db: Database, clock: ServerClock) -> None:
        self.db = db
        self.clock = clock
        self._state: _State | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    @property
    def stats(self) -> PlanStats | None:
        """What the last update that changed the plan did (None: not built)."""
        return None if self._state is None else self._state.stats

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, dt.UTC).date()

    # -- reading -----------------------------------------------------------------------------
    async def read(self, principal: Principal, today: dt.date | None = None) -> CurrentPlanDoc:
        """The plan of the data as it is now (re-read; only what changed is re-planned)."""
        if not principal.is_backoffice:
            raise Forbidden("only the back office may read the plan")
        day = check_today(today or self.today())
        async with self._lock:
            try:
                state = await self._refresh(day)
            except InvalidInput as exc:  # the request was fine; the stored data cannot be planned
                raise Conflict(exc.detail, code=exc.code) from None
            if state.version is None:
                state.version = await asyncio.to_thread(input_version, state.inp, state.agreements,
                                                        state.suppliers, None, state.quotas)
            if state.doc is None:
                state.doc = await asyncio.to_thread(_allocated_document, state)
            return CurrentPlanDoc(state.as_of, state.today.isoformat(), state.version, state.stats, state.doc)

    async def refresh(self) -> None:
        """Re-read the planning input and bring the plan up to it (if it was built)."""
        async with self._lock:
            if self._state is not None:
                await self._refresh(self._state.today)

    async def _refresh(self, today: dt.date) -> _State:
        at = self.clock.now_ms()
        async with snapshot(self.db) as conn:
            inp, loaded = await load_planning(conn, today)
            suppliers = await load_supplier_terms(conn)
            quotas = await load_quotas(conn)
        agreements = tuple(loaded)
        try:
            self._state = await asyncio.to_thread(self._apply, self._state, inp, agreements, _utc(at))
            if self._state.suppliers != suppliers or self._state.quotas != quotas:  # the allocation's, not MRP's
                self._state.suppliers, self._state.quotas = suppliers, quotas
                self._state.version, self._state.doc = None, None
                self._state.memo = AllocationMemo()
        except BaseException:
            self._state = None  # a failure part-way leaves nothing half updated: rebuild next time
            raise
        return self._state

    @staticmethod
    def _apply(state: _State | None, inp: PlanningInput, agreements: tuple[Agreement, ...],
               as_of: str) -> _State:
        t0 = time.thread_time()
        if state is None or state.today != inp.today or state.agreements != agreements:
            planner = NetChangePlanner(inp, cheapest_valid_agreement(agreements, inp.today))
            return _State(inp.today, inp, agreements, planner,
                          _stats("regenerative", len(inp.items), planner.last_stats, t0, as_of), as_of)
        changed = changed_skus(state.inp, inp)
        state.as_of = as_of
        if not changed:
            return state
        state.planner.update(inp, changed)
        state.inp, state.version, state.doc = inp, None, None
        state.stats = _stats("net_change", len(changed), state.planner.last_stats, t0, as_of)
        return state

    # -- background --------------------------------------------------------------------------
    def stale(self) -> None:
        """The data may have changed: refresh in the background (only once the plan has been
        built: a process nobody asked for a plan does no planning)."""
        if self._state is None:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="fieldsync-current-plan")
        self._idle.clear()
        self._wake.set()

    def pushed(self, tables: Collection[str]) -> None:
        """Accepted changes of these synced tables were stored."""
        if touches_plan(tables):
            self.stale()

    async def settled(self, timeout: float = 120) -> None:
        """Wait until every refresh asked for so far is done (for tests and shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing the current plan failed; the next read builds it again")
            if not self._wake.is_set():
                self._idle.set()


def _stats(mode: str, changed: int, last: Mapping[str, Any], t0: float, at: str) -> PlanStats:
    return PlanStats(mode=mode, products_changed=changed, cells=int(last["cells"]),
                     cells_renetted=int(last["renetted"]), cells_repegged=int(last["repegged"]),
                     orders_changed=int(last["orders_changed"]), seconds=round(time.thread_time() - t0, 3),
                     at=at)
