"""Which rows a device sees (SQL filters for pull) and may write (checks against stored rows).

Both are driven by the registry's ``read`` and ``write`` scopes, so a rule is declared once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, select, true

from server.db.schema import sql_tables
from server.domain.sync.principal import Principal
from shared.registry import REGISTRY, Everyone, InWarehouse, Nobody, OwnedBy, Scope, Via

__all__ = ["expected_value", "read_filter"]


def expected_value(scope: OwnedBy | InWarehouse, principal: Principal) -> str | None:
    """The value a scoped column must hold for this device: its user or its warehouse."""
    return principal.user if isinstance(scope, OwnedBy) else principal.warehouse_id


def _filter(table_name: str, scope: Scope, principal: Principal, depth: int = 0) -> ColumnElement[bool]:
    t = sql_tables[table_name]
    match scope:
        case Everyone():
            return true()
        case Nobody():
            return false()
        case OwnedBy(column) | InWarehouse(column):
            value = expected_value(scope, principal)
            return false() if value is None else (t.c[column] == value)
        case Via(column, parent):
            if depth > 4:  # pragma: no cover - the registry has no such chains
                raise ValueError("scope chain too deep")
            parent_scope = REGISTRY[parent].read_scope(principal.role)
            p = sql_tables[parent]
            inner = select(p.c.id).where(_filter(parent, parent_scope, principal, depth + 1))
            return t.c[column].in_(inner)
    raise AssertionError(f"unknown scope {scope!r}")  # pragma: no cover


def read_filter(table_name: str, principal: Principal) -> ColumnElement[bool] | None:
    """The SQL condition on a table's rows for this device, or None when it reads nothing."""
    scope = REGISTRY[table_name].read_scope(principal.role)
    if isinstance(scope, Nobody):
        return None
    return _filter(table_name, scope, principal)


def parent_ref(scope: Any) -> tuple[str, str] | None:
    return (scope.column, scope.parent) if isinstance(scope, Via) else None
