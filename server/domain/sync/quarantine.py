"""The quarantine: changes the server refused, and status writes that tried to go back, with
who sent them and why. Nothing a device sends is dropped without a trace here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.db.engine import Database
from server.db.schema import conflict, rejection
from server.domain.sync.principal import Principal
from shared.errors import Forbidden

__all__ = ["conflicts", "rejected"]


async def rejected(db: Database, principal: Principal, limit: int = 200) -> list[dict[str, Any]]:
    if not principal.is_backoffice:
        raise Forbidden("only the back office may read the quarantine")
    async with db.read() as conn:
        rows = await conn.execute(select(rejection).order_by(rejection.c.id.desc()).limit(limit))
        return [dict(r) for r in rows.mappings()]


async def conflicts(db: Database, principal: Principal, limit: int = 200) -> list[dict[str, Any]]:
    if not principal.is_backoffice:
        raise Forbidden("only the back office may read conflicts")
    async with db.read() as conn:
        rows = await conn.execute(select(conflict).order_by(conflict.c.id.desc()).limit(limit))
        return [dict(r) for r in rows.mappings()]
