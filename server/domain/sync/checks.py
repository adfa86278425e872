"""The per-change checks that need no stored state: table, columns, values, clock skew, and the
columns a role may write. Pure functions; the push service runs them before touching storage.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from server.domain.sync.principal import Principal
from shared.registry import DELETED, REGISTRY, Kind
from shared.registry import Table as SyncTable
from shared.values import ValueError_, coerce
from sync.hlc import physical_ms
from sync.protocol import Change, Rejection

__all__ = ["Checked", "check_change"]


@dataclass
class Checked:
    """A change that passed the stateless checks, its values turned into domain values."""

    change: Change
    table: SyncTable
    vals: dict[str, Any]


def _reject(change: Change, reason: str, detail: str) -> Rejection:
    return Rejection(seq=change.seq, reason=reason, detail=detail)  # type: ignore[arg-type]


def check_change(change: Change, principal: Principal, now_ms: int, max_skew_ms: int) -> Checked | Rejection:
    table = REGISTRY.get(change.table)
    if table is None:
        return _reject(change, "unknown_table", f"there is no synced table {change.table[:64]!r}")
    try:
        pk = str(uuid.UUID(change.pk))
    except ValueError:
        return _reject(change, "invalid_value", f"pk must be a text UUID, got {change.pk[:64]!r}")
    if pk != change.pk:
        return _reject(change, "invalid_value", f"pk must be a lowercase canonical UUID, got {change.pk!r}")
    if not change.vals:
        return _reject(change, "invalid_value", "a change must write at least one column")
    vals: dict[str, Any] = {}
    for name, raw in change.vals.items():
        col = table.column(name)
        if col is None:
            return _reject(change, "unknown_column", f"table {table.name} has no column {name[:64]!r}")
        try:
            vals[name] = coerce(col.type, raw, choices=col.choices,
                                nullable=not (name == DELETED or (table.kind is Kind.LEDGER and col.required)))
        except ValueError_ as exc:
            return _reject(change, "invalid_value", f"{table.name}.{name}: {exc}")
    if table.kind is Kind.LEDGER:
        missing = [c.name for c in table.columns if c.required and c.name not in vals]
        if missing:
            return _reject(change, "invalid_value",
                           f"a {table.name} row is written once with all its columns; missing {', '.join(missing)}")
    if physical_ms(change.ts) > now_ms + max_skew_ms:
        ahead_s = (physical_ms(change.ts) - now_ms) / 1000
        return _reject(change, "clock_skew",
                       f"stamped {ahead_s:.0f} s ahead of the server's clock (limit {max_skew_ms / 1000:.0f} s); "
                       "re-stamp against server_ts and push again")
    rule = table.write_rule(principal.role)
    if rule is None:
        return _reject(change, "forbidden", f"role {principal.role} may not write {table.name}")
    if rule.columns is not None:
        extra = sorted(set(vals) - rule.columns)
        if extra:
            return _reject(change, "forbidden",
                           f"role {principal.role} may write only {', '.join(sorted(rule.columns))} "
                           f"of {table.name}, not {', '.join(extra)}")
    return Checked(change, table, vals)
