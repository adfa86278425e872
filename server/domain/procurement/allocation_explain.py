"""Why each supplier that could have had an order did not: one ``Alternative`` per supplier
with agreements for the item that got no part of the order.

Pure. The reasons are checked in this order, the first that holds is given:

1. ``blocked``; 2. ``below_score`` (under the threshold, no override);
3. ``not_valid``: no agreement line valid on its order date (``due - lead``, not before today);
4. ``min_qty``: its smallest tier is above the order quantity;
5. ``lead_time``: it would be late while the order is bought on time;
6. a subcontract order goes by priority: an alternative with a higher priority number lost
   ``priority`` ("lost on priority"), one with a lower number lost for ``capacity``, ``quota``
   or ``gap`` as below; at equal priority,
7. its cost for the whole order quantity (best tier it reaches) against the allocation's
   average unit price: dearer is ``price``; as cheap is ``priority`` (ties go to the lower
   priority number, then the shorter lead time, then the supplier code); cheaper is
   ``capacity`` when its week had less left than the order, else ``quota`` when a quota on the
   item sent volume elsewhere, else ``gap`` (the solver proved its answer within the allowed
   tolerance, and this supplier is inside it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from server.domain.planning.render import price_text, qty_text
from server.domain.planning.supply import Agreement
from server.domain.procurement.allocation_model import Alternative, OrderAllocation, Reason
from server.domain.procurement.options import (
    Candidates,
    Option,
    Week,
    by_priority,
    supplier_excluded,
)

__all__ = ["explain"]


def _money(v: Decimal) -> str:
    return price_text(v.normalize()) if v == v.to_integral_value() else price_text(v)


def explain(c: Candidates, i: int, oa: OrderAllocation, usage: Mapping[tuple[str, Week], Decimal],
            rule_choice: str | None) -> OrderAllocation:
    """``oa`` with its alternatives and the supplier the one-order rule would have picked."""
    inp = c.inp
    need = inp.needs[i]
    chosen = {p.supplier for p in oa.parts}
    lines: dict[str, list[Agreement]] = {}
    for a in c.lines.get((need.sku, str(need.kind)), ()):
        if a.supplier not in chosen:
            lines.setdefault(a.supplier, []).append(a)
    on_time = bool(oa.parts) and not any(p.late for p in oa.parts)
    avg = oa.cost / need.qty if oa.parts and need.qty else None
    best_priority = min((p.priority for p in oa.parts), default=None)
    quota_elsewhere = any(q.sku == need.sku for q in inp.quotas)
    options: dict[str, list[Option]] = {}
    for j in c.by_need[i]:
        options.setdefault(c.options[j].line.supplier, []).append(c.options[j])
    out: list[Alternative] = []
    for s in sorted(lines):
        out.append(_why(c, i, s, lines[s], options.get(s, []), on_time, avg, best_priority, usage,
                        quota_elsewhere))
    return replace(oa, alternatives=tuple(out), cheapest_rule=rule_choice, quotas=_quota_texts(c, need.sku))


def _share(v: Decimal) -> str:
    return f"{qty_text((v * 100).normalize())} %"


def _quota_texts(c: Candidates, sku: str) -> tuple[str, ...]:
    """The item's quotas in words: they may have moved volume away from the cheapest supplier."""
    out = []
    for q in c.inp.quotas:
        if q.sku == sku:
            most = "" if q.max_share is None else f" and at most {_share(q.max_share)}"
            out.append(f"quota: {q.supplier} gets at least {_share(q.min_share)}{most} of {sku}'s planned volume")
    return tuple(out)


def _placed(c: Candidates, i: int, a: Agreement) -> dt.date:
    need = c.inp.needs[i]
    lead = need.lead_time_days if a.lead_time_days is None else a.lead_time_days
    return max(c.inp.today, need.due - dt.timedelta(days=lead))


def _why(c: Candidates, i: int, s: str, lines: list[Agreement], options: list[Option], on_time: bool,
         avg: Decimal | None,
         best_priority: int | None, usage: Mapping[tuple[str, Week], Decimal], quota: bool) -> Alternative:
    inp = c.inp
    need = inp.needs[i]
    excluded = supplier_excluded(inp, s, any(a.blocked for a in lines))
    if excluded == "blocked":
        return Alternative(s, Reason.BLOCKED, f"{s} is blocked")
    if excluded == "below_score":
        return Alternative(s, Reason.BELOW_SCORE, (
            f"score {inp.scores[s]} is below the threshold {inp.score_threshold}; "
            "an override would allow it"))
    if not options:  # the supplier may be chosen, but no line of it can serve this order
        valid = [a for a in lines if a.valid_from <= _placed(c, i, a) and (a.valid_to is None or _placed(c, i, a) <= a.valid_to)]
        if not valid:
            spans = ", ".join(f"{a.valid_from}..{a.valid_to or 'open'}" for a in lines)
            return Alternative(s, Reason.NOT_VALID,
                               f"ordered on {_placed(c, i, lines[0])}, its agreements are valid {spans}")
        smallest = min(a.min_qty for a in valid)
        return Alternative(s, Reason.MIN_QTY,
                           f"its smallest tier is {qty_text(smallest)}, the order is {qty_text(need.qty)}")
    best = min(options, key=c.rank)
    price, cost = best.line.unit_price, best.line.unit_price * need.qty
    if best.late and on_time:
        arrives = best.placed + dt.timedelta(days=best.lead)
        return Alternative(s, Reason.LEAD_TIME, (
            f"lead time {best.lead} days: ordered {best.placed} it arrives {arrives}, "
            f"after the due date {need.due}"), price, cost)
    if by_priority(best.line) and best_priority is not None and best.line.priority != best_priority:
        if best.line.priority > best_priority:
            than = "" if avg is None or price >= avg else f", though cheaper at {_money(price)}"
            return Alternative(s, Reason.PRIORITY, (
                f"lost on priority: priority {best.line.priority} against {best_priority}{than}; a "
                "subcontract order goes to the lowest priority number that can deliver it"), price, cost)
        return _short_of_room(c, s, best, need.qty, price, cost, quota, inp.mip_rel_gap, "a higher priority",
                              usage)
    if avg is None or price > avg:
        against = "" if avg is None else f" against {_money(avg)} chosen"
        return Alternative(s, Reason.PRICE, f"{_money(price)} each for {qty_text(need.qty)}{against}",
                           price, cost)
    if price == avg:
        return Alternative(s, Reason.PRIORITY, (
            f"as cheap at {_money(price)}, priority {best.line.priority} against {best_priority}; "
            "ties go to the lower priority, then the shorter lead time, then the supplier code"),
            price, cost)
    return _short_of_room(c, s, best, need.qty, price, cost, quota, inp.mip_rel_gap, f"cheaper at {_money(price)}",
                          usage)


def _short_of_room(c: Candidates, s: str, best: Option, qty: Decimal, price: Decimal, cost: Decimal,
                   quota: bool, gap: float, better: str,
                   usage: Mapping[tuple[str, Week], Decimal] | None = None) -> Alternative:
    """Why a supplier that would have won (``better``: cheaper, or a higher priority) did not:
    its week's capacity, else a quota, else the solver's tolerance."""
    cap = c.capacity_of(best)
    if cap is not None:
        left = cap - (usage or {}).get((s, best.week), Decimal(0))
        if left < qty:
            return Alternative(s, Reason.CAPACITY, (
                f"{better}, but week {best.week[0]}-W{best.week[1]:02d} had "
                f"{qty_text(max(left, Decimal(0)))} of its {qty_text(cap)} left"), price, cost)
    if quota:
        return Alternative(s, Reason.QUOTA, f"{better}, but a quota on "
                           f"{c.inp.needs[best.need].sku} sends volume to another supplier", price, cost)
    return Alternative(s, Reason.GAP, f"{better} by less than the solver's tolerance ({gap:.1%} of the total)",
                       price, cost)
