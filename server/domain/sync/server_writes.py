"""Writes made by the server itself (site ``"server"``): back-office edits, demo data, planning
results. They go through the same checks and the same bulk merge as a device's changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from server.domain.sync import store
from server.domain.sync.clock import ServerClock
from shared.errors import InvalidInput
from shared.registry import DELETED, REGISTRY, Kind
from shared.values import ValueError_, coerce
from sync.merge import SERVER_SITE

__all__ = ["ServerWrite", "write_as_server"]


@dataclass(frozen=True)
class ServerWrite:
    table: str
    pk: str
    vals: dict[str, Any]  # wire or domain values


def _typed(w: ServerWrite) -> dict[str, Any]:
    table = REGISTRY.get(w.table)
    if table is None:
        raise InvalidInput(f"there is no synced table {w.table!r}", code="unknown_table")
    out: dict[str, Any] = {}
    for name, raw in w.vals.items():
        col = table.column(name)
        if col is None:
            raise InvalidInput(f"table {w.table} has no column {name!r}", code="unknown_column")
        try:
            out[name] = coerce(col.type, str(raw) if col.type.value == "decimal" and raw is not None else raw,
                               choices=col.choices, nullable=name != DELETED)
        except ValueError_ as exc:
            raise InvalidInput(f"{w.table}.{name}: {exc}", code="invalid_value") from None
    return out


def write_as_server(conn: Connection, clock: ServerClock, writes: Sequence[ServerWrite]) -> int:
    """Apply ``writes`` in the caller's transaction, stamped with one fresh server stamp.
    Ledger rows that already exist are left alone (ledgers never change). Returns the stamp.
    From async code: ``await conn.run_sync(write_as_server, clock, writes)``."""
    typed = [(w, _typed(w)) for w in writes]
    ts = clock.stamp_server_write(conn)
    rev = store.next_rev(conn)
    lww: dict[str, list[store.LwwWrite]] = defaultdict(list)
    ledger: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for w, vals in typed:
        table = REGISTRY[w.table]
        if table.kind is Kind.LWW:
            lww[w.table].append(store.LwwWrite(w.pk, ts, SERVER_SITE, vals))
        else:
            ledger[w.table].append({"id": w.pk, **{c.name: vals.get(c.name) for c in table.columns},
                                    "_ts": ts, "_site": SERVER_SITE, "_rev": rev})
    for name, writes in lww.items():
        store.apply_lww(conn, name, writes, rev)
    for name, rows in ledger.items():
        store.apply_ledger(conn, name, rows)
    return ts
