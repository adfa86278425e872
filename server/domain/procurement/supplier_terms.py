"""What supplier allocation needs of each supplier, read from the database: its weekly capacity
and its ``blocked`` flag. Reads only, in the caller's transaction (one snapshot with the rest
of the planning input, see ``planning.runs.snapshot``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.masterdata import supplier
from server.domain.procurement.allocation_model import SupplierTerms

__all__ = ["load_supplier_terms"]


async def load_supplier_terms(conn: AsyncConnection) -> dict[str, SupplierTerms]:
    """Supplier code -> its terms, for every supplier."""
    rows = await conn.execute(select(supplier.c.code, supplier.c.capacity_per_week, supplier.c.blocked)
                              .order_by(supplier.c.code))
    return {r.code: SupplierTerms(r.code, r.capacity_per_week, bool(r.blocked)) for r in rows}
