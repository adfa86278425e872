"""The per-change checks that need no stored state: table, columns, values, clock skew, and the
columns a role may write. Pure functions; the push service runs them before touching storage.

What a column accepts is compiled once per table from the registry (:func:`_spec`), so a change
costs a dict look-up and one call per value; the refusals and their messages are those of
``shared.values.coerce``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from server.domain.sync.principal import Principal
from shared.registry import DELETED, REGISTRY, Kind, Role
from shared.registry import Table as SyncTable
from shared.values import MAX_TEXT, ColType, ValueError_, coerce
from sync.hlc import physical_ms
from sync.protocol import Change, Rejection

__all__ = ["Checked", "check_change"]

# the canonical text form of a UUID, as ``str(uuid.UUID(x))`` writes it: a text that matches is
# a valid UUID already in that form, so it needs no parse
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Checked:
    """A change that passed the stateless checks, its values turned into domain values."""

    change: Change
    table: SyncTable
    vals: dict[str, Any]


def _reject(change: Change, reason: str, detail: str) -> Rejection:
    return Rejection(seq=change.seq, reason=reason, detail=detail)  # type: ignore[arg-type]


Coercer = Callable[[Any], Any]


def _coercer(coltype: ColType, choices: tuple[str, ...], nullable: bool) -> Coercer:
    """``coerce`` for one column, with the common cases answered without it (same results)."""

    def general(raw: Any) -> Any:
        return coerce(coltype, raw, choices=choices, nullable=nullable)

    if coltype is ColType.TEXT and not choices:
        def text(raw: Any) -> Any:
            if type(raw) is str and len(raw) <= MAX_TEXT and "\x00" not in raw:
                return raw
            return general(raw)
        return text
    if coltype is ColType.TEXT:
        allowed = frozenset(choices)

        def choice(raw: Any) -> Any:
            if type(raw) is str and raw in allowed:
                return raw
            return general(raw)
        return choice
    if coltype is ColType.ID:
        canonical = _CANONICAL_UUID.fullmatch

        def ident(raw: Any) -> Any:
            if type(raw) is str and canonical(raw):
                return raw
            return general(raw)
        return ident
    return general


@cache
def _spec(name: str) -> Mapping[str, Coercer]:
    """Column name -> its coercer, for every register a change to this table may write."""
    table = REGISTRY[name]
    out: dict[str, Coercer] = {}
    for cell in table.cell_names:
        col = table.column(cell)
        assert col is not None
        required = cell == DELETED or (table.kind is Kind.LEDGER and col.required)
        out[cell] = _coercer(col.type, col.choices, not required)
    return out


@cache
def _required(name: str) -> tuple[str, ...]:
    table = REGISTRY[name]
    return tuple(c.name for c in table.columns if c.required) if table.kind is Kind.LEDGER else ()


def _canonical_pk(pk: str) -> bool:
    return _CANONICAL_UUID.fullmatch(pk) is not None


def check_change(change: Change, principal: Principal, now_ms: int, max_skew_ms: int) -> Checked | Rejection:
    table = REGISTRY.get(change.table)
    if table is None:
        return _reject(change, "unknown_table", f"there is no synced table {change.table[:64]!r}")
    if not _canonical_pk(change.pk):
        try:
            pk = str(uuid.UUID(change.pk))
        except ValueError:
            return _reject(change, "invalid_value", f"pk must be a text UUID, got {change.pk[:64]!r}")
        if pk != change.pk:
            return _reject(change, "invalid_value", f"pk must be a lowercase canonical UUID, got {change.pk!r}")
    if not change.vals:
        return _reject(change, "invalid_value", "a change must write at least one column")
    spec = _spec(table.name)
    vals: dict[str, Any] = {}
    for name, raw in change.vals.items():
        convert = spec.get(name)
        if convert is None:
            return _reject(change, "unknown_column", f"table {table.name} has no column {name[:64]!r}")
        try:
            vals[name] = convert(raw)
        except ValueError_ as exc:
            return _reject(change, "invalid_value", f"{table.name}.{name}: {exc}")
    required = _required(table.name)
    if required:
        missing = [c for c in required if c not in vals]
        if missing:
            return _reject(change, "invalid_value",
                           f"a {table.name} row is written once with all its columns; missing {', '.join(missing)}")
    if physical_ms(change.ts) > now_ms + max_skew_ms:
        ahead_s = (physical_ms(change.ts) - now_ms) / 1000
        return _reject(change, "clock_skew",
                       f"stamped {ahead_s:.0f} s ahead of the server's clock (limit {max_skew_ms / 1000:.0f} s); "
                       "re-stamp against server_ts and push again")
    forbidden = _forbidden_columns(table.name, principal.role, vals)
    if forbidden is not None:
        return _reject(change, "forbidden", forbidden)
    return Checked(change, table, vals)


def _forbidden_columns(name: str, role: Role, vals: dict[str, Any]) -> str | None:
    """Why this role may not write these columns of this table, or None when it may."""
    table = REGISTRY[name]
    rule = table.write_rule(role)
    if rule is None:
        return f"role {role} may not write {table.name}"
    if rule.columns is not None:
        extra = sorted(set(vals) - rule.columns)
        if extra:
            return (f"role {role} may write only {', '.join(sorted(rule.columns))} "
                    f"of {table.name}, not {', '.join(extra)}")
    return None
