"""A Plan as the exact JSON document of ``fieldsync mrp --json`` (PLANNING.md).

Decimal text rules (never exponent notation, never a float on the way):
- quantities (order qty, peg qty): plain decimal with trailing fractional zeros stripped, so a
  quantity reads the same however it was computed: ``25``, ``2.5``, ``0.001``, ``100``
  (``Decimal("1E+2")`` too), ``10`` for ``10.000``;
- prices: the scale they were given with, so ``1.80`` stays ``1.80`` (a ``Decimal("1.8E+1")``
  becomes ``18``);
- dates are ISO ``YYYY-MM-DD``; ``supplier`` and ``unit_price`` are ``null`` when there is none.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from server.domain.planning.model import MrpException, Plan, PlannedOrder

__all__ = ["exception_json", "order_json", "plan_to_json", "price_text", "qty_text"]


def qty_text(q: Decimal) -> str:
    """``Decimal("10.500")`` -> ``"10.5"``; ``Decimal("1E+2")`` -> ``"100"``; ``-0`` -> ``"0"``."""
    text = format(q, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def price_text(p: Decimal) -> str:
    """The price at its own scale, without exponent: ``Decimal("1.80")`` -> ``"1.80"``."""
    return format(p, "f")


def order_json(o: PlannedOrder) -> dict[str, Any]:
    return {
        "sku": o.sku,
        "warehouse": o.warehouse,
        "kind": str(o.kind),
        "qty": qty_text(o.qty),
        "start": o.start.isoformat(),
        "due": o.due.isoformat(),
        "supplier": o.supplier,
        "unit_price": None if o.unit_price is None else price_text(o.unit_price),
        "late": o.late,
        "pegging": [{"demand": p.demand, "qty": qty_text(p.qty)} for p in o.pegging],
    }


def exception_json(e: MrpException) -> dict[str, Any]:
    return {"sku": e.sku, "kind": e.kind, "detail": e.detail}


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The ``fieldsync mrp --json`` document of ``plan``, in the plan's own order."""
    return {
        "today": plan.today.isoformat(),
        "planned_orders": [order_json(o) for o in plan.planned_orders],
        "exceptions": [exception_json(e) for e in plan.exceptions],
    }
