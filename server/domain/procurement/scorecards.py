"""Supplier scorecards, pure: plain records of purchase order lines, their goods receipts and the
price agreements in, one scorecard per supplier out.

Over the purchase order lines of a supplier (the caller picks them: those due in a window):

- **on-time delivery rate**: receipts dated on or before their line's due date / all receipts;
- **quantity accuracy**: per *settled* line (closed, or due before ``today``), ``1 - |delivered -
  ordered| / ordered`` floored at 0, where delivered is accepted + rejected; averaged over lines.
  A line due and never delivered scores 0; an open line not yet due does not count yet;
- **quality acceptance rate**: accepted / (accepted + rejected), over all receipts;
- **price variance**: ``sum(qty x (paid - agreed)) / sum(qty x agreed)`` over lines with a price,
  where *agreed* is the supplier's agreement price for the product and kind valid on the order
  date, at the tier the line's quantity reaches (the highest ``min_qty`` not above it; the lower
  price on a tie). Positive: paid above the agreement. Lines without a price or an agreement
  are left out;
- **score** (0 to 100): ``100 x sum(weight x part) / sum(weight)`` over the parts that have data,
  with parts on-time rate (weight 0.35), quality rate (0.35), quantity accuracy (0.20) and price
  ``1 - min(1, max(0, variance))`` (0.10): paying less than agreed earns nothing extra, paying
  double or more earns nothing. No data at all: no score.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = [
    "WEIGHTS",
    "AgreedPrice",
    "Delivery",
    "OrderedLine",
    "Scorecard",
    "agreed_price",
    "scorecards",
    "suppliers_below",
]

ZERO, ONE, HUNDRED = Decimal(0), Decimal(1), Decimal(100)
WEIGHTS: Mapping[str, Decimal] = {"on_time": Decimal("0.35"), "quality": Decimal("0.35"),
                                  "quantity": Decimal("0.20"), "price": Decimal("0.10")}
FOUR = Decimal("0.0001")
AGREEMENT_KIND = {"buy": "purchase", "subcontract": "subcontract"}


@dataclass(frozen=True)
class OrderedLine:
    id: str
    supplier: str  # code
    product_id: str
    qty: Decimal
    due_date: dt.date
    status: str  # open | closed
    kind: str = "buy"  # buy | subcontract
    unit_price: Decimal | None = None  # what it was ordered at (None: imported, unknown)
    ordered_on: dt.date | None = None


@dataclass(frozen=True)
class Delivery:
    line_id: str
    received_on: dt.date
    qty_accepted: Decimal
    qty_rejected: Decimal


@dataclass(frozen=True)
class AgreedPrice:
    supplier: str
    product_id: str
    kind: str  # purchase | subcontract
    min_qty: Decimal
    unit_price: Decimal
    valid_from: dt.date
    valid_to: dt.date | None


@dataclass(frozen=True)
class Scorecard:
    supplier: str
    lines: int
    receipts: int
    on_time_rate: Decimal | None
    quantity_accuracy: Decimal | None
    quality_rate: Decimal | None
    price_variance: Decimal | None
    score: Decimal | None


def agreed_price(line: OrderedLine, agreements: Iterable[AgreedPrice]) -> Decimal | None:
    """The agreement price of ``line``'s supplier, product and kind on its order date, at its tier."""
    if line.ordered_on is None:
        return None
    kind = AGREEMENT_KIND.get(line.kind, line.kind)
    fits = [a for a in agreements
            if a.supplier == line.supplier and a.product_id == line.product_id and a.kind == kind
            and a.valid_from <= line.ordered_on and (a.valid_to is None or line.ordered_on <= a.valid_to)
            and a.min_qty <= line.qty]
    if not fits:
        return None
    return min(fits, key=lambda a: (-a.min_qty, a.unit_price)).unit_price


def _ratio(num: Decimal, den: Decimal) -> Decimal | None:
    return None if den == 0 else (num / den).quantize(FOUR, ROUND_HALF_EVEN)


def _card(supplier: str, lines: list[OrderedLine], deliveries: Mapping[str, list[Delivery]],
          agreements: list[AgreedPrice], today: dt.date) -> Scorecard:
    received = [d for ln in lines for d in deliveries.get(ln.id, ())]
    due = {ln.id: ln.due_date for ln in lines}
    on_time = _ratio(Decimal(sum(1 for d in received if d.received_on <= due[d.line_id])), Decimal(len(received)))
    accepted = sum((d.qty_accepted for d in received), ZERO)
    rejected = sum((d.qty_rejected for d in received), ZERO)
    quality = _ratio(accepted, accepted + rejected)
    accuracies: list[Decimal] = []
    for ln in lines:
        if (ln.status == "open" and ln.due_date >= today) or ln.qty <= 0:
            continue
        delivered = sum((d.qty_accepted + d.qty_rejected for d in deliveries.get(ln.id, ())), ZERO)
        accuracies.append(max(ZERO, ONE - abs(delivered - ln.qty) / ln.qty))
    quantity = _ratio(sum(accuracies, ZERO), Decimal(len(accuracies)))
    paid = agreed = ZERO
    for ln in lines:
        price = agreed_price(ln, agreements) if ln.unit_price is not None else None
        if price is not None and ln.unit_price is not None:
            paid += ln.qty * ln.unit_price
            agreed += ln.qty * price
    variance = _ratio(paid - agreed, agreed)
    parts = {"on_time": on_time, "quality": quality, "quantity": quantity,
             "price": None if variance is None else ONE - min(ONE, max(ZERO, variance))}
    weight = sum((WEIGHTS[k] for k, v in parts.items() if v is not None), ZERO)
    score = None if weight == 0 else (HUNDRED * sum((WEIGHTS[k] * v for k, v in parts.items() if v is not None), ZERO)
                                      / weight).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
    return Scorecard(supplier, len(lines), len(received), on_time, quantity, quality, variance, score)


def scorecards(lines: Iterable[OrderedLine], deliveries: Iterable[Delivery], agreements: Iterable[AgreedPrice],
               today: dt.date) -> list[Scorecard]:
    """One scorecard per supplier that has lines, in supplier order."""
    by_supplier: dict[str, list[OrderedLine]] = defaultdict(list)
    for ln in lines:
        by_supplier[ln.supplier].append(ln)
    by_line: dict[str, list[Delivery]] = defaultdict(list)
    for d in deliveries:
        by_line[d.line_id].append(d)
    agreed = list(agreements)
    return [_card(s, by_supplier[s], by_line, agreed, today) for s in sorted(by_supplier)]


def suppliers_below(scores: Mapping[str, Decimal], threshold: Decimal) -> frozenset[str]:
    """Suppliers whose score is under ``threshold`` (a supplier without a score is not)."""
    return frozenset(s for s, v in scores.items() if v < threshold)
