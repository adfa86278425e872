"""Goods receipt rules, pure: may this receipt be booked against its purchase order line, and
what does the line look like after it.

A receipt brings ``accepted + rejected`` units (what the supplier delivered); inspection keeps the
accepted ones (they become stock) and sends the rejected ones back with a reason. What a line has
received is everything delivered, so a line closes once the supplier delivered its quantity,
whatever inspection kept; the next MRP run plans the shortage that rejections leave.

A receipt is refused when the line is unknown or was closed short (by the office or an import,
before everything came), the receipt is for another warehouse or
product, a quantity is negative or both are zero, a rejection has no reason, or the delivered
total would pass the ordered quantity by more than the tolerance (a percentage of the ordered
quantity), also when earlier receipts already closed the line by delivering it in full. Each refusal carries a stable code that leads its sentence (``over_receipt: ...``),
because the wire's rejection reasons are the fixed ones of PROTOCOL.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "Line",
    "Receipt",
    "Refusal",
    "allowance",
    "check",
    "receipt_status",
    "received",
]

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Line:
    """A purchase order line as receiving sees it."""

    id: str
    number: str  # the purchase order number
    sku: str
    product_id: str
    warehouse_id: str
    warehouse_code: str
    qty: Decimal
    qty_received: Decimal
    status: str  # open | closed


@dataclass(frozen=True)
class Receipt:
    """One ``goods_receipt`` row."""

    id: str
    receipt_id: str
    product_id: str
    warehouse_id: str
    qty_accepted: Decimal
    qty_rejected: Decimal
    reject_reason: str | None

    @property
    def delivered(self) -> Decimal:
        return self.qty_accepted + self.qty_rejected


@dataclass(frozen=True)
class Refusal:
    code: str  # over_receipt, unknown_receipt, receipt_closed, wrong_warehouse, wrong_product,
    #            negative_qty, empty_receipt, reason_required
    detail: str
    forbidden: bool = False  # the device may not do this (as opposed to a wrong value)

    @property
    def text(self) -> str:
        return f"{self.code}: {self.detail}"


def _q(d: Decimal) -> str:
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def allowance(line: Line, tolerance_pct: Decimal) -> Decimal:
    """How much more the line may still receive: ordered x (1 + tolerance) - already received."""
    return max(ZERO, line.qty * (1 + tolerance_pct / HUNDRED) - line.qty_received)


def check(line: Line | None, r: Receipt, tolerance_pct: Decimal) -> Refusal | None:
    """Why ``r`` may not be booked against ``line`` (None: it may)."""
    if r.qty_accepted < 0 or r.qty_rejected < 0:
        return Refusal("negative_qty", f"quantities cannot be negative (accepted {_q(r.qty_accepted)}, "
                                       f"rejected {_q(r.qty_rejected)}); to correct a receipt, ask the back office")
    if r.delivered == 0:
        return Refusal("empty_receipt", "a receipt must accept or reject at least some quantity")
    if r.qty_rejected > 0 and not (r.reject_reason or "").strip():
        return Refusal("reason_required", f"{_q(r.qty_rejected)} rejected without a reason; say why "
                                          "(damaged, wrong item, failed inspection, ...)")
    if line is None:
        return Refusal("unknown_receipt", f"there is no purchase order line {r.receipt_id}; receive against "
                                          "an expected receipt this device has pulled")
    if r.warehouse_id != line.warehouse_id:
        return Refusal("wrong_warehouse", f"{line.number} ({line.sku}) is received at {line.warehouse_code}, "
                                          "not at this receipt's warehouse", forbidden=True)
    if r.product_id != line.product_id:
        return Refusal("wrong_product", f"{line.number} orders {line.sku}; this receipt names another product")
    if line.status != "open" and line.qty_received < line.qty:
        return Refusal("receipt_closed", f"{line.number} ({line.sku}) was closed before everything came; "
                                         "nothing more can be received against it")
    more = allowance(line, tolerance_pct)
    if r.delivered > more:
        return Refusal("over_receipt", f"{line.number} expects {_q(line.qty)} of {line.sku}, "
                                       f"{_q(line.qty_received)} already received, this receipt brings "
                                       f"{_q(r.delivered)}; tolerance {_q(tolerance_pct)} % allows at most "
                                       f"{_q(more)} more")
    return None


def received(line: Line, r: Receipt) -> Line:
    """The line after ``r`` was booked: closed once everything ordered was delivered."""
    total = line.qty_received + r.delivered
    return dataclasses.replace(line, qty_received=total, status="closed" if total >= line.qty else "open")


def receipt_status(qty: Decimal, qty_received: Decimal, po_status: str) -> str:
    """The ``purchase_receipt.status`` a device sees for a line: expected, receiving, received,
    or closed (closed by the office before everything came)."""
    if qty_received >= qty:
        return "received"
    if po_status != "open":
        return "closed"
    return "receiving" if qty_received > 0 else "expected"
