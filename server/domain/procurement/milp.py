"""The allocation MILP of one component of orders, on HiGHS (highspy). The only float code.

For each option j (an agreement line of a supplier for an order, options.py) of the orders in
the component:

    x_j  units bought through option j, continuous in [0, u_j], u_j = min(order qty, capacity)
    y_j  1 when option j's tier is the one used for that supplier and order (binary)

and per order o a continuous ``short_o`` (unmet units), per quota k a continuous ``miss_k`` (and
``over_k`` when it has a maximum share).

    minimise   sum_j c_j x_j + P sum_o short_o + Q sum_k (miss_k + over_k)
    subject to sum_{j of o} x_j + short_o            = qty_o      each order
               x_j - u_j y_j                         <= 0         each option
               x_j - min_qty_j y_j                   >= 0         each option with min_qty > 0
               sum_{j of o and supplier s} y_j       <= 1         each order and supplier (one tier)
               sum_{j of s arriving in week w} x_j   <= cap_{s,w} each finite capacity
               sum_{j of sku i and s} x_j + miss_k   >= share_k * sum_{o of i} qty_o   each quota
               sum_{j of sku i and s} x_j - over_k   <= max_k * sum_{o of i} qty_o     each maximum

``c_j`` is the penalised unit cost (options.py). A tier's price applies to everything given to
that supplier for that order, because x_j may be positive only with y_j = 1 and at least
``min_qty_j``: splitting an order to reach no tier is priced as such. The greedy split is passed
as a starting solution, so the answer is never worse than the greedy rule. The model is built
as arrays (one ``addCols``, one ``addRows``) and solved with one thread, ``mip_rel_gap`` and a
time limit.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import highspy
import numpy as np

from server.domain.procurement.allocation_model import Quota
from server.domain.procurement.options import Candidates, Week

__all__ = ["Solved", "solve_component"]

_banner_lock = threading.Lock()
_banner_shown = False


def _highs() -> highspy.Highs:
    """A quiet solver. HiGHS prints its banner on stdout when the first one is made in a
    process; ``fieldsync mrp --json`` must print its document only, so that one is made with
    stdout pointed at stderr."""
    global _banner_shown
    with _banner_lock:
        if not _banner_shown:
            sys.stdout.flush()
            saved = os.dup(1)
            try:
                os.dup2(2, 1)
                highspy.Highs()  # type: ignore[no-untyped-call]
                ctypes.CDLL(None).fflush(None)
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            _banner_shown = True
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    return h


@dataclass(frozen=True)
class Solved:
    split: dict[int, dict[int, float]]  # order -> option -> units
    short: dict[int, float]  # order -> unmet units
    status: str  # "optimal", "within_gap", "time_limit"
    gap: float
    seconds: float


def solve_component(c: Candidates, needs: list[int], quotas: list[Quota],
                    start: tuple[list[dict[int, Decimal]], list[Decimal]],
                    time_limit: float, mip_rel_gap: float) -> Solved:
    t0 = time.perf_counter()
    inp = c.inp
    opts = [j for i in needs for j in c.by_need[i]]
    usable = []
    ub: list[float] = []
    for j in opts:
        o = c.options[j]
        cap = c.capacity_of(o)
        u = float(inp.needs[o.need].qty if cap is None else min(inp.needs[o.need].qty, cap))
        if u > 0 and u + 1e-9 >= float(o.line.min_qty):
            usable.append(j)
            ub.append(u)
    n_opt = len(usable)
    col_of = {j: k for k, j in enumerate(usable)}  # x_j = k, y_j = n_opt + k
    short_col = {i: 2 * n_opt + k for k, i in enumerate(needs)}
    miss_col = {k: 2 * n_opt + len(needs) + k for k in range(len(quotas))}
    capped = [k for k, q in enumerate(quotas) if q.max_share is not None]
    over_col = {k: 2 * n_opt + len(needs) + len(quotas) + n for n, k in enumerate(capped)}
    n_cols = 2 * n_opt + len(needs) + len(quotas) + len(capped)

    cost = np.zeros(n_cols)
    lower = np.zeros(n_cols)
    upper = np.empty(n_cols)
    cost[:n_opt] = [c.cost_of[j] for j in usable]
    upper[:n_opt] = ub
    upper[n_opt:2 * n_opt] = 1.0
    for i, col in short_col.items():
        cost[col] = c.short_penalty
        upper[col] = float(inp.needs[i].qty)
    for col in (*miss_col.values(), *over_col.values()):
        cost[col] = c.quota_penalty
        upper[col] = highspy.kHighsInf

    row_lo: list[float] = []
    row_hi: list[float] = []
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []
    inf = highspy.kHighsInf

    def row(cols: list[int], vals: list[float], lo: float, hi: float) -> None:
        starts.append(len(index))
        index.extend(cols)
        value.extend(vals)
        row_lo.append(lo)
        row_hi.append(hi)

    per_need: dict[int, list[int]] = defaultdict(list)
    per_need_supplier: dict[tuple[int, str], list[int]] = defaultdict(list)
    per_week: dict[tuple[str, Week], list[int]] = defaultdict(list)
    per_sku_supplier: dict[tuple[str, str], list[int]] = defaultdict(list)
    for k, j in enumerate(usable):
        o = c.options[j]
        per_need[o.need].append(k)
        per_need_supplier[(o.need, o.line.supplier)].append(k)
        if (o.line.supplier, o.week) in c.capacity:
            per_week[(o.line.supplier, o.week)].append(k)
        per_sku_supplier[(inp.needs[o.need].sku, o.line.supplier)].append(k)
    for i in needs:
        ks = per_need.get(i, [])
        q = float(inp.needs[i].qty)
        row([*ks, short_col[i]], [1.0] * (len(ks) + 1), q, q)
    for k, j in enumerate(usable):
        row([k, n_opt + k], [1.0, -ub[k]], -inf, 0.0)
        m = float(c.options[j].line.min_qty)
        if m > 0:
            row([k, n_opt + k], [1.0, -m], 0.0, inf)
    for ks in per_need_supplier.values():
        if len(ks) > 1:
            row([n_opt + k for k in ks], [1.0] * len(ks), -inf, 1.0)
    for key, ks in per_week.items():
        row(ks, [1.0] * len(ks), -inf, float(c.capacity[key]))
    sku_volume: dict[str, float] = defaultdict(float)
    for i in needs:
        sku_volume[inp.needs[i].sku] += float(inp.needs[i].qty)
    for q_i, quota in enumerate(quotas):
        ks = per_sku_supplier.get((quota.sku, quota.supplier), [])
        need_units = float(quota.min_share) * sku_volume[quota.sku]
        row([*ks, miss_col[q_i]], [1.0] * (len(ks) + 1), need_units, inf)
        if quota.max_share is not None:
            row([*ks, over_col[q_i]], [1.0] * len(ks) + [-1.0], -inf,
                float(quota.max_share) * sku_volume[quota.sku])

    h = _highs()
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("mip_rel_gap", mip_rel_gap)
    h.setOptionValue("time_limit", max(time_limit, 0.05))
    h.addCols(n_cols, cost, lower, upper, 0, np.array([], dtype=np.int32),
              np.array([], dtype=np.int32), np.array([], dtype=np.float64))
    if starts:
        h.addRows(len(starts), np.array(row_lo), np.array(row_hi), len(index),
                  np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32),
                  np.array(value, dtype=np.float64))
    def vector(split: dict[int, dict[int, float]], short: dict[int, float]) -> np.ndarray:
        return _vector(c, needs, quotas, split, short, col_of, short_col, {**miss_col, **{
            -1 - k: col for k, col in over_col.items()}}, n_opt, n_cols, sku_volume)

    chosen, unmet = start
    guess = vector({i: {j: float(q) for j, q in chosen[i].items()} for i in needs},
                   {i: float(unmet[i]) for i in needs})
    # the LP relaxation first: its optimum is a lower bound, and rounded it is nearly always
    # within the gap already, which proves the answer without branching
    h.run()
    bound = -highspy.kHighsInf
    if n_opt and h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        bound = float(h.getInfo().objective_function_value)
        lp = np.asarray(h.getSolution().col_value)
        rounded = vector(*_round(c, needs, usable, lp))
        if float(cost @ rounded) < float(cost @ guess):
            guess = rounded
    best = float(cost @ guess)
    gap = (best - bound) / max(abs(best), 1e-9)
    if not n_opt or gap <= mip_rel_gap:
        values, status = guess, ("optimal" if gap <= 1e-9 or not n_opt else "within_gap")
        gap = max(gap, 0.0) if n_opt else 0.0
    else:
        h.changeColsIntegrality(n_opt, np.arange(n_opt, 2 * n_opt, dtype=np.int32),
                                np.full(n_opt, highspy.HighsVarType.kInteger))
        h.setOptionValue("time_limit", max(time_limit - (time.perf_counter() - t0), 0.05))
        sol = highspy.HighsSolution()
        sol.col_value = list(guess)
        sol.value_valid = True
        h.setSolution(sol)
        h.run()
        info = h.getInfo()
        values = np.asarray(h.getSolution().col_value) if info.primal_solution_status == 2 else guess
        if float(cost @ values) > best:
            values = guess
        mip_bound = float(info.mip_dual_bound)
        if math.isfinite(mip_bound):
            bound = max(bound, mip_bound)
        final = float(cost @ values)
        gap = max((final - bound) / max(abs(final), 1e-9), 0.0)
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            status = "optimal" if gap <= 1e-9 else "within_gap"
        else:
            status = "within_gap" if gap <= mip_rel_gap else "time_limit"
    split: dict[int, dict[int, float]] = {i: {} for i in needs}
    for k, j in enumerate(usable):
        if values[k] > 1e-9:
            split[c.options[j].need][j] = float(values[k])
    short = {i: float(values[col]) for i, col in short_col.items()}
    return Solved(split, short, status, gap, time.perf_counter() - t0)


def _round(c: Candidates, needs: list[int], usable: list[int], lp: np.ndarray
           ) -> tuple[dict[int, dict[int, float]], dict[int, float]]:
    """An integer-feasible split near the LP optimum: each supplier keeps the quantity the LP
    gave it, at the best tier that quantity reaches (dropped if it reaches none); what was
    dropped is filled from the order's cheapest options with capacity left, the rest is unmet."""
    inp = c.inp
    per: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for k, j in enumerate(usable):
        if lp[k] > 1e-9:
            o = c.options[j]
            per[o.need][o.line.supplier] += float(lp[k])
    ranked = {i: sorted(c.by_need[i], key=c.cost_of.__getitem__) for i in needs}
    left = {key: float(v) for key, v in c.capacity.items()}
    split: dict[int, dict[int, float]] = {}
    short: dict[int, float] = {}

    def best(i: int, supplier: str, qty: float) -> int | None:
        for j in ranked[i]:
            o = c.options[j]
            if o.line.supplier == supplier and float(o.line.min_qty) <= qty + 1e-9:
                return j
        return None

    kept: dict[int, dict[str, tuple[int, float]]] = {}
    for i in needs:  # first what the LP gave, so that filling never takes another order's room
        parts: dict[str, tuple[int, float]] = {}
        for s, x in per[i].items():
            found = best(i, s, x)
            if found is not None:
                parts[s] = (found, x)
                key = (s, c.options[found].week)
                if key in left:
                    left[key] -= x
        kept[i] = parts
    for i in needs:
        parts = kept[i]
        rest = float(inp.needs[i].qty) - sum(x for _, x in parts.values())
        for j in ranked[i]:
            if rest <= 1e-9:
                break
            o = c.options[j]
            key = (o.line.supplier, o.week)
            room = left.get(key, math.inf)
            had = parts.get(o.line.supplier)
            if had is not None and c.options[had[0]].week != o.week:
                continue
            take = min(rest, room)
            total = take + (had[1] if had else 0.0)
            if take <= 1e-9 or float(o.line.min_qty) > total + 1e-9:
                continue
            j2 = best(i, o.line.supplier, total)
            parts[o.line.supplier] = (j if j2 is None else j2, total)
            rest -= take
            if key in left:
                left[key] -= take
        split[i] = {j: x for j, x in parts.values()}
        short[i] = max(rest, 0.0)
    return split, short


def _vector(c: Candidates, needs: list[int], quotas: list[Quota], split: dict[int, dict[int, float]],
            short: dict[int, float], col_of: dict[int, int], short_col: dict[int, int],
            miss_col: dict[int, int], n_opt: int, n_cols: int, sku_volume: dict[str, float]) -> np.ndarray:
    """A split as a full column vector (x, y, short, quota misses and excesses); ``miss_col``
    has quota ``k``'s excess column under ``-1 - k``."""
    v = np.zeros(n_cols)
    to_supplier: dict[tuple[str, str], float] = defaultdict(float)
    for i in needs:
        unmet = short.get(i, 0.0)
        for j, q in split.get(i, {}).items():
            k = col_of.get(j)
            if k is None:  # not an option of the model: stay feasible, count it unmet
                unmet += q
                continue
            v[k] = q
            v[n_opt + k] = 1.0
            to_supplier[(c.inp.needs[i].sku, c.options[j].line.supplier)] += q
        v[short_col[i]] = unmet
    for q_i, quota in enumerate(quotas):
        want = float(quota.min_share) * sku_volume[quota.sku]
        v[miss_col[q_i]] = max(0.0, want - to_supplier[(quota.sku, quota.supplier)])
        if quota.max_share is not None:
            cap = float(quota.max_share) * sku_volume[quota.sku]
            v[miss_col[-1 - q_i]] = max(0.0, to_supplier[(quota.sku, quota.supplier)] - cap)
    return v
