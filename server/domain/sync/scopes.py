"""Which rows a device sees (SQL filters for pull) and may write (checks against stored rows).

Both are driven by the registry's ``read`` and ``write`` scopes, so a rule is declared once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, select, true

from server.db.schema import sql_tables
from server.domain.sync.principal import Principal
from shared.registry import REGISTRY, Everyone, InWarehouse, Nobody, OwnedBy, Role, Scope, Via

__all__ = ["SCOPE_PARAMS", "expected_value", "read_filter", "scope_params"]

# the bound parameters a read filter may use, filled per device by :func:`scope_params`
SCOPE_PARAMS = ("scope_user", "scope_warehouse")


def expected_value(scope: OwnedBy | InWarehouse, principal: Principal) -> str | None:
    """The value a scoped column must hold for this device: its user or its warehouse."""
    return principal.user if isinstance(scope, OwnedBy) else principal.warehouse_id


def scope_params(principal: Principal) -> dict[str, str | None]:
    """The values of :data:`SCOPE_PARAMS` for this device. A NULL matches no row, so a device
    without a warehouse reads no warehouse-scoped rows."""
    return {"scope_user": principal.user, "scope_warehouse": principal.warehouse_id}


def _filter(table_name: str, scope: Scope, role: Role, depth: int = 0) -> ColumnElement[bool]:
    t = sql_tables[table_name]
    match scope:
        case Everyone():
            return true()
        case Nobody():
            return false()
        case OwnedBy(column):
            return t.c[column] == bindparam("scope_user", type_=t.c[column].type)
        case InWarehouse(column):
            return t.c[column] == bindparam("scope_warehouse", type_=t.c[column].type)
        case Via(column, parent):
            if depth > 4:  # pragma: no cover - the registry has no such chains
                raise ValueError("scope chain too deep")
            parent_scope = REGISTRY[parent].read_scope(role)
            p = sql_tables[parent]
            inner = select(p.c.id).where(_filter(parent, parent_scope, role, depth + 1))
            return t.c[column].in_(inner)
    raise AssertionError(f"unknown scope {scope!r}")  # pragma: no cover


def read_filter(table_name: str, role: Role) -> ColumnElement[bool] | None:
    """The SQL condition on a table's rows for a device of this role, with the device's own
    values left as the bound parameters :data:`SCOPE_PARAMS`; None when it reads nothing."""
    scope = REGISTRY[table_name].read_scope(role)
    if isinstance(scope, Nobody):
        return None
    return _filter(table_name, scope, role)


def parent_ref(scope: Any) -> tuple[str, str] | None:
    return (scope.column, scope.parent) if isinstance(scope, Via) else None
