"""An ``Allocation`` as JSON: what a kept MRP run stores beside its plan and the runs API shows.

Quantities are decimal text without trailing zeros, prices at their own scale, costs exact
(``qty x price``), dates ISO (the same rules as the plan, render.py). Layout (docs/procurement.md):

    {"status": "optimal", "gap": "0.0000", "components": 3, "cost": "850.00",
     "orders": [{"sku", "warehouse", "kind", "qty", "due", "cost", "cheapest_rule",
                 "chosen": [{"supplier", "qty", "unit_price", "min_qty", "priority",
                             "lead_time_days", "start", "late", "over_capacity"}],
                 "alternatives": [{"supplier", "reason", "detail", "unit_price", "cost"}],
                 "quotas": ["quota: S2 gets at least 30 % of P's planned volume"]}],
     "quota_short": [{"sku", "supplier", "qty"}]}
"""

from __future__ import annotations

from typing import Any

from server.domain.planning.render import price_text, qty_text
from server.domain.procurement.allocation_model import Allocation, OrderAllocation

__all__ = ["allocation_to_json"]

_KIND = {"purchase": "buy", "subcontract": "subcontract"}


def _order(oa: OrderAllocation) -> dict[str, Any]:
    n = oa.need
    return {
        "sku": n.sku, "warehouse": n.warehouse, "kind": _KIND[str(n.kind)], "qty": qty_text(n.qty),
        "due": n.due.isoformat(), "cost": price_text(oa.cost), "cheapest_rule": oa.cheapest_rule,
        "chosen": [{"supplier": p.supplier, "qty": qty_text(p.qty), "unit_price": price_text(p.unit_price),
                    "min_qty": qty_text(p.min_qty), "priority": p.priority,
                    "lead_time_days": p.lead_time_days, "start": p.order_date.isoformat(),
                    "late": p.late, "over_capacity": qty_text(p.over_capacity)} for p in oa.parts],
        "alternatives": [{"supplier": a.supplier, "reason": str(a.reason), "detail": a.detail,
                          "unit_price": None if a.unit_price is None else price_text(a.unit_price),
                          "cost": None if a.cost is None else price_text(a.cost)}
                         for a in oa.alternatives],
        "quotas": list(oa.quotas),
    }


def allocation_to_json(a: Allocation) -> dict[str, Any]:
    return {
        "status": a.status,
        "gap": f"{a.gap:.4f}",
        "components": a.components,
        "cost": price_text(a.cost),
        "orders": [_order(oa) for oa in a.orders],
        "quota_short": [{"sku": sku, "supplier": s, "qty": qty_text(q)} for sku, s, q in a.quota_short],
    }
