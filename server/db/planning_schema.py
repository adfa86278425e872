"""Tables of the planning service (server only, not synced): kept MRP runs, the pegging of
production orders to the sales orders they were made for, and number sequences.

Plain tables on the one ``metadata`` of ``server.db.schema``, which imports this module at its
end (after ``masterdata``, whose ``production_order`` the pegs reference). Decimals are
``ExactDecimal``; JSON documents are stored as text exactly as served.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, ForeignKey, Index, String, Table, Text

from server.db.schema import metadata
from server.db.types import ExactDecimal, UtcDateTime

__all__ = ["PLANNING_TABLES", "mrp_run", "planning_sequence", "production_order_peg"]

mrp_run = Table(
    "mrp_run", metadata,
    Column("id", String(36), primary_key=True),  # UUIDv7: sorts by creation
    Column("created_at", UtcDateTime(), nullable=False),
    Column("today", Date, nullable=False),
    # sha256 of everything the plan was computed from (the PlanningInput and the agreements):
    # two runs with the same version planned the same data
    Column("input_version", String(64), nullable=False),
    Column("requested_by", Text, nullable=False),  # the user name of the device (or "bootstrap")
    Column("device_id", String(36), nullable=True),
    Column("planned_orders", BigInteger, nullable=False),  # counts, so a list needs no JSON
    Column("exceptions", BigInteger, nullable=False),
    Column("plan", Text, nullable=False),  # the plan JSON of ``fieldsync mrp --json``
)
Index("ix_mrp_run_created_at", mrp_run.c.created_at)

production_order_peg = Table(
    "production_order_peg", metadata,
    Column("id", String(36), primary_key=True),
    Column("production_order_id", String(36),
           ForeignKey("production_order.id", name="fk_production_order_peg_production_order_id"),
           nullable=False),
    Column("sales_order_id", String(36), nullable=False),  # the synced sales_order row
    Column("sales_order_number", Text, nullable=False),
    Column("qty", ExactDecimal(), nullable=False),
)
Index("ix_production_order_peg_production_order_id", production_order_peg.c.production_order_id)
Index("ix_production_order_peg_sales_order_id", production_order_peg.c.sales_order_id)

# One row per named sequence, bumped by an upsert inside the caller's write transaction: the row
# lock (PostgreSQL) or the write lock (SQLite) makes numbers unique across server processes.
planning_sequence = Table(
    "planning_sequence", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

PLANNING_TABLES: dict[str, Table] = {t.name: t for t in (mrp_run, production_order_peg, planning_sequence)}
