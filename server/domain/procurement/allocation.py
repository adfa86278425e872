"""Supplier allocation: which suppliers get MRP's planned buy and subcontract orders, in what
split, at which price tier, for the least total landed cost.

Pure: plain data in (``AllocationInput``), an ``Allocation`` out; HiGHS runs in-process.
Landed cost is ``quantity x unit price`` of the tier each supplier's quantity reaches (the
agreements carry no freight or duty). The rules:

- options.py: which agreement lines can serve an order (not blocked, not below the score
  threshold without an override, valid on the order date, tier reachable), capacity per
  supplier and ISO week of arrival, the cost weights (priority epsilon, late, unmet, quota).
- milp.py: the model. greedy.py: the first-by-priority baseline and starting solution.
- Decomposition: orders that share a finite capacity (a supplier's week) or an item quota are
  solved together; the components are independent MILPs. An order that touches no finite
  capacity and no quota is solved on its own exactly: its cheapest penalised option for the
  whole quantity (splitting never lowers the price of a tier that applies to the whole part).
- Each component keeps the better of the MILP's answer and the greedy split (by the exact
  objective below), so the allocation is never worse than the greedy rule, even at the time
  limit.
- The split leaves the solver as exact decimals on the order's quantum (options.exact_split);
  the parts add up to the order quantity exactly. What no one can supply goes to the least-bad
  option and is flagged ``over_capacity``.

``objective`` is the exact measure both are judged by: cost, plus the subcontract priority term
(``step x (priority - 1)`` per unit of a subcontract part, options.py), plus ``2M`` per late unit,
``4M`` per unmet unit and ``M`` per unit missing from (or above) a quota (``M`` from
``options.big_m``). The purchase priority epsilon is left out: it only breaks ties.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from server.domain.planning.model import Item, ItemKind
from server.domain.planning.supply import Agreement, AgreementKind, choose_agreement
from server.domain.procurement.allocation_explain import explain
from server.domain.procurement.allocation_model import (
    Allocation,
    AllocationInput,
    Need,
    OrderAllocation,
    Quota,
)
from server.domain.procurement.greedy import greedy
from server.domain.procurement.milp import solve_component
from server.domain.procurement.options import (
    Candidates,
    big_m,
    by_priority,
    candidates,
    exact_split,
    finish_order,
    priority_step,
    quantum,
)

__all__ = ["allocate", "greedy_allocation", "objective", "week_usage"]

ZERO = Decimal(0)


def _components(c: Candidates) -> tuple[list[list[int]], list[int]]:
    """Orders joined by a shared finite capacity or an item quota, and the orders on their own."""
    inp = c.inp
    parent = list(range(len(inp.needs)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    first: dict[object, int] = {}
    linked: set[int] = set()
    quota_skus = {q.sku for q in inp.quotas}
    for i, need in enumerate(inp.needs):
        keys: list[object] = [("sku", need.sku)] if need.sku in quota_skus else []
        keys += [("cap", c.options[j].line.supplier, c.options[j].week) for j in c.by_need[i]
                 if (c.options[j].line.supplier, c.options[j].week) in c.capacity]
        for key in keys:
            linked.add(i)
            if key in first:
                parent[find(i)] = find(first[key])
            else:
                first[key] = i
    groups: dict[int, list[int]] = defaultdict(list)
    for i in sorted(linked):
        groups[find(i)].append(i)
    alone = [i for i in range(len(inp.needs)) if i not in linked]
    return sorted(groups.values(), key=len, reverse=True), alone


def _quota_misses(inp: AllocationInput, orders: Iterable[OrderAllocation], quotas: Iterable[Quota]
                  ) -> list[tuple[str, str, Decimal]]:
    quotas = list(quotas)
    if not quotas:
        return []
    volume: dict[str, Decimal] = defaultdict(Decimal)
    given: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for oa in orders:
        volume[oa.need.sku] += oa.need.qty
        for p in oa.parts:
            given[(oa.need.sku, p.supplier)] += p.qty
    out = []
    for q in quotas:
        miss = q.min_share * volume[q.sku] - given[(q.sku, q.supplier)]
        if q.sku in volume and miss > 0:
            out.append((q.sku, q.supplier, miss))
        if q.max_share is not None and q.sku in volume:
            over = given[(q.sku, q.supplier)] - q.max_share * volume[q.sku]
            if over > 0:  # above its maximum: counted as negative
                out.append((q.sku, q.supplier, -over))
    return out


def objective(inp: AllocationInput, orders: Iterable[OrderAllocation], big: Decimal | None = None) -> Decimal:
    """Exact cost plus the penalties for late, unmet and quota-missing units (module docstring).
    ``big`` is M (computed from ``inp`` when not given)."""
    orders = list(orders)
    if big is None:
        big = big_m(inp.agreements)
    step = priority_step(inp.agreements)
    total = ZERO
    for oa in orders:
        ranked = oa.need.kind == AgreementKind.SUBCONTRACT
        for p in oa.parts:
            total += p.cost + (2 * big * p.qty if p.late else ZERO) + 4 * big * p.over_capacity
            if ranked:
                total += step * max(p.priority - 1, 0) * p.qty
        if not oa.parts:
            total += 4 * big * oa.need.qty
    skus = {oa.need.sku for oa in orders}
    misses = _quota_misses(inp, orders, [q for q in inp.quotas if q.sku in skus])
    return total + big * sum((abs(m) for _, _, m in misses), ZERO)


def _finish(c: Candidates, i: int, chosen: dict[int, Decimal], unmet: Decimal) -> OrderAllocation:
    return OrderAllocation(c.inp.needs[i], finish_order(c, i, chosen, unmet))


def _alone(c: Candidates, i: int) -> OrderAllocation:
    need = c.inp.needs[i]
    if not c.by_need[i]:
        return _finish(c, i, {}, need.qty)
    best = min(c.by_need[i], key=lambda j: (c.cost_of[j], c.rank(c.options[j])))
    return _finish(c, i, {best: need.qty}, ZERO)


def _rule_choice(c: Candidates, i: int, by_sku: dict[str, list[Agreement]]) -> str | None:
    """The supplier ``supply.choose_agreement`` picks for the order alone. Without a score
    threshold its candidates are exactly the order's options, so it is read from them."""
    inp = c.inp
    if inp.score_threshold is None:
        best = min(c.by_need[i], default=None, key=lambda j: (
            c.options[j].line.priority if by_priority(c.options[j].line) else 0,
            c.options[j].line.unit_price, c.options[j].line.priority, c.options[j].lead,
            c.options[j].line.supplier))
        return None if best is None else c.options[best].line.supplier
    need = inp.needs[i]
    kind = ItemKind.BUY if need.kind == "purchase" else ItemKind.SUBCONTRACT
    a = choose_agreement(by_sku.get(need.sku, ()), Item(need.sku, kind, need.lead_time_days),
                         need.qty, need.due, inp.today)
    return None if a is None else a.supplier


def allocate(inp: AllocationInput, memo: dict[Need, OrderAllocation] | None = None) -> Allocation:
    """The least-cost allocation of ``inp.needs`` (module docstring), explained order by order.

    ``memo``: the allocations of orders that were on their own (no finite capacity, no quota)
    in earlier calls with the same agreements, suppliers, quotas, scores and day; the caller
    keeps it, and must drop it when any of those change. An order on its own is allocated, and
    explained, from its need alone, so an equal need gets an equal answer: those are taken from
    the memo, the rest are allocated here, and the memo then holds this call's lone orders only
    (so it never grows past one plan's)."""
    if memo is None:
        return _allocate(inp, None)
    known = [memo.get(n) for n in inp.needs]
    if not any(known):
        out = _allocate(inp, memo)
    else:
        rest = replace(inp, needs=tuple(n for n, k in zip(inp.needs, known, strict=True) if k is None))
        fresh = _allocate(rest, memo) if rest.needs else Allocation((), "optimal", 0.0, 0.0)
        made = iter(fresh.orders)
        orders = tuple(k if k is not None else next(made) for k in known)
        out = Allocation(orders, fresh.status, fresh.gap, fresh.seconds, fresh.components,
                         tuple(_quota_misses(inp, orders, inp.quotas)))
    lone = {n: memo[n] for n in inp.needs if n in memo}
    memo.clear()
    memo.update(lone)
    return out


def _allocate(inp: AllocationInput, memo: dict[Need, OrderAllocation] | None) -> Allocation:
    t0 = time.perf_counter()
    c = candidates(inp)
    groups, alone = _components(c)
    start = greedy(c, [i for g in groups for i in g])  # the others touch no finite capacity
    result: dict[int, OrderAllocation] = {i: _alone(c, i) for i in alone}
    statuses: list[str] = []
    worst_gap = 0.0
    units = sum(len(g) for g in groups) or 1
    for group in groups:
        skus = {inp.needs[i].sku for i in group}
        quotas = [q for q in inp.quotas if q.sku in skus]
        budget = max(inp.time_limit_s - (time.perf_counter() - t0), 0.05)
        share = budget * len(group) / units
        units -= len(group)
        solved = solve_component(c, group, quotas, start, share, inp.mip_rel_gap)
        mine: list[OrderAllocation] = []
        for i in group:
            step = quantum(inp.needs[i], [c.capacity[k] for k in {
                (c.options[j].line.supplier, c.options[j].week) for j in c.by_need[i]} if k in c.capacity])
            chosen, unmet = exact_split(inp.needs[i], solved.split[i], solved.short[i], step)
            mine.append(_finish(c, i, chosen, unmet))
        base = [_finish(c, i, start[0][i], start[1][i]) for i in group]
        if objective(inp, base, c.big) < objective(inp, mine, c.big):
            mine = base
        for i, oa in zip(group, mine, strict=True):
            result[i] = oa
        statuses.append(solved.status)
        worst_gap = max(worst_gap, solved.gap)
    by_sku: dict[str, list[Agreement]] = defaultdict(list)
    for a in inp.agreements:
        by_sku[a.sku].append(a)
    orders = [result[i] for i in range(len(inp.needs))]
    usage = week_usage(orders)
    explained = tuple(explain(c, i, oa, usage, _rule_choice(c, i, by_sku)) for i, oa in enumerate(orders))
    if memo is not None:
        memo.update((inp.needs[i], explained[i]) for i in alone)
    status = ("time_limit" if "time_limit" in statuses else
              "within_gap" if "within_gap" in statuses else "optimal")
    return Allocation(explained, status, worst_gap, time.perf_counter() - t0, len(groups),
                      tuple(_quota_misses(inp, orders, inp.quotas)))


def week_usage(orders: Iterable[OrderAllocation]) -> dict[tuple[str, tuple[int, int]], Decimal]:
    """Units each supplier delivers per ISO week of arrival (over capacity included)."""
    used: dict[tuple[str, tuple[int, int]], Decimal] = defaultdict(Decimal)
    for oa in orders:
        for p in oa.parts:
            iso = (p.order_date + dt.timedelta(days=p.lead_time_days)).isocalendar()
            used[(p.supplier, (iso[0], iso[1]))] += p.qty
    return used


def greedy_allocation(inp: AllocationInput) -> Allocation:
    """The greedy rule's allocation of the same input, in the same shape (for comparisons)."""
    t0 = time.perf_counter()
    c = candidates(inp)
    chosen, unmet = greedy(c)
    orders = tuple(_finish(c, i, chosen[i], unmet[i]) for i in range(len(inp.needs)))
    return Allocation(orders, "greedy", 0.0, time.perf_counter() - t0, 0,
                      tuple(_quota_misses(inp, orders, inp.quotas)))
