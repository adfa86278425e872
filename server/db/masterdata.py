"""Master data that only the server holds (not synced to devices): bills of materials,
suppliers, price agreements, forecasts, open purchase order lines and production orders.

Plain tables on the one ``metadata`` of ``server.db.schema``, which imports this module at its end,
so the schema (and Alembic) always sees them. Each row has a text UUIDv7 ``id`` and a unique natural key
(the key columns of the PLANNING.md file it is imported from), so a re-import finds its rows.
Products and warehouses are referenced by the ids of their synced rows. Decimals are
``ExactDecimal`` (never floats), dates are ``Date``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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
    "MASTER_TABLES",
    "PRICE_KINDS",
    "PRODUCTION_STATES",
    "PURCHASE_STATES",
    "bom_line",
    "forecast",
    "price_agreement",
    "production_order",
    "purchase_order_line",
    "supplier",
]

PRICE_KINDS = ("purchase", "subcontract")
PURCHASE_STATES = ("open", "closed")
PRODUCTION_STATES = ("planned", "released", "done", "cancelled")


def _id() -> Column[str]:
    return Column("id", String(36), primary_key=True)


def _ref(table: str, name: str, target: str) -> Column[str]:
    return Column(name, String(36), ForeignKey(f"{target}.id", name=f"fk_{table}_{name}"), nullable=False)


def _in(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


bom_line = Table(
    "bom_line", metadata,
    _id(),
    _ref("bom_line", "parent_id", "product"),
    _ref("bom_line", "component_id", "product"),
    Column("qty_per", ExactDecimal(), nullable=False),
    Column("scrap_pct", ExactDecimal(), nullable=False),
    UniqueConstraint("parent_id", "component_id", name="uq_bom_line_parent_component"),
)
Index("ix_bom_line_component_id", bom_line.c.component_id)

supplier = Table(
    "supplier", metadata,
    _id(),
    Column("code", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("capacity_per_week", ExactDecimal(), nullable=True),  # units over all items; NULL: unlimited
    Column("blocked", Boolean, nullable=False),
    UniqueConstraint("code", name="uq_supplier_code"),
)

price_agreement = Table(
    "price_agreement", metadata,
    _id(),
    _ref("price_agreement", "supplier_id", "supplier"),
    _ref("price_agreement", "product_id", "product"),
    Column("kind", String(16), nullable=False),
    Column("min_qty", ExactDecimal(), nullable=False),
    Column("unit_price", ExactDecimal(), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),  # NULL: open-ended
    Column("priority", BigInteger, nullable=False),  # 1 = first choice
    Column("lead_time_days", BigInteger, nullable=True),  # NULL: the product's
    UniqueConstraint("supplier_id", "product_id", "kind", "min_qty", "valid_from",
                     name="uq_price_agreement_key"),
    _in("kind", PRICE_KINDS, "ck_price_agreement_kind"),
)
Index("ix_price_agreement_product_id", price_agreement.c.product_id)

forecast = Table(
    "forecast", metadata,
    _id(),
    _ref("forecast", "product_id", "product"),
    _ref("forecast", "warehouse_id", "warehouse"),
    Column("date", Date, nullable=False),
    Column("qty", ExactDecimal(), nullable=False),
    UniqueConstraint("product_id", "warehouse_id", "date", name="uq_forecast_key"),
)

purchase_order_line = Table(
    "purchase_order_line", metadata,
    _id(),
    Column("number", Text, nullable=False),
    _ref("purchase_order_line", "supplier_id", "supplier"),
    _ref("purchase_order_line", "product_id", "product"),
    Column("qty", ExactDecimal(), nullable=False),
    Column("due_date", Date, nullable=False),
    _ref("purchase_order_line", "warehouse_id", "warehouse"),
    Column("status", String(16), nullable=False),
    Column("qty_received", ExactDecimal(), nullable=False, default=0),
    UniqueConstraint("number", "product_id", name="uq_purchase_order_line_key"),
    _in("status", PURCHASE_STATES, "ck_purchase_order_line_status"),
)
Index("ix_purchase_order_line_product_id", purchase_order_line.c.product_id)

production_order = Table(
    "production_order", metadata,
    _id(),
    Column("number", Text, nullable=False),
    _ref("production_order", "product_id", "product"),
    Column("qty", ExactDecimal(), nullable=False),
    Column("due_date", Date, nullable=False),
    _ref("production_order", "warehouse_id", "warehouse"),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("number", name="uq_production_order_number"),
    _in("status", PRODUCTION_STATES, "ck_production_order_status"),
)
Index("ix_production_order_product_id", production_order.c.product_id)

MASTER_TABLES: dict[str, Table] = {t.name: t for t in (
    bom_line, supplier, price_agreement, forecast, purchase_order_line, production_order)}
