"""MRP runs: compute a plan from one consistent read of the database, keep each run, compare two.

``compute`` is what ``fieldsync mrp`` and ``POST /api/v1/planning/mrp/runs`` share, so the CLI
and the API print the same document for the same data. A kept run stores the plan JSON exactly
as served and ``input_version``, a SHA-256 of everything the plan was computed from (the loaded
``PlanningInput`` and the price agreements), written canonically: two runs with the same version
planned the same data, whatever order rows came back in and however a decimal was scaled.

Only the back office may run or read plans.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Annotated, Any

import msgspec
import uuid_utils
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.planning_schema import mrp_run
from server.domain.planning.allocated import Policy, plan_allocated
from server.domain.planning.load import load_agreements, load_planning_input
from server.domain.planning.model import Plan, PlanningInput
from server.domain.planning.render import plan_to_json, qty_text
from server.domain.planning.supply import Agreement
from server.domain.procurement.allocation_json import allocation_to_json
from server.domain.procurement.allocation_model import Allocation, Quota, SupplierTerms
from server.domain.procurement.quotas import load_quotas
from server.domain.procurement.scorecard_service import supplier_scores
from server.domain.procurement.supplier_terms import load_supplier_terms
from server.domain.sync.principal import Principal
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.values import utc_text

__all__ = [
    "MrpResult",
    "PlanDoc",
    "Run",
    "RunRequest",
    "RunSummary",
    "ScoreRule",
    "compare_plans",
    "compare_runs",
    "compute",
    "create_run",
    "get_run",
    "get_run_allocation",
    "input_version",
    "list_runs",
    "run_mrp",
    "snapshot",
]

EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(9000, 12, 31)  # a planning day outside is a typo


# ---- wire shapes (the plan document is PLANNING.md's) -----------------------------------------


class RunRequest(msgspec.Struct, forbid_unknown_fields=True):
    today: dt.date  # the planning day; past due dates are late relative to it
    # suppliers whose scorecard score (0..100) is below this are not allocated orders...
    min_supplier_score: Decimal | None = None  # 0..100
    # ...unless named here (codes)
    allow_suppliers: list[Annotated[str, msgspec.Meta(max_length=64)]] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class ScoreRule:
    """Allocation leaves out suppliers scored below ``min_score`` (scorecards over the year up
    to the planning day) unless they are in ``allow``; a supplier without a score is not below."""

    min_score: Decimal
    allow: frozenset[str] = frozenset()


class PlanPeg(msgspec.Struct):
    demand: str
    qty: str


class PlanOrder(msgspec.Struct):
    sku: str
    warehouse: str
    kind: str
    qty: str
    start: str
    due: str
    supplier: str | None
    unit_price: str | None
    late: bool
    pegging: list[PlanPeg]


class PlanException(msgspec.Struct):
    sku: str
    kind: str
    detail: str


class PlanDoc(msgspec.Struct):
    today: str
    planned_orders: list[PlanOrder]
    exceptions: list[PlanException]


class RunCounts(msgspec.Struct):
    planned_orders: int
    exceptions: int


class RunSummary(msgspec.Struct):
    id: str
    created_at: str
    today: str
    input_version: str
    requested_by: str
    counts: RunCounts


class Run(msgspec.Struct):
    id: str
    created_at: str
    today: str
    input_version: str
    requested_by: str
    counts: RunCounts
    plan: PlanDoc


class RunRef(msgspec.Struct):
    id: str
    today: str
    input_version: str


class QtyDiff(msgspec.Struct):
    sku: str
    warehouse: str
    a: str
    b: str
    difference: str  # b - a


class OrderChange(msgspec.Struct):
    sku: str
    warehouse: str
    due: str
    fields: list[str]
    a: PlanOrder
    b: PlanOrder


class OrderDiff(msgspec.Struct):
    added: list[PlanOrder]
    removed: list[PlanOrder]
    changed: list[OrderChange]


class Comparison(msgspec.Struct):
    a: RunRef
    b: RunRef
    inputs_differ: bool
    quantities: list[QtyDiff]
    orders: OrderDiff


# ---- computing a plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class MrpResult:
    input: PlanningInput
    agreements: tuple[Agreement, ...]
    plan: Plan
    document: dict[str, Any]  # plan_to_json(plan)
    input_version: str
    allocation: Allocation | None = None  # who got the buy and subcontract orders, and why


def _cell(value: Any) -> str | None:
    """One value as text that is equal exactly when the values plan the same: decimals by value
    (``10`` and ``10.000`` alike), dates ISO, enums by value."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, Decimal):
        return qty_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@cache
def _getter(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """All the fields of a dataclass as a tuple (all of them, so a field added to the model
    later is hashed too)."""
    names = [f.name for f in fields(cls)]
    get = attrgetter(*names)
    return (lambda o: (get(o),)) if len(names) == 1 else get  # type: ignore[return-value]


def _rows(value: Any, key: tuple[str | None, ...] = ()) -> Iterator[tuple[str | None, ...]]:
    """A field of the input as flat rows of text: a mapping's key leads each of its rows, a
    collection gives a row per element, a dataclass a row of its fields."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _rows(v, (*key, *map(_cell, k if isinstance(k, tuple) else (k,))))
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            if is_dataclass(v):
                yield (*key, *map(_cell, _getter(type(v))(v)))
            else:
                yield from _rows(v, key)
    elif is_dataclass(value):
        yield (*key, *map(_cell, _getter(type(value))(value)))
    else:
        yield (*key, _cell(value))


def input_version(inp: PlanningInput, agreements: Iterable[Agreement] = (),
                  suppliers: Mapping[str, SupplierTerms] | None = None,
                  scores: tuple[ScoreRule, Mapping[str, Decimal]] | None = None,
                  quotas: Iterable[Quota] = ()) -> str:
    """SHA-256 (hex) of the planning input, the price agreements, the suppliers' terms
    (capacity, blocked; the allocation plans with them), the supplier quotas and a score rule
    with the scores it read, in canonical form: each field as sorted rows of text (the loader's
    row order is not part of the data). No suppliers, no quotas, no score rule: no section."""
    h = hashlib.sha256()
    sections: list[tuple[str, Any]] = [(f.name, getattr(inp, f.name)) for f in fields(inp)]
    sections.append(("agreements", list(agreements)))
    if suppliers:
        sections.append(("suppliers", list(suppliers.values())))
    quota_list = list(quotas)
    if quota_list:
        sections.append(("quotas", quota_list))
    if scores is not None:
        rule, read = scores
        sections.append(("scores", {"min": rule.min_score, "allow": sorted(rule.allow), "read": dict(read)}))
    for name, value in sections:
        h.update(repr(name).encode())
        h.update("\n".join(sorted(map(repr, _rows(value)))).encode())
        h.update(b"\n\n")
    return h.hexdigest()


@asynccontextmanager
async def snapshot(db: Database) -> AsyncIterator[AsyncConnection]:
    """A read transaction that sees one state of the whole database: REPEATABLE READ on
    PostgreSQL (so rows committed while MRP loads are not half seen); on SQLite a WAL read
    transaction already reads one snapshot."""
    if not db.is_postgres:
        async with db.read() as conn:
            yield conn
        return
    async with db.reader.connect() as raw:
        conn = await raw.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            yield conn


def check_today(today: dt.date) -> dt.date:
    if not EARLIEST <= today <= LATEST:
        raise InvalidInput(f"today {today} is outside {EARLIEST}..{LATEST}", code="invalid_value")
    return today


async def compute(conn: AsyncConnection, today: dt.date, rule: ScoreRule | None = None) -> MrpResult:
    """Load, plan with the supplier allocation (``allocated.plan_allocated``), and render: one
    regenerative run. With a score rule, the suppliers' scorecard scores are read too."""
    inp = await load_planning_input(conn, check_today(today))
    agreements = tuple(await load_agreements(conn))
    suppliers = await load_supplier_terms(conn)
    quotas = await load_quotas(conn)
    policy = Policy(suppliers, quotas)
    scored: tuple[ScoreRule, Mapping[str, Decimal]] | None = None
    if rule is not None:
        read = await supplier_scores(conn, today)
        policy = Policy(suppliers, quotas, scores=read, score_threshold=rule.min_score, overrides=rule.allow)
        scored = (rule, read)
    result = plan_allocated(inp, agreements, policy)
    plan = result.plan
    return MrpResult(inp, agreements, plan, plan_to_json(plan),
                     input_version(inp, agreements, suppliers, scored, quotas), result.allocation)


async def run_mrp(db: Database, today: dt.date, rule: ScoreRule | None = None) -> MrpResult:
    async with snapshot(db) as conn:
        return await compute(conn, today, rule)


# ---- kept runs --------------------------------------------------------------------------------


def _guard(principal: Principal) -> None:
    if not principal.is_backoffice:
        raise Forbidden("only the back office may run or read MRP plans")


def _summary_fields(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": utc_text(row.created_at),
        "today": row.today.isoformat(),
        "input_version": row.input_version,
        "requested_by": row.requested_by,
        "counts": RunCounts(int(row.planned_orders), int(row.exceptions)),
    }


def _run(row: Any) -> Run:
    return Run(**_summary_fields(row), plan=msgspec.json.decode(row.plan, type=PlanDoc))


def _score_rule(req: RunRequest) -> ScoreRule | None:
    score = req.min_supplier_score
    if score is None:
        return None
    if not score.is_finite() or not 0 <= score <= 100:
        raise InvalidInput(f"min_supplier_score is a score from 0 to 100, got {score}", code="invalid_value")
    return ScoreRule(score, frozenset(req.allow_suppliers))


async def create_run(db: Database, principal: Principal, req: RunRequest, now: dt.datetime) -> Run:
    """Run MRP on the data as it is now and keep the run."""
    _guard(principal)
    check_today(req.today)
    _score_rule(req)
    try:
        result = await run_mrp(db, req.today, _score_rule(req))
    except InvalidInput as exc:  # the request was fine; the stored data cannot be planned
        raise Conflict(exc.detail, code=exc.code) from None
    doc = result.document
    values = {
        "id": str(uuid_utils.uuid7()),
        "created_at": now,
        "today": req.today,
        "input_version": result.input_version,
        "requested_by": principal.user,
        "device_id": principal.device_id,
        "planned_orders": len(doc["planned_orders"]),
        "exceptions": len(doc["exceptions"]),
        # the plan as served, and beside it (a key the plan document never reads) the allocation
        # with its explanation, for GET /mrp/runs/{id}/allocation
        "plan": json.dumps({**doc, "allocation": None if result.allocation is None
                            else allocation_to_json(result.allocation)},
                           separators=(",", ":"), ensure_ascii=False),
    }
    async with db.write() as conn:
        await conn.execute(mrp_run.insert().values(**values))
    async with db.read() as conn:
        row = (await conn.execute(select(mrp_run).where(mrp_run.c.id == values["id"]))).one()
    return _run(row)


async def list_runs(db: Database, principal: Principal, limit: int) -> list[RunSummary]:
    """Kept runs, newest first, without their plans."""
    _guard(principal)
    cols = [c for c in mrp_run.c if c.name != "plan"]
    async with db.read() as conn:
        rows = (await conn.execute(select(*cols).order_by(mrp_run.c.created_at.desc(), mrp_run.c.id.desc())
                                   .limit(limit))).all()
    return [RunSummary(**_summary_fields(r)) for r in rows]


async def _fetch(conn: AsyncConnection, run_id: str) -> Any:
    row = (await conn.execute(select(mrp_run).where(mrp_run.c.id == run_id[:64]))).one_or_none()
    if row is None:
        raise NotFound(f"there is no MRP run {run_id[:64]!r}", code="unknown_run")
    return row


async def get_run(db: Database, principal: Principal, run_id: str) -> Run:
    _guard(principal)
    async with db.read() as conn:
        return _run(await _fetch(conn, run_id))


async def get_run_allocation(db: Database, principal: Principal, run_id: str) -> dict[str, Any]:
    """The supplier allocation a kept run planned with: who got each buy and subcontract order,
    at what price, the alternatives and why they lost (docs/procurement.md)."""
    _guard(principal)
    async with db.read() as conn:
        row = await _fetch(conn, run_id)
    stored = msgspec.json.decode(row.plan)
    return {"id": row.id, "today": row.today.isoformat(), "input_version": row.input_version,
            "allocation": stored.get("allocation")}


async def compare_runs(db: Database, principal: Principal, a: str, b: str) -> Comparison:
    """What changed from run ``a`` to run ``b`` (see ``compare_plans``)."""
    _guard(principal)
    async with db.read() as conn:
        ra, rb = _run(await _fetch(conn, a)), _run(await _fetch(conn, b))
    return Comparison(
        a=RunRef(ra.id, ra.today, ra.input_version),
        b=RunRef(rb.id, rb.today, rb.input_version),
        inputs_differ=ra.input_version != rb.input_version,
        **compare_plans(ra.plan.planned_orders, rb.plan.planned_orders),
    )


# ---- comparing two plans (pure) ---------------------------------------------------------------

_COMPARED = ("qty", "start", "kind", "supplier", "unit_price", "late", "pegging")


def _order_key(o: PlanOrder) -> tuple[str, str, str]:
    return (o.sku, o.warehouse, o.due)


def _pairs(a: Sequence[PlanOrder], b: Sequence[PlanOrder]
           ) -> Iterator[tuple[PlanOrder | None, PlanOrder | None]]:
    """Orders of ``a`` and ``b`` that plan the same need, in (sku, warehouse, due) order: one
    each for a need is a pair; a need split over suppliers pairs its lines by supplier."""
    by_a: dict[tuple[str, str, str], list[PlanOrder]] = defaultdict(list)
    by_b: dict[tuple[str, str, str], list[PlanOrder]] = defaultdict(list)
    for o in a:
        by_a[_order_key(o)].append(o)
    for o in b:
        by_b[_order_key(o)].append(o)
    for k in sorted(by_a.keys() | by_b.keys()):
        la, lb = by_a.get(k, []), by_b.get(k, [])
        if len(la) == 1 and len(lb) == 1:
            yield la[0], lb[0]
            continue
        sa = {o.supplier or "": o for o in la}
        sb = {o.supplier or "": o for o in lb}
        for s in sorted(sa.keys() | sb.keys()):
            yield sa.get(s), sb.get(s)


def compare_plans(a: Sequence[PlanOrder], b: Sequence[PlanOrder]) -> dict[str, Any]:
    """Planned quantity per (sku, warehouse) where it differs, and orders added, removed and
    changed from ``a`` to ``b``. An order is known by (sku, warehouse, due date): MRP plans at
    most one order per product, warehouse and day, so that names the same need in both plans;
    a need the allocation split over suppliers is one line per supplier, known by the supplier
    too. Quantities compare by value (``10`` equals ``10.0``); ``difference`` is ``b - a``."""
    totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for side, orders in ((0, a), (1, b)):
        for o in orders:
            totals[(o.sku, o.warehouse)][side] += Decimal(o.qty)
    quantities = [QtyDiff(sku, wh, qty_text(qa), qty_text(qb), qty_text(qb - qa))
                  for (sku, wh), (qa, qb) in sorted(totals.items()) if qa != qb]
    added: list[PlanOrder] = []
    removed: list[PlanOrder] = []
    changed: list[OrderChange] = []
    for oa, ob in _pairs(a, b):
        if oa is None:
            added.append(ob)  # type: ignore[arg-type]
        elif ob is None:
            removed.append(oa)
        else:
            fields = [f for f in _COMPARED if _field(oa, f) != _field(ob, f)]
            if fields:
                changed.append(OrderChange(oa.sku, oa.warehouse, oa.due, fields, oa, ob))
    return {"quantities": quantities, "orders": OrderDiff(added, removed, changed)}


def _field(o: PlanOrder, name: str) -> Any:
    value = getattr(o, name)
    if name == "qty":
        return Decimal(value)
    if name == "unit_price":
        return None if value is None else Decimal(value)
    if name == "pegging":
        return sorted((p.demand, Decimal(p.qty)) for p in value)
    return value
