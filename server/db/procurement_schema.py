"""Tables of procurement (server only, not synced): purchase requisitions made from an MRP run,
their lines, the terms a purchase order line was approved with, and the supplier quotas the
allocation honours.

Plain tables on the one ``metadata`` of ``server.db.schema``, which imports this module at its
end (after ``masterdata`` and ``planning_schema``, whose tables these reference). Decimals are
``ExactDecimal``; dates are ``Date``. Purchase order lines themselves live in
``masterdata.purchase_order_line`` beside the imported ones, so MRP counts both alike.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from server.db.schema import metadata
from server.db.types import ExactDecimal, UtcDateTime

__all__ = [
    "LINE_KINDS",
    "PROCUREMENT_TABLES",
    "REQUISITION_STATES",
    "po_line_terms",
    "requisition",
    "requisition_line",
    "supplier_quota",
]

REQUISITION_STATES = ("draft", "approved")
LINE_KINDS = ("buy", "subcontract")


def _in(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


def _fk(table: str, name: str, target: str, *, nullable: bool = False) -> Column[str]:
    return Column(name, String(36), ForeignKey(f"{target}.id", name=f"fk_{table}_{name}"), nullable=nullable)


requisition = Table(
    "requisition", metadata,
    Column("id", String(36), primary_key=True),
    Column("number", Text, nullable=False, unique=True),
    _fk("requisition", "run_id", "mrp_run"),
    _fk("requisition", "supplier_id", "supplier", nullable=True),  # NULL: MRP found no supplier
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("approved_at", UtcDateTime(), nullable=True),
    Column("approved_by", Text, nullable=True),
    _in("status", REQUISITION_STATES, "ck_requisition_status"),
)
Index("ix_requisition_run_id", requisition.c.run_id)

requisition_line = Table(
    "requisition_line", metadata,
    Column("id", String(36), primary_key=True),
    _fk("requisition_line", "requisition_id", "requisition"),
    _fk("requisition_line", "product_id", "product"),
    _fk("requisition_line", "warehouse_id", "warehouse"),
    Column("kind", String(16), nullable=False),
    Column("qty", ExactDecimal(), nullable=False),
    Column("unit_price", ExactDecimal(), nullable=True),  # NULL: no agreement priced it
    Column("order_date", Date, nullable=False),  # MRP's start: when the order must be placed
    Column("due_date", Date, nullable=False),
    Column("late", Boolean, nullable=False),
    _in("kind", LINE_KINDS, "ck_requisition_line_kind"),
)
Index("ix_requisition_line_requisition_id", requisition_line.c.requisition_id)

# What a purchase order line was approved with, for scorecards (imported lines have none)
po_line_terms = Table(
    "po_line_terms", metadata,
    Column("po_line_id", String(36), ForeignKey("purchase_order_line.id", name="fk_po_line_terms_po_line_id"),
           primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("unit_price", ExactDecimal(), nullable=True),
    Column("ordered_on", Date, nullable=False),
    _fk("po_line_terms", "requisition_id", "requisition", nullable=True),
    _in("kind", LINE_KINDS, "ck_po_line_terms_kind"),
)

# A quota share of an item's planned volume for one supplier, in percent (0..100); set by the
# back office (``/api/v1/master/supplier-quotas``), read by the allocation (``Quota``)
supplier_quota = Table(
    "supplier_quota", metadata,
    Column("id", String(36), primary_key=True),
    _fk("supplier_quota", "product_id", "product"),
    _fk("supplier_quota", "supplier_id", "supplier"),
    Column("min_share", ExactDecimal(), nullable=False),
    Column("max_share", ExactDecimal(), nullable=True),  # NULL: no maximum
    UniqueConstraint("product_id", "supplier_id", name="uq_supplier_quota_product_supplier"),
)

PROCUREMENT_TABLES: dict[str, Table] = {t.name: t for t in (requisition, requisition_line, po_line_terms,
                                                            supplier_quota)}
