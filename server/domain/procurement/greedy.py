"""The greedy baseline: each order in turn goes to its suppliers first by priority.

Pure and exact (Decimal). It is what a rule-based ERP does with capacities (Odoo's
``_select_seller`` takes the first vendor by sequence, then its price): orders by due date
(then sku, warehouse), and for each its options on time first, then by ``priority``, then by
price and the larger tier first. An option gets as much as is left of the order and of its
supplier's week, if that reaches the tier's ``min_qty``; one part per supplier. What no one can
take is unmet. Quotas are not considered.

It serves three purposes: the MILP's starting solution (so the optimiser is never worse), the
property test's yardstick, and the benchmark's baseline.
"""

from __future__ import annotations

from decimal import Decimal

from server.domain.procurement.options import Candidates, Week

__all__ = ["GreedySplit", "greedy"]

ZERO = Decimal(0)
# per order: option index -> exact quantity, and the unmet quantity
GreedySplit = tuple[list[dict[int, Decimal]], list[Decimal]]


def greedy(c: Candidates, needs: list[int] | None = None) -> GreedySplit:
    """The greedy split of the orders ``needs`` (default: all), in due-date order."""
    inp = c.inp
    chosen: list[dict[int, Decimal]] = [{} for _ in inp.needs]
    unmet: list[Decimal] = [ZERO for _ in inp.needs]
    left: dict[tuple[str, Week], Decimal] = dict(c.capacity)
    order = range(len(inp.needs)) if needs is None else needs
    for i in sorted(order, key=lambda k: (inp.needs[k].due, inp.needs[k].sku, inp.needs[k].warehouse, k)):
        need = inp.needs[i]
        rest = need.qty
        used: set[str] = set()
        ranked = sorted(c.by_need[i], key=lambda j: (
            c.options[j].late, c.options[j].line.priority, c.options[j].line.unit_price,
            -c.options[j].line.min_qty, c.options[j].line.supplier))
        for j in ranked:
            if rest <= 0:
                break
            o = c.options[j]
            if o.line.supplier in used:
                continue
            key = (o.line.supplier, o.week)
            take = min(rest, left[key]) if key in left else rest
            if take <= 0 or take < o.line.min_qty:
                continue
            chosen[i][j] = take
            used.add(o.line.supplier)
            rest -= take
            if key in left:
                left[key] -= take
        unmet[i] = rest
    return chosen, unmet
