"""The allocation MILP of one component of orders, on HiGHS (highspy). The only float code.

For each option j (an agreement line of a supplier for an order, options.py) of the orders in
the component:

    x_j  units bought through option j, continuous in [0, u_j], u_j = min(order qty, capacity)
    y_j  1 when option j's tier is the one used for that supplier and order (binary)

and per order o a continuous ``short_o`` (unmet units), per quota k a continuous ``miss_k``.

    minimise   sum_j c_j x_j + P sum_o short_o + Q sum_k miss_k
    subject to sum_{j of o} x_j + short_o            = qty_o      each order
               x_j - u_j y_j                         <= 0         each option
               x_j - min_qty_j y_j                   >= 0         each option with min_qty > 0
               sum_{j of o and supplier s} y_j       <= 1         each order and supplier (one tier)
               sum_{j of s arriving in week w} x_j   <= cap_{s,w} each finite capacity
               sum_{j of sku i and s} x_j + miss_k   >= share_k * sum_{o of i} qty_o   each quota

``c_j`` is the penalised unit cost (options.py). A tier's price applies to everything given to
that supplier for that order, because x_j may be positive only with y_j = 1 and at least
``min_qty_j``: splitting an order to reach no tier is priced as such. The greedy split is passed
as a starting solution, so the answer is never worse than the greedy rule. The model is built
as arrays (one ``addCols``, one ``addRows``) and solved with one thread, ``mip_rel_gap`` and a
time limit.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import highspy
import numpy as np

from server.domain.procurement.allocation_model import Quota
from server.domain.procurement.options import Candidates, Week

__all__ = ["Solved", "solve_component"]


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
    n_cols = 2 * n_opt + len(needs) + len(quotas)

    cost = np.zeros(n_cols)
    lower = np.zeros(n_cols)
    upper = np.empty(n_cols)
    cost[:n_opt] = [c.unit_cost(c.options[j]) for j in usable]
    upper[:n_opt] = ub
    upper[n_opt:2 * n_opt] = 1.0
    for i, col in short_col.items():
        cost[col] = c.short_penalty
        upper[col] = float(inp.needs[i].qty)
    for col in miss_col.values():
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

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
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
    if n_opt:
        h.changeColsIntegrality(n_opt, np.arange(n_opt, 2 * n_opt, dtype=np.int32),
                                np.full(n_opt, highspy.HighsVarType.kInteger))

    guess = _start(c, needs, quotas, start, col_of, short_col, miss_col, n_opt, n_cols, sku_volume)
    sol = highspy.HighsSolution()
    sol.col_value = list(guess)
    sol.value_valid = True
    h.setSolution(sol)
    h.run()

    model_status = h.getModelStatus()
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value) if info.primal_solution_status == 2 else guess
    if model_status == highspy.HighsModelStatus.kOptimal:
        gap = max(float(info.mip_gap), 0.0) if n_opt else 0.0
        status = "optimal" if gap <= 1e-9 else "within_gap"
    else:
        gap = float(info.mip_gap) if n_opt else 0.0
        status = "time_limit"
    split: dict[int, dict[int, float]] = {i: {} for i in needs}
    for k, j in enumerate(usable):
        if values[k] > 1e-9:
            split[c.options[j].need][j] = float(values[k])
    short = {i: float(values[col]) for i, col in short_col.items()}
    return Solved(split, short, status, gap, time.perf_counter() - t0)


def _start(c: Candidates, needs: list[int], quotas: list[Quota],
           start: tuple[list[dict[int, Decimal]], list[Decimal]], col_of: dict[int, int],
           short_col: dict[int, int], miss_col: dict[int, int], n_opt: int, n_cols: int,
           sku_volume: dict[str, float]) -> np.ndarray:
    """The greedy split as a full column vector (x, y, short, quota misses)."""
    chosen, unmet = start
    v = np.zeros(n_cols)
    to_supplier: dict[tuple[str, str], float] = defaultdict(float)
    for i in needs:
        short = float(unmet[i])
        for j, q in chosen[i].items():
            k = col_of.get(j)
            if k is None:  # greedy never picks an unusable option, but stay feasible if it did
                short += float(q)
                continue
            v[k] = float(q)
            v[n_opt + k] = 1.0
            o = c.options[j]
            to_supplier[(c.inp.needs[i].sku, o.line.supplier)] += float(q)
        v[short_col[i]] = short
    for q_i, quota in enumerate(quotas):
        want = float(quota.min_share) * sku_volume[quota.sku]
        v[miss_col[q_i]] = max(0.0, want - to_supplier[(quota.sku, quota.supplier)])
    return v
