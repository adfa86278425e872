"""The demo company behind ``fieldsync serve --demo``: a small office-furniture maker loaded on a
fresh database, and one-time enrolment codes for three devices so a new user can try the apps at
once.

The company is ``examples/demo-company`` (the CSV files of PLANNING.md), loaded by the importer
(``server.domain.masterdata``), the same path as ``fieldsync import``: every file is checked
first, and a broken file fails with its file, line and column before anything is written. The
import also fills ``stock_level`` (on hand, available, buildable per product and warehouse). In
the same transaction the demo adds what the files cannot say and a rep wants to quote offline: a
sales price per finished good (standard cost x 1.6, to the cent), which the demo's order lines
take. Data is loaded only on a database without warehouses; devices and their codes are made on
every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, NamedTuple

import uuid_utils
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import Settings, load_settings
from server.db.engine import Database
from server.db.schema import sql_tables
from server.domain.masterdata.importer import (
    ImportRejected,
    ImportResult,
    import_parsed,
    lock_imports,
    parse_texts,
    read_folder,
)
from server.domain.masterdata.validate import ParsedFile
from server.domain.sync.clock import ServerClock
from server.domain.sync.devices import BOOTSTRAP, create_device
from server.domain.sync.server_writes import ServerWrite, write_as_server
from sync.protocol import DeviceCreate, RoleName

__all__ = [
    "DEMO_DIR",
    "DemoDevice",
    "DemoResult",
    "ImportRejected",
    "load_demo",
    "print_demo",
    "sales_price",
]

DEMO_DIR = Path(__file__).resolve().parent.parent / "examples" / "demo-company"
PRICE_MARKUP = Decimal("1.6")  # a finished good's sales price: standard cost x 1.6, to the cent
PRICE_CURRENCY = "EUR"
PRICE_VALID_FROM = "2026-01-01"


def sales_price(standard_cost: Decimal) -> Decimal:
    return (standard_cost * PRICE_MARKUP).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _new_id() -> str:
    return str(uuid_utils.uuid7())


# ---- what the demo adds to the import ------------------------------------------------------------


async def _extras(conn: AsyncConnection, files: Mapping[str, ParsedFile], ids: Mapping[str, Mapping[Any, str]]
                  ) -> list[ServerWrite]:
    """Sales prices of finished goods, and the demo's order lines at those prices."""
    def rows(name: str) -> list[Any]:
        return files[name].rows if name in files else []

    products = rows("products.csv")
    prod_id = ids.get("products.csv", {})
    components = {b["component_sku"] for b in rows("bom.csv")}
    writes: list[ServerWrite] = []
    price_of: dict[str, Decimal] = {}
    for p in products:
        if p["kind"] == "make" and p["sku"] not in components and p["standard_cost"] is not None:
            price_of[prod_id[p["sku"]]] = price = sales_price(p["standard_cost"])
            writes.append(ServerWrite("product_price", _new_id(), {
                "product_id": prod_id[p["sku"]], "unit_price": format(price, "f"), "currency": PRICE_CURRENCY,
                "valid_from": PRICE_VALID_FROM}))

    line = sql_tables["sales_order_line"]
    order_ids = list(ids.get("sales_orders.csv", {}).values())
    for r in await conn.execute(select(line.c.id, line.c.product_id).where(line.c.order_id.in_(order_ids))):
        if r.product_id in price_of:
            writes.append(ServerWrite("sales_order_line", r.id, {"unit_price": format(price_of[r.product_id], "f")}))

    return writes


# ---- loading, and the devices to try it with ------------------------------------------------------


class DemoDevice(NamedTuple):
    role: str
    user: str
    warehouse: str | None  # the warehouse's code
    device_id: str
    enrolment_code: str


@dataclass(frozen=True)
class DemoResult:
    imported: ImportResult | None  # None when demo data was already there
    devices: list[DemoDevice]
    folder: Path = DEMO_DIR
    code_ttl_s: int = 0
    extras: dict[str, int] = field(default_factory=dict)  # rows the demo added per synced table

    @property
    def already_present(self) -> bool:
        return self.imported is None


async def _has_warehouses(conn: AsyncConnection) -> bool:
    wh = sql_tables["warehouse"]
    return (await conn.execute(select(wh.c.id).limit(1))).first() is not None


async def _warehouse_by_code(db: Database, code: str) -> tuple[str, str] | None:
    """The live warehouse with ``code``, else the first live one by code (a database loaded by
    other means may lack the demo's WH1)."""
    wh = sql_tables["warehouse"]
    live = (wh.c._deleted.is_(None)) | (wh.c._deleted.is_(False))
    async with db.read() as conn:
        rows = (await conn.execute(select(wh.c.id, wh.c.code).where(live).order_by(wh.c.code, wh.c.id))).all()
    for row in rows:
        if row.code == code:
            return str(row.id), code
    return (str(rows[0].id), str(rows[0].code)) if rows else None


async def load_demo(db: Database, folder: Path = DEMO_DIR, *, settings: Settings | None = None,
                    clock: ServerClock | None = None) -> DemoResult:
    """Load the demo company on a database without warehouses, then create a sales device (alice),
    a warehouse device (WH1) and a back-office device, and return their one-time enrolment codes.

    A database that already has warehouses gets no data, only fresh codes. The files are checked
    even then, so a broken demo folder always fails loudly (:class:`ImportRejected`).
    """
    sources, _ = read_folder(folder)
    files, issues = parse_texts(sources)
    if issues:
        raise ImportRejected(issues)
    settings = settings or load_settings()
    clock = clock or ServerClock()
    imported: ImportResult | None = None
    extras: dict[str, int] = {}
    async with db.write() as conn:
        # under the import lock and in the write transaction, so two starting servers cannot both load
        await lock_imports(conn)
        if not await _has_warehouses(conn):
            imported = await import_parsed(conn, clock, files)
            writes = await _extras(conn, files, imported.ids)
            await conn.run_sync(write_as_server, clock, writes)
            for w in writes:
                extras[w.table] = extras.get(w.table, 0) + 1

    wanted: list[tuple[RoleName, str, str | None]] = [("sales", "alice", None), ("warehouse", "warehouse", "WH1"),
                                                 ("backoffice", "backoffice", None)]
    devices: list[DemoDevice] = []
    for role, user, wh_code in wanted:
        wh_id = None
        if wh_code is not None:
            found = await _warehouse_by_code(db, wh_code)
            if found is None:
                continue  # no live warehouse at all: no warehouse device
            wh_id, wh_code = found
        created = await create_device(db, settings, BOOTSTRAP, DeviceCreate(user=user, role=role, warehouse_id=wh_id))
        devices.append(DemoDevice(role, user, wh_code, created.device_id, created.enrolment_code))
    return DemoResult(imported, devices, folder, settings.enrolment_code_ttl_s, extras)


_LABELS = (("warehouses.csv", "warehouses"), ("products.csv", "products"), ("bom.csv", "BOM lines"),
           ("stock.csv", "stock counts"), ("suppliers.csv", "suppliers"),
           ("price_agreements.csv", "price agreements"), ("customers.csv", "customers"),
           ("sales_orders.csv", "sales order lines"), ("forecasts.csv", "forecasts"),
           ("purchase_orders.csv", "purchase order lines"), ("production_orders.csv", "production orders"))


def summary(result: DemoResult) -> str:
    if result.imported is None:
        return "Demo data already present: nothing loaded, only fresh enrolment codes made."
    created = {f.file: f.created for f in result.imported.files}
    parts = [f"{created[name]} {label}" for name, label in _LABELS if created.get(name)]
    extra = [f"{n} sales prices" for n in [result.extras.get("product_price")] if n]
    return f"Loaded the demo company from {result.folder}: " + ", ".join(parts + extra) + "."


def print_demo(console: Console, result: DemoResult) -> None:
    console.print(summary(result))
    table = Table(title="Demo devices: enter a code in the app to enrol it", box=box.SIMPLE_HEAD,
                  title_justify="left")
    table.add_column("role")
    table.add_column("user")
    table.add_column("warehouse")
    table.add_column("enrolment code", no_wrap=True, min_width=14, style="bold")
    table.add_column("device id", overflow="fold")
    for d in result.devices:
        table.add_row(d.role, d.user, d.warehouse or "", d.enrolment_code, d.device_id)
    console.print(table)
    if result.code_ttl_s:
        days = result.code_ttl_s / 86400
        ttl = f"{days:g} days" if days >= 1 else f"{result.code_ttl_s} seconds"
        console.print(f"Each code works once and expires in {ttl}.")
    if any(d.role == "backoffice" for d in result.devices):
        console.print("Back office: open /backoffice/ on this server in a browser and sign in with the "
                      "backoffice code.")
