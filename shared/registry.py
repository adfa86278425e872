"""The table registry: every synced table, its merge kind, columns, types, and who may read
and write which rows. The server's storage and checks, the client replica and docs/protocol.md
are all driven from here, so a table is declared once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from shared.values import ColType

__all__ = [
    "DELETED",
    "REGISTRY",
    "TABLES",
    "Column",
    "Everyone",
    "InWarehouse",
    "Kind",
    "Nobody",
    "OwnedBy",
    "Role",
    "Scope",
    "Table",
    "Via",
    "WriteRule",
    "table",
]

DELETED = "_deleted"  # the tombstone register every lww table carries


class Kind(StrEnum):
    LWW = "lww"
    LEDGER = "ledger"


class Role(StrEnum):
    SALES = "sales"
    WAREHOUSE = "warehouse"
    BACKOFFICE = "backoffice"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColType
    choices: tuple[str, ...] = ()
    states: tuple[str, ...] = ()  # a status column: merge keeps the furthest state in this order
    required: bool = False  # ledger rows must carry it

    @property
    def is_status(self) -> bool:
        return bool(self.states)

    def rank(self, value: object) -> int:
        """Position of a state in the declared order (unknown or null ranks lowest)."""
        if not self.states or value is None:
            return 0
        try:
            return self.states.index(str(value)) + 1
        except ValueError:
            return 0


# ---- scopes: which rows a device of a role may read or write ----------------------------


@dataclass(frozen=True)
class Everyone:
    """Every row of the table."""


@dataclass(frozen=True)
class Nobody:
    """No row at all."""


@dataclass(frozen=True)
class OwnedBy:
    """Rows whose ``column`` holds the device's user name."""

    column: str


@dataclass(frozen=True)
class InWarehouse:
    """Rows whose ``column`` holds the device's warehouse id."""

    column: str


@dataclass(frozen=True)
class Via:
    """Rows whose ``column`` references a row of ``parent`` that is in the device's scope."""

    column: str
    parent: str


Scope = Everyone | Nobody | OwnedBy | InWarehouse | Via


@dataclass(frozen=True)
class WriteRule:
    """Which rows a role may write, and which columns (None: all of them)."""

    scope: Scope
    columns: frozenset[str] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    kind: Kind
    columns: tuple[Column, ...]
    read: Mapping[Role, Scope] = field(default_factory=dict)
    write: Mapping[Role, WriteRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: duplicate column")
        object.__setattr__(self, "_by_name", MappingProxyType({c.name: c for c in self.columns}))

    @property
    def by_name(self) -> Mapping[str, Column]:
        return self._by_name  # type: ignore[attr-defined,no-any-return]

    @property
    def cell_names(self) -> tuple[str, ...]:
        """Every register a change may write: the columns, plus the tombstone for lww tables."""
        names = tuple(c.name for c in self.columns)
        return (*names, DELETED) if self.kind is Kind.LWW else names

    def column(self, name: str) -> Column | None:
        if name == DELETED and self.kind is Kind.LWW:
            return _DELETED_COLUMN
        return self.by_name.get(name)

    def read_scope(self, role: Role) -> Scope:
        if role is Role.BACKOFFICE:
            return Everyone()
        return self.read.get(role, Nobody())

    def write_rule(self, role: Role) -> WriteRule | None:
        if role is Role.BACKOFFICE:
            return _BACKOFFICE_WRITES
        return self.write.get(role)


_DELETED_COLUMN = Column(DELETED, ColType.BOOL)
_BACKOFFICE_WRITES = WriteRule(Everyone())


def table(name: str, kind: Kind, *columns: Column, read: dict[Role, Scope] | None = None,
          write: dict[Role, WriteRule] | None = None) -> Table:
    return Table(name, kind, tuple(columns), MappingProxyType(read or {}), MappingProxyType(write or {}))


def _c(name: str, type_: ColType = ColType.TEXT, *, choices: tuple[str, ...] = (),
       states: tuple[str, ...] = (), required: bool = False) -> Column:
    return Column(name, type_, choices=choices or states, states=states, required=required)


ID, DEC, DATE, BOOL, INT = ColType.ID, ColType.DECIMAL, ColType.DATE, ColType.BOOL, ColType.INT
S, W = Role.SALES, Role.WAREHOUSE

SALES_ORDER_STATES = ("draft", "submitted", "confirmed", "scheduled", "in_production",
                      "ready", "shipped", "delivered", "cancelled")
TASK_STATES = ("open", "picking", "done", "cancelled")
RECEIPT_STATES = ("expected", "receiving", "received", "closed")
LOT_RULES = ("lot_for_lot", "min", "multiple")
STOCK_MOVE_KINDS = ("receipt", "issue", "delivery", "count", "production_in", "production_out")

TABLES: tuple[Table, ...] = (
    table("warehouse", Kind.LWW, _c("code"), _c("name"),
          read={S: Everyone(), W: Everyone()}),
    table("product", Kind.LWW,
          _c("sku"), _c("name"), _c("barcode"), _c("uom"),
          _c("kind", choices=("make", "buy", "subcontract")),
          _c("lead_time_days", INT), _c("safety_stock", DEC), _c("standard_cost", DEC),
          _c("lot_rule", choices=LOT_RULES), _c("lot_qty", DEC),
          read={S: Everyone(), W: Everyone()}),
    table("product_price", Kind.LWW,
          _c("product_id", ID), _c("unit_price", DEC), _c("currency"), _c("valid_from", DATE),
          read={S: Everyone()}),
    table("stock_level", Kind.LWW,  # written by the server: availability a rep can quote offline
          _c("product_id", ID), _c("warehouse_id", ID), _c("on_hand", DEC),
          _c("available", DEC), _c("buildable", DEC),
          read={S: Everyone(), W: InWarehouse("warehouse_id")}),
    table("customer", Kind.LWW,
          _c("name"), _c("phone"), _c("address"), _c("owner"), _c("code"),
          read={S: OwnedBy("owner")},
          write={S: WriteRule(OwnedBy("owner"))}),
    table("sales_order", Kind.LWW,
          _c("number"), _c("customer_id", ID), _c("warehouse_id", ID), _c("due_date", DATE),
          _c("status", states=SALES_ORDER_STATES), _c("owner"),
          read={S: OwnedBy("owner")},
          write={S: WriteRule(OwnedBy("owner"))}),
    table("sales_order_line", Kind.LWW,
          _c("order_id", ID), _c("product_id", ID), _c("qty", DEC), _c("unit_price", DEC),
          read={S: Via("order_id", "sales_order")},
          write={S: WriteRule(Via("order_id", "sales_order"))}),
    table("stock_move", Kind.LEDGER,
          _c("product_id", ID, required=True), _c("warehouse_id", ID, required=True),
          _c("qty", DEC, required=True), _c("kind", choices=STOCK_MOVE_KINDS, required=True),
          _c("ref"), _c("reason"),
          read={W: InWarehouse("warehouse_id")},
          write={W: WriteRule(InWarehouse("warehouse_id"))}),
    table("delivery_task", Kind.LWW,
          _c("order_id", ID), _c("warehouse_id", ID), _c("due_date", DATE),
          _c("status", states=TASK_STATES),
          read={W: InWarehouse("warehouse_id")},
          write={W: WriteRule(InWarehouse("warehouse_id"), frozenset({"status"}))}),
    # an expected receipt: one row per purchase order line, keyed by the line's id (server-written)
    table("purchase_receipt", Kind.LWW,
          _c("po_number"), _c("product_id", ID), _c("warehouse_id", ID),
          _c("qty_expected", DEC), _c("due_date", DATE),
          _c("status", states=RECEIPT_STATES),
          _c("supplier_name"), _c("qty_received", DEC),
          read={W: InWarehouse("warehouse_id")},
          write={W: WriteRule(InWarehouse("warehouse_id"), frozenset({"status"}))}),
    # goods received against a purchase receipt, with quality inspection; checked at push time
    table("goods_receipt", Kind.LEDGER,
          _c("receipt_id", ID, required=True), _c("product_id", ID, required=True),
          _c("warehouse_id", ID, required=True), _c("qty_accepted", DEC, required=True),
          _c("qty_rejected", DEC), _c("reject_reason"), _c("ref"),
          read={W: InWarehouse("warehouse_id")},
          write={W: WriteRule(InWarehouse("warehouse_id"))}),
)

REGISTRY: Mapping[str, Table] = MappingProxyType({t.name: t for t in TABLES})
