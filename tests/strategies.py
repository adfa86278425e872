"""Hypothesis strategies: wire values per column, lww edits (deletes, revivals, status moves
forward and back), ledger appends (same-id re-sends with the same or other values), device clock
skews, and whole histories of devices that write, sync partially, lose answers and restart.

Row ids come from small fixed pools so that devices really collide on rows and cells.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from shared.registry import DELETED, REGISTRY, Column
from shared.values import ColType

__all__ = [
    "LEDGER_TABLE",
    "LWW_TABLES",
    "PKS",
    "YEAR_MS",
    "Advance",
    "Append",
    "Edit",
    "Network",
    "Pull",
    "Push",
    "Restart",
    "ServerEdit",
    "Sync",
    "clock_skews",
    "histories",
    "ledger_appends",
    "lww_vals",
    "wire_value",
]

YEAR_MS = 365 * 24 * 3600 * 1000
_NS = uuid.UUID("6f1c2b1e-8a4e-4d8c-9a3c-0d6c1b7e5a10")


def _ids(name: str, n: int) -> tuple[str, ...]:
    return tuple(str(uuid.uuid5(_NS, f"{name}-{i}")) for i in range(n))


LWW_TABLES = ("customer", "sales_order", "product")
LEDGER_TABLE = "stock_move"
PKS: dict[str, tuple[str, ...]] = {
    "customer": _ids("customer", 3),
    "sales_order": _ids("sales_order", 3),
    "product": _ids("product", 2),
    "stock_move": _ids("stock_move", 4),
}
WAREHOUSES = _ids("warehouse", 2)
_ID_POOL = {
    "customer_id": PKS["customer"],
    "product_id": PKS["product"],
    "warehouse_id": WAREHOUSES,
}

_TEXT = st.sampled_from(["", "Ann", "Bob", "Øre & Co", "x" * 40])
_DECIMAL = st.sampled_from(["0", "1.50", "-2.25", "10", "0.001", "123456.789"])
_DATE = st.sampled_from(["2025-01-01", "2025-06-30", "2026-02-28"])


def wire_value(column: Column) -> st.SearchStrategy[Any]:
    """A valid wire value for ``column`` (in the canonical form the server stores)."""
    base: st.SearchStrategy[Any]
    if column.choices:
        base = st.sampled_from(column.choices)
    elif column.type is ColType.ID:
        base = st.sampled_from(_ID_POOL.get(column.name, WAREHOUSES))
    elif column.type is ColType.DECIMAL:
        base = _DECIMAL
    elif column.type is ColType.DATE:
        base = _DATE
    elif column.type is ColType.BOOL:
        base = st.booleans()
    elif column.type is ColType.INT:
        base = st.integers(-5, 400)
    else:
        base = _TEXT
    return base if column.required else st.one_of(base, base, base, st.none())


@st.composite
def lww_vals(draw: st.DrawFn, table: str) -> dict[str, Any]:
    """The values of one lww change: an edit of 1–3 columns, a delete, or a revival with edits.

    Status columns draw any state, so moves go forward and back.
    """
    t = REGISTRY[table]
    what = draw(st.sampled_from(["edit", "edit", "edit", "delete", "revive"]))
    if what == "delete":
        return {DELETED: True}
    columns = draw(st.lists(st.sampled_from(t.columns), min_size=1, max_size=3,
                            unique_by=lambda c: c.name))
    vals = {c.name: draw(wire_value(c)) for c in columns}
    if what == "revive":
        vals[DELETED] = False
    return vals


def _ledger_variant(pk_index: int, variant: int) -> dict[str, Any]:
    return {
        "product_id": PKS["product"][(pk_index + variant) % 2],
        "warehouse_id": WAREHOUSES[pk_index % 2],
        "qty": ["5", "-1.5", "12", "0.25"][(pk_index + 3 * variant) % 4],
        "kind": ["receipt", "issue", "count", "delivery"][pk_index % 4],
        "ref": f"scan-{pk_index}-{variant}",
        "reason": None,
    }


def ledger_appends() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """``(id, values)`` of a stock move: ids repeat, with the same values or changed ones."""
    return st.builds(
        lambda i, v: (PKS[LEDGER_TABLE][i], _ledger_variant(i, v)),
        st.integers(0, len(PKS[LEDGER_TABLE]) - 1),
        st.sampled_from([0, 0, 0, 1]),
    )


def clock_skews(n: int) -> st.SearchStrategy[list[int]]:
    """Clock offsets in ms for ``n`` devices: device 0 runs a year fast, the others a little off."""
    others = st.lists(st.sampled_from([0, 0, 0, -5_000, 1_500, 15_000, 45_000]),
                      min_size=n - 1, max_size=n - 1)
    return others.map(lambda rest: [YEAR_MS, *rest])


# ---- histories -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    device: int
    table: str
    pk: str
    vals: dict[str, Any]


@dataclass(frozen=True)
class Append:
    device: int
    pk: str
    vals: dict[str, Any]


@dataclass(frozen=True)
class ServerEdit:
    table: str
    pk: str
    vals: dict[str, Any]


PUSH_FAULTS = ("none", "none", "none", "lose_request", "lose_response", "duplicate", "replay")


@dataclass(frozen=True)
class Push:
    device: int
    batch_size: int
    fault: str  # one of PUSH_FAULTS, hitting the first request of this push
    replay_index: int = 0  # which earlier request a "replay" delivers again first


@dataclass(frozen=True)
class Pull:
    device: int
    limit: int
    lose_response: bool


@dataclass(frozen=True)
class Sync:
    device: int


@dataclass(frozen=True)
class Advance:
    ms: int


@dataclass(frozen=True)
class Restart:
    device: int  # the app restarts: the replica file is reopened with a fresh clock


@dataclass(frozen=True)
class Network:
    device: int
    online: bool


Op = Edit | Append | ServerEdit | Push | Pull | Sync | Advance | Restart | Network


def _edit(n: int) -> st.SearchStrategy[Edit]:
    @st.composite
    def build(draw: st.DrawFn) -> Edit:
        table = draw(st.sampled_from(LWW_TABLES))
        return Edit(draw(st.integers(0, n - 1)), table, draw(st.sampled_from(PKS[table])),
                    draw(lww_vals(table)))

    return build()


@st.composite
def _server_edit(draw: st.DrawFn) -> ServerEdit:
    table = draw(st.sampled_from(LWW_TABLES))
    return ServerEdit(table, draw(st.sampled_from(PKS[table])), draw(lww_vals(table)))


def histories(n: int, min_size: int = 20, max_size: int = 60) -> st.SearchStrategy[list[Op]]:
    """Interleavings of edits, appends, server writes, partial syncs, faults and restarts."""
    device = st.integers(0, n - 1)
    op = st.one_of(
        _edit(n), _edit(n), _edit(n),
        st.builds(lambda d, a: Append(d, *a), device, ledger_appends()),
        _server_edit(),
        st.builds(Push, device, st.sampled_from([1, 2, 500]), st.sampled_from(PUSH_FAULTS),
                  st.integers(0, 20)),
        st.builds(Pull, device, st.sampled_from([1, 2, 3, 1000]), st.booleans()),
        st.builds(Sync, device),
        st.builds(Advance, st.sampled_from([1, 50, 1_000, 30_000, 120_000])),
        st.builds(Restart, device),
        st.builds(Network, device, st.booleans()),
    )
    return st.lists(op, min_size=min_size, max_size=max_size)
