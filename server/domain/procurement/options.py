"""The ways each planned order can be bought, and how a chosen split becomes exact parts.

Pure. An *option* is one agreement line (one supplier's tier) for one order: the supplier is
not blocked, not below the score threshold (unless overridden), the line is valid on its own
order date (``due - lead``, not before today) and its ``min_qty`` is not above the order
quantity. An option is *late* when ``due - lead`` is before today: it is then placed today and
arrives after the due date.

Capacity is per supplier and ISO week of *arrival* (the due date for an on-time option,
``today + lead`` for a late one): ``capacity_per_week`` is what a supplier can deliver in a
week over all items, so orders due in one week compete for it whichever day they are placed.

Costs the solver sees per unit (the *penalised* unit cost): the price, plus a priority term,
plus ``late_penalty`` for a late option. For a purchase option the priority term is ``epsilon``
per rank (``priority - 1``): ``epsilon`` is a tenth of the smallest positive difference between
two unit prices in the input, divided by the number of ranks, so it orders equal prices by
priority and never outweighs a real price difference on the same quantity. A subcontract order
goes by priority first (the outsourcing price list, 委外价格资料): its options pay ``step`` per
rank, where ``step`` = the spread of the subcontract unit prices (largest - smallest) + 1, so
one rank costs more per unit than any price difference between two subcontract lines: among
the options that can deliver, the lowest priority number wins and price decides only among
equal priority. The penalties come from ``M`` = the largest unit price + the largest priority
term + 1: late ``2M``, unmet ``4M``, a unit missing from a quota ``M``. So an order is late only
when no one can deliver it on time (for want of agreements or capacity), short only when no one
can deliver it at all, a quota never makes an order late or short, and priority never makes an
order late.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from server.domain.planning.supply import Agreement, AgreementKind
from server.domain.procurement.allocation_model import AllocationInput, Need, Part

__all__ = [
    "Candidates",
    "Option",
    "Week",
    "big_m",
    "by_priority",
    "candidates",
    "finish_order",
    "priority_step",
    "quantum",
]

Week = tuple[int, int]  # ISO (year, week)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Option:
    need: int  # index into AllocationInput.needs
    line: Agreement
    lead: int
    placed: dt.date  # order date
    late: bool
    week: Week  # ISO week of arrival


@lru_cache(maxsize=4096)
def _week(d: dt.date) -> Week:
    iso = d.isocalendar()
    return (iso[0], iso[1])


@lru_cache(maxsize=4096)
def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def supplier_excluded(inp: AllocationInput, supplier: str, line_blocked: bool) -> str | None:
    """``"blocked"`` or ``"below_score"`` when the supplier may not be chosen at all."""
    terms = inp.suppliers.get(supplier)
    if line_blocked or (terms is not None and terms.blocked):
        return "blocked"
    if inp.score_threshold is not None and supplier not in inp.overrides:
        score = inp.scores.get(supplier)
        if score is not None and score < inp.score_threshold:
            return "below_score"
    return None


def line_option(inp: AllocationInput, i: int, need: Need, a: Agreement) -> Option | None:
    """The option of agreement line ``a`` for order ``i``, or None when the line is not valid
    on its order date or its tier starts above the order quantity."""
    if a.min_qty > need.qty:
        return None
    lead = need.lead_time_days if a.lead_time_days is None else a.lead_time_days
    should = need.due - _days(lead)
    placed = should if should >= inp.today else inp.today  # supply.order_date
    if placed < a.valid_from or (a.valid_to is not None and placed > a.valid_to):
        return None
    return Option(i, a, lead, placed, should < inp.today, _week(placed + _days(lead)))


@dataclass
class Candidates:
    """Every option of every order, the finite capacities and the solver's cost weights."""

    inp: AllocationInput
    options: list[Option]
    by_need: list[list[int]]  # order index -> option indices
    lines: dict[tuple[str, str], list[Agreement]]  # (sku, kind) -> its agreement lines
    capacity: dict[tuple[str, Week], Decimal]  # finite capacities only
    epsilon: float
    step: Decimal  # per priority rank of a subcontract option (module docstring)
    late_penalty: float
    short_penalty: float
    quota_penalty: float
    big: Decimal  # M: the largest unit price + 1
    cost_of: list[float] = field(default_factory=list)  # option index -> unit_cost, made once

    def __post_init__(self) -> None:
        self.cost_of = [self.unit_cost(o) for o in self.options]

    def capacity_of(self, o: Option) -> Decimal | None:
        return self.capacity.get((o.line.supplier, o.week))

    def unit_cost(self, o: Option) -> float:
        """The penalised unit cost the solver minimises (see the module docstring)."""
        ranks = max(o.line.priority - 1, 0)
        prio = float(self.step) * ranks if by_priority(o.line) else self.epsilon * ranks
        return float(o.line.unit_price) + prio + (self.late_penalty if o.late else 0.0)

    def rank(self, o: Option) -> tuple[bool, int, Decimal, int, int, str]:
        """How good an option is for one quantity: on time, then (subcontract) priority, price,
        priority, lead, supplier."""
        first = o.line.priority if by_priority(o.line) else 0
        return (o.late, first, o.line.unit_price, o.line.priority, o.lead, o.line.supplier)


def by_priority(a: Agreement) -> bool:
    """Subcontract lines are chosen by priority first, price second; purchase lines by price."""
    return a.kind == AgreementKind.SUBCONTRACT


def priority_step(agreements: Iterable[Agreement]) -> Decimal:
    """The cost of one priority rank per unit of a subcontract option: the spread of the
    subcontract unit prices + 1, more than any price difference between two of them."""
    prices = [a.unit_price for a in agreements if by_priority(a)]
    return (max(prices) - min(prices) if prices else ZERO) + 1


def big_m(agreements: Iterable[Agreement]) -> Decimal:
    """M: the largest unit price + the largest priority term + 1 (module docstring)."""
    lines = list(agreements)
    step = priority_step(lines)
    top = max((a.unit_price for a in lines), default=ZERO)
    rank = max((a.priority - 1 for a in lines if by_priority(a)), default=0)
    return top + step * max(rank, 0) + 1


def _epsilon(prices: Iterable[Decimal], ranks: int) -> float:
    distinct = sorted(set(prices))
    steps = [b - a for a, b in itertools.pairwise(distinct)]
    smallest = min(steps) if steps else Decimal(1)
    return float(smallest) / 10 / max(ranks, 1)


def candidates(inp: AllocationInput) -> Candidates:
    by_sku: dict[tuple[str, str], list[Agreement]] = defaultdict(list)
    for a in inp.agreements:
        by_sku[(a.sku, str(a.kind))].append(a)
    allowed = {(a.supplier, a.blocked): supplier_excluded(inp, a.supplier, a.blocked) is None
               for a in inp.agreements}
    usable = {k: [a for a in v if allowed[(a.supplier, a.blocked)]] for k, v in by_sku.items()}
    options: list[Option] = []
    by_need: list[list[int]] = []
    for i, need in enumerate(inp.needs):
        mine: list[int] = []
        for a in usable.get((need.sku, str(need.kind)), ()):
            o = line_option(inp, i, need, a)
            if o is not None:
                mine.append(len(options))
                options.append(o)
        by_need.append(mine)
    capacity: dict[tuple[str, Week], Decimal] = {}
    for o in options:
        terms = inp.suppliers.get(o.line.supplier)
        if terms is not None and terms.capacity_per_week is not None:
            capacity[(o.line.supplier, o.week)] = terms.capacity_per_week
    prices = [a.unit_price for a in inp.agreements]
    big = big_m(inp.agreements)
    top = float(big)
    ranks = max((a.priority - 1 for a in inp.agreements), default=0) + 1
    return Candidates(inp, options, by_need, dict(by_sku), capacity, _epsilon(prices, ranks),
                      priority_step(inp.agreements), late_penalty=2 * top, short_penalty=4 * top,
                      quota_penalty=top, big=big)


def quantum(need: Need, capacities: Iterable[Decimal]) -> Decimal:
    """The step an order's split is rounded to: the finest decimal place of its quantity and
    of the capacities it draws on (whole units for whole quantities and capacities)."""
    exps = [0]
    for v in (need.qty, *capacities):
        e = v.normalize().as_tuple().exponent
        if isinstance(e, int):
            exps.append(e)
    return Decimal(1).scaleb(min(exps))


def exact_split(need: Need, split: Mapping[int, float], short: float, step: Decimal
                ) -> tuple[dict[int, Decimal], Decimal]:
    """A solver's float split as exact quantities on ``step`` that add up to the order: each
    rounded half-even, the remainder put on the largest part (or on the unmet quantity)."""
    parts = {j: Decimal(x).quantize(step, ROUND_HALF_EVEN) for j, x in split.items()}
    parts = {j: q for j, q in parts.items() if q > 0}
    unmet = max(Decimal(short).quantize(step, ROUND_HALF_EVEN), ZERO)
    rest = need.qty - sum(parts.values(), ZERO) - unmet
    if parts:
        j = max(parts, key=lambda k: (parts[k], -k))
        parts[j] += rest
        if parts[j] < 0:  # the largest part cannot give that much: the unmet part gives the rest
            unmet += parts[j]
            parts[j] = ZERO
    else:
        unmet += rest
    for j in sorted(parts, key=lambda k: -parts[k]):  # unmet below zero: take it from the parts
        if unmet >= 0:
            break
        take = min(parts[j], -unmet)
        parts[j] -= take
        unmet += take
    return {j: q for j, q in parts.items() if q > 0}, max(unmet, ZERO)


def _best_line(c: Candidates, i: int, supplier: str, qty: Decimal, like: Option | None) -> Option | None:
    """The best line of ``supplier`` for ``qty`` of order ``i`` (its tier price applies to the
    whole quantity); given ``like``, only lines arriving in its week (so its capacity)."""
    best: Option | None = None
    for j in c.by_need[i]:
        o = c.options[j]
        if o.line.supplier != supplier or o.line.min_qty > qty or (like is not None and o.week != like.week):
            continue
        if best is None or c.rank(o) < c.rank(best):
            best = o
    return best


def _part(o: Option, qty: Decimal, over: Decimal = ZERO) -> Part:
    return Part(o.line.supplier, qty, o.line.unit_price, o.line.min_qty, o.line.priority, o.lead,
                o.placed, o.late, over)


def finish_order(c: Candidates, i: int, chosen: Mapping[int, Decimal], unmet: Decimal) -> tuple[Part, ...]:
    """The parts of order ``i`` from chosen option quantities (exact) and an unmet quantity.

    Each supplier's part is priced by the best tier its quantity reaches (never dearer than the
    line the solver picked). An unmet quantity goes to the least-bad option ignoring capacity
    (on time first, then what it adds to the cost, priority, supplier), merged into
    that supplier's part and marked as over capacity. Parts are ordered by supplier."""
    per_supplier: dict[str, tuple[Option, Decimal]] = {}
    for j, q in chosen.items():
        o = c.options[j]
        if q <= 0:
            continue
        if o.line.supplier in per_supplier:  # one part per supplier: the solver's rows forbid it
            prev, pq = per_supplier[o.line.supplier]
            per_supplier[o.line.supplier] = (prev, pq + q)
        else:
            per_supplier[o.line.supplier] = (o, q)
    over: dict[str, Decimal] = {}
    if unmet > 0 and c.by_need[i]:
        def badness(j: int) -> tuple[bool, bool, Decimal, int, str]:
            o = c.options[j]
            had = per_supplier.get(o.line.supplier)
            total = unmet + (had[1] if had else ZERO)
            best = _best_line(c, i, o.line.supplier, total, None)
            if best is None:  # no tier reaches it: only when nothing else can take it
                return (True, True, o.line.unit_price * total, o.line.priority, o.line.supplier)
            extra = best.line.unit_price * total - (had[0].line.unit_price * had[1] if had else ZERO)
            return (False, best.late, extra, best.line.priority, o.line.supplier)

        pick = c.options[min(c.by_need[i], key=badness)]
        s = pick.line.supplier
        had_part = per_supplier.get(s)
        per_supplier[s] = (had_part[0] if had_part else pick, (had_part[1] if had_part else ZERO) + unmet)
        over[s] = unmet
    parts: list[Part] = []
    for s in sorted(per_supplier):
        o, q = per_supplier[s]
        best = _best_line(c, i, s, q, o) or _best_line(c, i, s, q, None) or o
        parts.append(_part(best, q, over.get(s, ZERO)))
    return tuple(parts)
