"""Supplier quotas as the back office edits them (``/api/v1/master/supplier-quotas``): a minimum
share of an item's planned volume for a supplier, in percent, and optionally a maximum.

Rows travel in the columns ``sku``, ``supplier``, ``min_share``, ``max_share`` (percent, a plain
decimal 0..100; an empty ``max_share``: no maximum) and are upserted by (sku, supplier). The
checks, all before anything is written and all reported at once: shares 0..100, ``min_share <=
max_share``, the sku and the supplier exist, no (sku, supplier) twice in one request, and an
item's minimum shares, stored and posted together, add up to at most 100. Writes happen in one
transaction. The allocation reads them with ``load_quotas`` as ``Quota`` (shares as 0..1).
There is no CSV file for quotas: PLANNING.md's import contract is fixed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import uuid_utils
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.masterdata import supplier
from server.db.procurement_schema import supplier_quota
from server.db.schema import sql_tables
from server.domain.masterdata.importer import lock_imports
from server.domain.masterdata.specs import CellError, decimal, text
from server.domain.planning.load import live
from server.domain.procurement.allocation_model import Quota
from shared.errors import InvalidInput

__all__ = ["QUOTA_COLUMNS", "QUOTA_KIND", "QuotaCounts", "list_quotas", "load_quotas", "upsert_quotas"]

QUOTA_KIND = "supplier-quotas"
QUOTA_COLUMNS = ("sku", "supplier", "min_share", "max_share")
HUNDRED = Decimal(100)
_product = sql_tables["product"]
_parse_share = decimal()


@dataclass(frozen=True)
class QuotaCounts:
    rows: int
    created: int
    updated: int
    unchanged: int


def _listing() -> Any:
    q, p, s = supplier_quota, _product, supplier
    return (select(p.c.sku, s.c.code.label("supplier"), q.c.min_share, q.c.max_share)
            .join(p, p.c.id == q.c.product_id).join(s, s.c.id == q.c.supplier_id)
            .order_by(p.c.sku, s.c.code))


async def list_quotas(conn: AsyncConnection, limit: int, offset: int) -> tuple[list[dict[str, Any]], bool]:
    """A page of the quotas in their columns, and whether more follow."""
    found = [dict(r) for r in (await conn.execute(_listing().limit(limit + 1).offset(offset))).mappings()]
    return found[:limit], len(found) > limit


async def load_quotas(conn: AsyncConnection) -> tuple[Quota, ...]:
    """Every stored quota of a live product, shares as fractions (0..1), in (sku, supplier) order."""
    rows = await conn.execute(_listing().where(live(_product)))
    return tuple(Quota(r.sku, r.supplier, r.min_share / HUNDRED,
                       None if r.max_share is None else r.max_share / HUNDRED) for r in rows)


def _share(raw: Any, where: str, issues: list[str]) -> Decimal | None:
    text = "" if raw is None else str(raw).strip()
    if text == "":
        return None
    try:
        value: Decimal = _parse_share(text)
    except CellError as exc:
        issues.append(f"{where}: {exc}")
        return None
    if value > HUNDRED:
        issues.append(f"{where}: a share is a percentage from 0 to 100, got {text}")
        return None
    return value


@dataclass(frozen=True)
class _Row:
    sku: str
    supplier: str
    min_share: Decimal
    max_share: Decimal | None


def _parse(rows: Sequence[Mapping[str, Any]], issues: list[str]) -> list[tuple[int, _Row]]:
    out: list[tuple[int, _Row]] = []
    seen: dict[tuple[str, str], int] = {}
    for i, r in enumerate(rows):
        extra = sorted(set(r) - set(QUOTA_COLUMNS))
        if extra:
            issues.append(f"rows[{i}]: unknown column{'s' if len(extra) > 1 else ''} "
                          f"{', '.join(repr(e[:60]) for e in extra)}; the columns are {', '.join(QUOTA_COLUMNS)}")
            continue
        sku, code = (str(r.get(k) or "").strip() for k in ("sku", "supplier"))
        for name, value in (("sku", sku), ("supplier", code)):
            if not value:
                issues.append(f"rows[{i}].{name}: required")
            try:
                text(value)  # no NUL, not too long: the database would refuse it
            except CellError as exc:
                issues.append(f"rows[{i}].{name}: {exc}")
                sku = code = ""
        if r.get("min_share") in (None, ""):
            issues.append(f"rows[{i}].min_share: required (a percentage from 0 to 100)")
        low = _share(r.get("min_share"), f"rows[{i}].min_share", issues)
        high = _share(r.get("max_share"), f"rows[{i}].max_share", issues)
        if low is not None and high is not None and high < low:
            issues.append(f"rows[{i}].max_share: {high} is below min_share {low}")
        if not sku or not code or low is None or (high is not None and high < low):
            continue
        if (sku, code) in seen:
            issues.append(f"rows[{i}]: {sku}/{code} is also rows[{seen[(sku, code)]}]; one row per sku and supplier")
            continue
        seen[(sku, code)] = i
        out.append((i, _Row(sku, code, low, high)))
    return out


def _raise(issues: list[str]) -> None:
    n = len(issues)
    lines = issues[:200] + ([f"... and {n - 200} more"] if n > 200 else [])
    raise InvalidInput(f"{n} problem{'s' if n != 1 else ''} found, nothing was written:\n" + "\n".join(lines),
                       code="invalid_rows")


async def upsert_quotas(db: Database, rows: Sequence[Mapping[str, Any]], *, dry_run: bool = False) -> QuotaCounts:
    """Check every row (module docstring), then upsert them by (sku, supplier) in one
    transaction; with ``dry_run`` only check and count."""
    issues: list[str] = []
    parsed = _parse(rows, issues)
    async with (db.read() if dry_run else db.write()) as conn:
        if not dry_run:
            await lock_imports(conn)  # the sum check below sees every other writer's quotas
        products = {r.sku: r.id for r in await conn.execute(
            select(_product.c.sku, _product.c.id).where(live(_product), _product.c.sku.in_({r.sku for _, r in parsed})))}
        suppliers = {r.code: r.id for r in await conn.execute(
            select(supplier.c.code, supplier.c.id).where(supplier.c.code.in_({r.supplier for _, r in parsed})))}
        for i, r in parsed:
            if r.sku not in products:
                issues.append(f"rows[{i}].sku: there is no product {r.sku[:60]!r}")
            if r.supplier not in suppliers:
                issues.append(f"rows[{i}].supplier: there is no supplier {r.supplier[:60]!r}")
        stored = {(r.product_id, r.supplier_id): r for r in await conn.execute(
            select(supplier_quota).where(supplier_quota.c.product_id.in_(set(products.values()))))}
        mins: dict[str, dict[str, Decimal]] = defaultdict(dict)  # product id -> supplier id -> min share
        for (pid, sid), row in stored.items():
            mins[pid][sid] = row.min_share
        for _, r in parsed:
            if r.sku in products and r.supplier in suppliers:
                mins[products[r.sku]][suppliers[r.supplier]] = r.min_share
        for sku in sorted({r.sku for _, r in parsed if r.sku in products}):
            total = sum(mins[products[sku]].values(), Decimal(0))
            if total > HUNDRED:
                issues.append(f"sku {sku}: its suppliers' minimum shares add up to {total} %, more than 100")
        if issues:
            _raise(issues)
        created = updated = unchanged = 0
        for _, r in parsed:
            key = (products[r.sku], suppliers[r.supplier])
            had = stored.get(key)
            if had is None:
                created += 1
                if not dry_run:
                    await conn.execute(supplier_quota.insert().values(
                        id=str(uuid_utils.uuid7()), product_id=key[0], supplier_id=key[1],
                        min_share=r.min_share, max_share=r.max_share))
            elif had.min_share == r.min_share and had.max_share == r.max_share:
                unchanged += 1
            else:
                updated += 1
                if not dry_run:
                    await conn.execute(supplier_quota.update().where(supplier_quota.c.id == had.id)
                                       .values(min_share=r.min_share, max_share=r.max_share))
    return QuotaCounts(len(parsed), created, updated, unchanged)
