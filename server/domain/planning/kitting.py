"""Kitting (齐套分析): how many units of a make product the stock of one warehouse can build
through its whole multi-level bill of materials, which components run out first, and how many
more units the scheduled receipts arriving by a date allow.

Pure: plain planning data in (``model.py``), a :class:`KitResult` out; no I/O, no clock.

What "can build" means
    To build ``q`` units of the product, every component is needed ``q x qty_per x (1 +
    scrap_pct / 100)`` times per parent unit. Stock of a component is used first, including
    stock of an intermediate assembly; the part of a ``make`` component not in stock can itself
    be built from its own components, down to any depth. ``buy`` and ``subcontract`` components,
    and ``make`` components without BOM lines, can only come from stock (a subcontracted part
    needs its subcontractor, so it is not built from the shelf). Stock of the product itself is
    not used: buildable units are units *beyond* its own stock. Negative on hand counts as none.
    A component used in several branches or at several levels competes for the same stock.

The algorithm (exact)
    ``feasible(q)`` explodes ``q`` level by level in low-level-code order of the product's own
    BOM, so every item receives the requirements of all its parents before it is netted once:
    ``net = max(gross - stock, 0)``; a net requirement of a buildable item becomes gross
    requirements of its components, of any other item a shortage. ``q`` is feasible when
    nothing is short. Using stock of an intermediate never costs more than building it, so this
    netting uses the least of every component any plan for ``q`` could use: ``feasible`` is
    exact, and it is monotone in ``q`` because every requirement grows with ``q``. The largest
    feasible whole ``q`` is then found by doubling and bisection: about ``2 log2(buildable)``
    explosions, each linear in the number of BOM lines below the product.

    The limiting components are the items short when exploding ``buildable + 1`` units, each
    with what that unit needs beyond stock. With a date, receipts (open purchase and production
    orders) of the warehouse due on or before it are added to stock and the search runs again;
    the difference is the extra units they allow. Receipts of the product itself do not build
    anything; they are reported apart as ``incoming``.

Arithmetic is ``Decimal`` in a wide context that refuses to round (so scrap percentages stay
exact through any depth); buildable units are whole (the floor of what stock allows).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, localcontext

from server.domain.planning.lowlevel import low_level_codes
from server.domain.planning.model import BomLine, Item, ItemKind, Receipt
from shared.errors import InvalidInput

__all__ = [
    "KitResult",
    "KittingDataError",
    "Shortage",
    "kit",
]

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MAX_UNITS = 10**18  # more than a stored decimal can hold: in practice, nothing limits the product
_EXACT = Context(prec=2000, traps=[Inexact])


class KittingDataError(InvalidInput):
    """Data kitting cannot work with: a non-make product, a negative quantity, a BOM whose
    requirements are all zero, arithmetic too deep to keep exact."""

    code = "kitting_data"


@dataclass(frozen=True)
class Shortage:
    """A component that runs out: building one more unit needs ``required`` of it (after the
    stock of its parents was used), and ``available`` is all there is."""

    sku: str
    required: Decimal
    available: Decimal

    @property
    def short(self) -> Decimal:
        return self.required - self.available


@dataclass(frozen=True)
class KitResult:
    sku: str
    warehouse: str
    buildable: Decimal  # whole units current stock can build
    limiting: tuple[Shortage, ...]  # what is short for buildable + 1 units, by sku
    by_date: dt.date | None = None
    buildable_by_date: Decimal | None = None  # whole units with receipts due by ``by_date``
    limiting_by_date: tuple[Shortage, ...] = ()
    incoming: Decimal | None = None  # receipts of the product itself due by ``by_date``

    @property
    def extra_by_date(self) -> Decimal | None:
        """How many more units the receipts due by ``by_date`` allow."""
        if self.buildable_by_date is None:
            return None
        return self.buildable_by_date - self.buildable


class _Structure:
    """The part of the BOM below one product: buildable items with their (component, factor)
    lines, and every item in the order that nets each once, after all its parents."""

    def __init__(self, top: str, items: Mapping[str, Item], bom: Mapping[str, Iterable[BomLine]]) -> None:
        self.top = top
        self.lines: dict[str, list[tuple[str, Decimal]]] = {}
        sub_bom: dict[str, list[BomLine]] = {}
        todo, seen = [top], {top}
        while todo:
            sku = todo.pop()
            item = items.get(sku)
            own = list(bom.get(sku, ())) if item is not None and item.kind is ItemKind.MAKE else []
            if not own:
                continue  # can come from stock only
            sub_bom[sku] = own
            factors: dict[str, Decimal] = defaultdict(Decimal)
            for line in own:
                if line.qty_per < 0 or line.scrap_pct < 0:
                    raise KittingDataError(f"BOM line {line.parent} -> {line.component} has a negative "
                                           f"qty_per or scrap_pct")
                factors[line.component] += line.qty_per * (1 + line.scrap_pct / HUNDRED)
                if line.component not in seen:
                    seen.add(line.component)
                    todo.append(line.component)
            self.lines[sku] = list(factors.items())
        level = low_level_codes(sub_bom, [top])  # raises BomCycle
        self.order = sorted(seen, key=lambda s: (level[s], s))

    def explode(self, q: Decimal, supply: Mapping[str, Decimal]) -> list[Shortage]:
        """What is short to build ``q`` units from ``supply``; empty when it can be done."""
        gross: dict[str, Decimal] = {self.top: q}
        short: list[Shortage] = []
        for sku in self.order:
            g = gross.get(sku, ZERO)
            if g <= 0:
                continue
            have = ZERO if sku == self.top else supply.get(sku, ZERO)
            net = g - have
            if net <= 0:
                continue
            lines = self.lines.get(sku)
            if lines is None:
                short.append(Shortage(sku, g, have))
                continue
            for component, factor in lines:
                gross[component] = gross.get(component, ZERO) + net * factor
        return sorted(short, key=lambda s: s.sku)

    def max_units(self, supply: Mapping[str, Decimal]) -> int:
        """The largest whole number of units ``supply`` can build (doubling, then bisection)."""
        if self.explode(Decimal(1), supply):
            return 0
        lo, hi = 1, 2
        while not self.explode(Decimal(hi), supply):
            lo, hi = hi, hi * 2
            if lo >= MAX_UNITS:
                raise KittingDataError(f"stock could build more than 10^18 units of {self.top}: "
                                       f"does its BOM need anything (every qty_per zero?)")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.explode(Decimal(mid), supply):
                hi = mid
            else:
                lo = mid
        return lo


def _supply(stock: Mapping[tuple[str, str], Decimal], warehouse: str) -> dict[str, Decimal]:
    return {sku: max(qty, ZERO) for (sku, wh), qty in stock.items() if wh == warehouse}


def kit(sku: str, warehouse: str, items: Mapping[str, Item], bom: Mapping[str, Iterable[BomLine]],
        stock: Mapping[tuple[str, str], Decimal], receipts: Iterable[Receipt] = (),
        by_date: dt.date | None = None) -> KitResult:
    """Kitting of ``sku`` in ``warehouse`` from ``stock`` ((sku, warehouse) -> on hand), and,
    with ``by_date``, from stock plus the ``receipts`` of that warehouse due on or before it."""
    item = items.get(sku)
    if item is None:
        raise KittingDataError(f"there is no product {sku!r}")
    if item.kind is not ItemKind.MAKE:
        raise KittingDataError(f"{sku} is a {item.kind} product; only make products are kitted",
                               code="not_make")
    try:
        with localcontext(_EXACT):
            return _kit(_Structure(sku, items, bom), warehouse, stock, receipts, by_date)
    except Inexact:
        raise KittingDataError(f"the BOM of {sku} is too deep to compute exactly") from None


def _kit(structure: _Structure, warehouse: str, stock: Mapping[tuple[str, str], Decimal],
         receipts: Iterable[Receipt], by_date: dt.date | None) -> KitResult:
    sku = structure.top
    supply = _supply(stock, warehouse)
    n = structure.max_units(supply)
    result = KitResult(sku, warehouse, Decimal(n), tuple(structure.explode(Decimal(n + 1), supply)))
    if by_date is None:
        return result
    later = dict(supply)
    incoming = ZERO
    for r in receipts:
        if r.warehouse != warehouse or r.date > by_date:
            continue
        if r.qty < 0:
            raise KittingDataError(f"receipt {r.ref} of {r.sku} has a negative qty {r.qty}")
        if r.sku == sku:
            incoming += r.qty
        else:
            later[r.sku] = later.get(r.sku, ZERO) + r.qty
    m = structure.max_units(later)
    return KitResult(sku, warehouse, result.buildable, result.limiting, by_date, Decimal(m),
                     tuple(structure.explode(Decimal(m + 1), later)), incoming)
