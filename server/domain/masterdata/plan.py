"""What an import writes: checked rows and the stored state in, writes and per-file counts out.

Pure: the importer loads :class:`Stored` (the rows the files may touch, by natural key), and this
module decides, row by row, whether the row is new (a fresh UUIDv7 id), changed (only the
changed cells are written, under the stored id) or unchanged (nothing is written). So importing
the same files twice writes nothing the second time: no new versions, no stock moves, nothing
sent to devices again. Rows stored but absent from a file are left alone (an import never
deletes).

Synced tables become :class:`ServerWrite` s (``write_as_server`` stamps them); the server-only
master tables become plain inserts and updates. The plan also names the products whose stock
availability (``stock_level``) the importer must recompute afterwards.

Choices where PLANNING.md is silent (docs/import.md repeats them for users):

- a new sales order is ``confirmed``, owned by its customer's owner; a re-import updates its
  customer, warehouse, due date and owner but never its status (devices move that forward);
- a new sales order line takes its unit price from the product's price list (the
  ``product_price`` with the latest ``valid_from`` on or before the due date), if there is one;
- stock.csv is a count: a ``count`` stock move is written only when the counted quantity differs
  from the quantity on hand (zero when the product has no moves there);
- a new purchase order line is ``open`` with nothing received; a new production order is
  ``released`` (it is an order the company has already given); a re-import never changes
  either status nor the quantity received;
- a stored row with the same key that was deleted (``_deleted``) is revived.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from server.domain.masterdata.specs import FILES
from server.domain.masterdata.validate import Known, ParsedFile
from server.domain.planning.model import BomLine
from server.domain.sync.server_writes import ServerWrite
from shared.values import to_wire

__all__ = ["IMPORT_REF", "Counts", "Plan", "Stored", "plan_import"]

IMPORT_REF = "import: stock.csv"  # the ref of the count moves an import writes
NEW_ORDER_STATUS = "confirmed"
ZERO = Decimal(0)

StoredRow = dict[str, Any]  # a stored row's columns by name, with its "id"


@dataclass
class Stored:
    """The stored rows an import may touch, by natural key (a live row is preferred over a
    deleted one with the same key)."""

    warehouses: dict[str, StoredRow] = field(default_factory=dict)  # code ->
    products: dict[str, StoredRow] = field(default_factory=dict)  # sku ->
    customers: dict[str, StoredRow] = field(default_factory=dict)  # code ->
    sales_orders: dict[str, StoredRow] = field(default_factory=dict)  # number ->
    sales_lines: dict[tuple[str, str], StoredRow] = field(default_factory=dict)  # (order id, product id) ->
    prices: dict[str, list[tuple[dt.date | None, Decimal]]] = field(default_factory=dict)  # product id ->
    on_hand: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (product id, warehouse id) ->
    suppliers: dict[str, StoredRow] = field(default_factory=dict)  # code ->
    bom: dict[tuple[str, str], StoredRow] = field(default_factory=dict)  # (parent id, component id) ->
    price_agreements: dict[tuple[Any, ...], StoredRow] = field(default_factory=dict)
    forecasts: dict[tuple[Any, ...], StoredRow] = field(default_factory=dict)  # (product, warehouse, date) ->
    purchase_lines: dict[tuple[str, str], StoredRow] = field(default_factory=dict)  # (number, product id) ->
    production_orders: dict[str, StoredRow] = field(default_factory=dict)  # number ->

    def known(self) -> Known:
        """The keys and BOM lines the files may refer to: live rows only."""
        live_products = {sku: r for sku, r in self.products.items() if not r.get("_deleted")}
        sku_of = {r["id"]: sku for sku, r in live_products.items()}
        bom: dict[str, list[BomLine]] = {}
        for (parent_id, component_id), r in self.bom.items():
            parent, component = sku_of.get(parent_id), sku_of.get(component_id)
            if parent is not None and component is not None:
                bom.setdefault(parent, []).append(BomLine(parent, component, r["qty_per"], r["scrap_pct"]))
        return Known(
            keys={
                "warehouses.csv": frozenset(c for c, r in self.warehouses.items() if not r.get("_deleted")),
                "products.csv": frozenset(live_products),
                "customers.csv": frozenset(c for c, r in self.customers.items() if not r.get("_deleted")),
                "suppliers.csv": frozenset(self.suppliers),
            },
            kinds={sku: r["kind"] for sku, r in live_products.items() if r.get("kind")},
            bom={p: tuple(lines) for p, lines in bom.items()},
            barcodes={r["barcode"]: sku for sku, r in live_products.items() if r.get("barcode")},
        )


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, outcome: str) -> None:
        self.rows += 1
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass
class Plan:
    synced: dict[str, list[ServerWrite]] = field(default_factory=dict)  # by file, in load order
    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by server-only table
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by table: "id" + changed columns
    counts: dict[str, Counts] = field(default_factory=dict)  # by file
    ids: dict[str, dict[Any, str]] = field(default_factory=dict)  # file -> key -> row id
    # what stock availability (stock_level) must be recomputed for afterwards
    touched_products: set[str] = field(default_factory=set)  # ids whose stock, BOM, sales or kind changed
    touched_orders: set[str] = field(default_factory=set)  # sales order ids whose header changed
    new_warehouses: bool = False  # a warehouse was added or changed: every product needs its rows

    @property
    def writes(self) -> int:
        return (sum(len(w) for w in self.synced.values()) + sum(len(r) for r in self.inserts.values())
                + sum(len(r) for r in self.updates.values()))


def _same(stored: Any, new: Any) -> bool:
    if stored is None or new is None:
        return stored is None and new is None
    return bool(stored == new)  # decimals by value: 4.2 and 4.20 are the same price


def _changed(stored: StoredRow, vals: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in vals.items() if not _same(stored.get(k), v)}


class _Planner:
    def __init__(self, files: Mapping[str, ParsedFile], stored: Stored, new_id: Callable[[], str],
                 now: dt.datetime) -> None:
        self.files = files
        self.stored = stored
        self.new_id = new_id
        self.now = now
        self.plan = Plan()
        customers = files.get("customers.csv")
        self.owners = {r["code"]: r["owner"] for r in customers.rows} if customers is not None else {}

    # ---- shared steps ---------------------------------------------------------------------

    def _count(self, file: str, outcome: str) -> None:
        self.plan.counts.setdefault(file, Counts()).add(outcome)

    def _id(self, file: str, key: Any, stored: Mapping[Any, StoredRow]) -> str:
        """The id of the row ``key`` names: the one this import writes, else the stored one."""
        got = self.plan.ids.get(file, {}).get(key)
        if got is None:
            got = stored[key]["id"]
        return got

    def _synced(self, file: str, table: str, stored: StoredRow | None, vals: dict[str, Any],
                on_create: Mapping[str, Any] | None = None) -> tuple[str, str]:
        """Write a synced row's changed cells; returns its id and the outcome."""
        if stored is None:
            pk, cells, outcome = self.new_id(), {**vals, **(on_create or {})}, "created"
        else:
            pk, cells = stored["id"], _changed(stored, vals)
            if stored.get("_deleted"):
                cells["_deleted"] = False
            outcome = "updated" if cells else "unchanged"
        if cells:
            wire = {k: to_wire(v) for k, v in cells.items()}
            self.plan.synced.setdefault(file, []).append(ServerWrite(table, pk, wire))
        return pk, outcome

    def _plain(self, table: str, stored: StoredRow | None, vals: dict[str, Any],
               on_create: Mapping[str, Any] | None = None) -> tuple[str, str]:
        """Insert or update a server-only row; returns its id and the outcome."""
        if stored is None:
            pk = self.new_id()
            self.plan.inserts.setdefault(table, []).append({"id": pk, **vals, **(on_create or {})})
            return pk, "created"
        changed = _changed(stored, vals)
        if not changed:
            return stored["id"], "unchanged"
        self.plan.updates.setdefault(table, []).append({"id": stored["id"], **changed})
        return stored["id"], "updated"

    # ---- synced files ---------------------------------------------------------------------

    def warehouses(self, f: ParsedFile) -> None:
        ids = self.plan.ids.setdefault(f.name, {})
        for r in f.rows:
            ids[r["code"]], outcome = self._synced(f.name, "warehouse", self.stored.warehouses.get(r["code"]),
                                                   dict(r.values))
            self._count(f.name, outcome)
            self.plan.new_warehouses |= outcome != "unchanged"

    def products(self, f: ParsedFile) -> None:
        ids = self.plan.ids.setdefault(f.name, {})
        for r in f.rows:
            ids[r["sku"]], outcome = self._synced(f.name, "product", self.stored.products.get(r["sku"]),
                                                  dict(r.values))
            self._count(f.name, outcome)
            if outcome != "unchanged":
                self.plan.touched_products.add(ids[r["sku"]])

    def customers(self, f: ParsedFile) -> None:
        ids = self.plan.ids.setdefault(f.name, {})
        for r in f.rows:
            ids[r["code"]], outcome = self._synced(f.name, "customer", self.stored.customers.get(r["code"]),
                                                   dict(r.values))
            self._count(f.name, outcome)

    def _product_id(self, sku: str) -> str:
        return self._id("products.csv", sku, self.stored.products)

    def _warehouse_id(self, code: str) -> str:
        return self._id("warehouses.csv", code, self.stored.warehouses)

    def _supplier_id(self, code: str) -> str:
        return self._id("suppliers.csv", code, self.stored.suppliers)

    def _owner(self, customer: str) -> str | None:
        if customer in self.owners:
            return self.owners[customer]  # type: ignore[no-any-return]
        return self.stored.customers[customer].get("owner")

    def _price(self, product_id: str, on: dt.date) -> Decimal | None:
        valid = [(d or dt.date.min, p) for d, p in self.stored.prices.get(product_id, ()) if d is None or d <= on]
        return max(valid)[1] if valid else None

    def sales_orders(self, f: ParsedFile) -> None:
        ids = self.plan.ids.setdefault(f.name, {})
        for r in f.rows:
            number = r["number"]
            header_outcome = None
            if number not in ids:
                customer = r["customer"]
                vals = {"number": number, "customer_id": self._id("customers.csv", customer, self.stored.customers),
                        "warehouse_id": self._warehouse_id(r["warehouse"]), "due_date": r["due_date"],
                        "owner": self._owner(customer)}
                ids[number], header_outcome = self._synced(f.name, "sales_order", self.stored.sales_orders.get(number),
                                                           vals, {"status": NEW_ORDER_STATUS})
                if header_outcome != "unchanged":
                    self.plan.touched_orders.add(ids[number])
            order_id, product_id = ids[number], self._product_id(r["sku"])
            stored_line = self.stored.sales_lines.get((order_id, product_id))
            on_create: dict[str, Any] = {}
            if stored_line is None:
                price = self._price(product_id, r["due_date"])
                if price is not None:
                    on_create["unit_price"] = price
            _, outcome = self._synced(f.name, "sales_order_line", stored_line,
                                      {"order_id": order_id, "product_id": product_id, "qty": r["qty"]}, on_create)
            if outcome != "unchanged":
                self.plan.touched_products.add(product_id)
            if outcome == "unchanged" and header_outcome == "updated":
                outcome = "updated"  # the order's header changed: shown on its first line
            self._count(f.name, outcome)

    def stock(self, f: ParsedFile) -> None:
        for r in f.rows:
            pair = (self._product_id(r["sku"]), self._warehouse_id(r["warehouse"]))
            current = self.stored.on_hand.get(pair)
            if r["qty"] == (current if current is not None else ZERO):
                self._count(f.name, "unchanged")
                continue
            self.plan.synced.setdefault(f.name, []).append(ServerWrite("stock_move", self.new_id(), {
                "product_id": pair[0], "warehouse_id": pair[1], "qty": to_wire(r["qty"]), "kind": "count",
                "ref": IMPORT_REF}))
            self.plan.touched_products.add(pair[0])
            self._count(f.name, "created" if current is None else "updated")

    # ---- server-only files ----------------------------------------------------------------

    def suppliers(self, f: ParsedFile) -> None:
        ids = self.plan.ids.setdefault(f.name, {})
        for r in f.rows:
            ids[r["code"]], outcome = self._plain("supplier", self.stored.suppliers.get(r["code"]), dict(r.values))
            self._count(f.name, outcome)

    def bom(self, f: ParsedFile) -> None:
        for r in f.rows:
            parent, component = self._product_id(r["parent_sku"]), self._product_id(r["component_sku"])
            _, outcome = self._plain("bom_line", self.stored.bom.get((parent, component)), {
                "parent_id": parent, "component_id": component, "qty_per": r["qty_per"],
                "scrap_pct": r["scrap_pct"]})
            if outcome != "unchanged":
                self.plan.touched_products |= {parent, component}
            self._count(f.name, outcome)

    def price_agreements(self, f: ParsedFile) -> None:
        for r in f.rows:
            supplier, product = self._supplier_id(r["supplier"]), self._product_id(r["sku"])
            key = (supplier, product, r["kind"], r["min_qty"], r["valid_from"])
            _, outcome = self._plain("price_agreement", self.stored.price_agreements.get(key), {
                "supplier_id": supplier, "product_id": product, "kind": r["kind"], "min_qty": r["min_qty"],
                "unit_price": r["unit_price"], "valid_from": r["valid_from"], "valid_to": r["valid_to"],
                "priority": r["priority"], "lead_time_days": r["lead_time_days"]})
            self._count(f.name, outcome)

    def forecasts(self, f: ParsedFile) -> None:
        for r in f.rows:
            product, wh = self._product_id(r["sku"]), self._warehouse_id(r["warehouse"])
            _, outcome = self._plain("forecast", self.stored.forecasts.get((product, wh, r["date"])), {
                "product_id": product, "warehouse_id": wh, "date": r["date"], "qty": r["qty"]})
            self._count(f.name, outcome)

    def purchase_orders(self, f: ParsedFile) -> None:
        for r in f.rows:
            product = self._product_id(r["sku"])
            _, outcome = self._plain("purchase_order_line", self.stored.purchase_lines.get((r["number"], product)), {
                "number": r["number"], "supplier_id": self._supplier_id(r["supplier"]), "product_id": product,
                "qty": r["qty"], "due_date": r["due_date"], "warehouse_id": self._warehouse_id(r["warehouse"])},
                {"status": "open", "qty_received": ZERO})
            self._count(f.name, outcome)

    def production_orders(self, f: ParsedFile) -> None:
        for r in f.rows:
            _, outcome = self._plain("production_order", self.stored.production_orders.get(r["number"]), {
                "number": r["number"], "product_id": self._product_id(r["sku"]), "qty": r["qty"],
                "due_date": r["due_date"], "warehouse_id": self._warehouse_id(r["warehouse"])},
                {"status": "released", "created_at": self.now})
            self._count(f.name, outcome)


def plan_import(files: Mapping[str, ParsedFile], stored: Stored, *, new_id: Callable[[], str],
                now: dt.datetime) -> Plan:
    """The writes that bring the database to the files, for files that passed every check."""
    planner = _Planner(files, stored, new_id, now)
    for spec in FILES:
        f = files.get(spec.name)
        if f is not None:
            planner.plan.counts.setdefault(spec.name, Counts())
            getattr(planner, spec.name.removesuffix(".csv"))(f)
    return planner.plan
