"""The demo company behind ``fieldsync serve --demo``: a small office-furniture maker loaded on a
fresh database, and one-time enrolment codes for three devices so a new user can try the apps at
once.

Every file of ``examples/demo-company`` (the CSV formats of PLANNING.md) is read and checked first;
a broken file fails with its name, line and column before anything is written. Only the parts
whose tables are synced today are loaded, in one write transaction through
:func:`write_as_server`: warehouses, products (plus a sales price per finished good), customers,
sales orders and their lines, and stock (an opening ``count`` move per row of stock.csv, and a
``stock_level`` row per product and warehouse). The BOM, suppliers, price agreements, forecasts
and open purchase and production orders are checked but not loaded yet: master data and
``fieldsync import`` come with a later issue. Ids are :func:`demo_id` (uuid5 of the natural key),
so a re-run, or that later import, names the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, NamedTuple

from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import Settings, load_settings
from server.db.engine import Database
from server.db.schema import sql_tables
from server.domain.sync.clock import ServerClock
from server.domain.sync.devices import BOOTSTRAP, create_device
from server.domain.sync.server_writes import ServerWrite, write_as_server
from shared.values import ColType, ValueError_, coerce
from sync.protocol import DeviceCreate, RoleName

__all__ = [
    "DEMO_DIR",
    "DemoDataError",
    "DemoDevice",
    "DemoResult",
    "demo_id",
    "load_demo",
    "print_demo",
    "read_company",
]

DEMO_DIR = Path(__file__).resolve().parent.parent / "examples" / "demo-company"
NAMESPACE = uuid.UUID("6f1d2c8e-5b7a-4c39-9e0d-3a4f8b2c1d57")  # fixed forever: ids derive from it
PRICE_MARKUP = Decimal("1.6")  # a finished good's sales price: standard cost x 1.6, to the cent
PRICE_CURRENCY = "EUR"
PRICE_VALID_FROM = "2026-01-01"
OPENING_COUNT_REF = "demo: opening stock count"


def demo_id(kind: str, *key: str) -> str:
    """The id of a row from its natural key, e.g. ``demo_id("product", "FG-DESK-140")``."""
    return str(uuid.uuid5(NAMESPACE, ":".join((kind, *key))))


class DemoDataError(ValueError):
    """A demo file that does not fit its format; the message names file, line and column."""


# ---- reading and checking the files -----------------------------------------------------------

Parse = Callable[[str], Any]


def _dec(minimum: Decimal | None = None, *, above: bool = False) -> Parse:
    def parse(raw: str) -> Decimal:
        value: Decimal = coerce(ColType.DECIMAL, raw)
        if minimum is not None and (value <= minimum if above else value < minimum):
            raise ValueError_(f"must be {'above' if above else 'at least'} {minimum}, got {raw}")
        return value
    return parse


def _int(minimum: int) -> Parse:
    def parse(raw: str) -> int:
        if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
            raise ValueError_(f"expected a whole number of at least {minimum}, got {raw!r}")
        return int(raw)
    return parse


def _date(raw: str) -> dt.date:
    return coerce(ColType.DATE, raw)  # type: ignore[no-any-return]


def _choice(*choices: str) -> Parse:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError_(f"expected one of {', '.join(choices)}, got {raw!r}")
        return raw
    return parse


def _bool(raw: str) -> bool:
    return bool(_choice("true", "false")(raw) == "true")


def _barcode(raw: str) -> str:
    """A GS1 code (EAN-8, UPC-A, EAN-13, GTIN-14) with a valid check digit."""
    if not raw.isdigit() or len(raw) not in (8, 12, 13, 14):
        raise ValueError_(f"expected an EAN/UPC barcode of 8, 12, 13 or 14 digits, got {raw!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(raw[:-1])))
    if (10 - total % 10) % 10 != int(raw[-1]):
        raise ValueError_(f"barcode {raw} has a wrong check digit")
    return raw


def _text(raw: str) -> str:
    return coerce(ColType.TEXT, raw)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Col:
    name: str
    parse: Parse = _text
    required: bool = True
    ref: str | None = None  # the file whose key this column must name
    default: Any = None


@dataclass(frozen=True)
class FileSpec:
    name: str
    cols: tuple[Col, ...]
    key: tuple[str, ...]  # unique per file


def _cols(*cols: Col | str) -> tuple[Col, ...]:
    return tuple(Col(c) if isinstance(c, str) else c for c in cols)


_NONNEG, _POS = _dec(Decimal(0)), _dec(Decimal(0), above=True)
_SKU, _WH = Col("sku", ref="products.csv"), Col("warehouse", ref="warehouses.csv")

# in reading order: a file is read after every file it refers to
FILES: tuple[FileSpec, ...] = (
    FileSpec("warehouses.csv", _cols("code", "name"), ("code",)),
    FileSpec("products.csv", _cols(
        "sku", "name", "uom", Col("kind", _choice("make", "buy", "subcontract")),
        Col("lead_time_days", _int(0)), Col("safety_stock", _NONNEG),
        Col("lot_rule", _choice("lot_for_lot", "min", "multiple")),
        Col("lot_qty", _POS, required=False), Col("barcode", _barcode, required=False),
        Col("standard_cost", _NONNEG)), ("sku",)),
    FileSpec("bom.csv", _cols(Col("parent_sku", ref="products.csv"), Col("component_sku", ref="products.csv"),
                              Col("qty_per", _POS), Col("scrap_pct", _NONNEG, required=False, default=Decimal(0))),
             ("parent_sku", "component_sku")),
    FileSpec("stock.csv", _cols(_SKU, _WH, Col("qty", _NONNEG)), ("sku", "warehouse")),
    FileSpec("suppliers.csv", _cols("code", "name", Col("capacity_per_week", _POS, required=False),
                                    Col("blocked", _bool, required=False, default=False)), ("code",)),
    FileSpec("price_agreements.csv", _cols(
        Col("supplier", ref="suppliers.csv"), _SKU, Col("kind", _choice("purchase", "subcontract")),
        Col("min_qty", _NONNEG), Col("unit_price", _NONNEG), Col("valid_from", _date, required=False),
        Col("valid_to", _date, required=False), Col("priority", _int(1)),
        Col("lead_time_days", _int(0), required=False)), ("supplier", "sku", "kind", "min_qty", "valid_from")),
    FileSpec("customers.csv", _cols("code", "name", "owner", Col("phone", required=False),
                                    Col("address", required=False)), ("code",)),
    FileSpec("sales_orders.csv", _cols("number", Col("customer", ref="customers.csv"), _SKU, Col("qty", _POS),
                                       Col("due_date", _date), _WH), ("number", "sku")),
    FileSpec("forecasts.csv", _cols(_SKU, _WH, Col("date", _date), Col("qty", _POS)), ("sku", "warehouse", "date")),
    FileSpec("purchase_orders.csv", _cols("number", Col("supplier", ref="suppliers.csv"), _SKU, Col("qty", _POS),
                                          Col("due_date", _date), _WH), ("number", "sku")),
    FileSpec("production_orders.csv", _cols("number", _SKU, Col("qty", _POS), Col("due_date", _date), _WH),
             ("number",)),
)
REQUIRED_FILES = ("warehouses.csv", "products.csv")

Row = dict[str, Any]  # typed values by column, plus "_line"


def _read_file(path: Path, spec: FileSpec, keys: dict[str, set[str]]) -> list[Row]:
    def fail(line: int, msg: str, col: str | None = None) -> DemoDataError:
        where = f"{path}: line {line}" + (f", column {col}" if col else "")
        return DemoDataError(f"{where}: {msg}")

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DemoDataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise fail(1, "the file is empty; it needs a header row")
        names = [c.name for c in spec.cols]
        extra = [h for h in header if h not in names]
        missing = [n for n in names if n not in header]
        if extra or missing or len(set(header)) != len(header):
            problems = ([f"unknown columns {', '.join(extra)}"] if extra else []) + \
                       ([f"missing columns {', '.join(missing)}"] if missing else []) + \
                       (["a column is named twice"] if len(set(header)) != len(header) else [])
            raise fail(1, f"{'; '.join(problems)} (expected {', '.join(names)})")
        rows: list[Row] = []
        seen: dict[tuple[Any, ...], int] = {}
        for raw in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in raw):
                continue  # a blank line
            if len(raw) != len(header):
                raise fail(line, f"{len(raw)} cells, but the header has {len(header)}")
            cells = dict(zip(header, (c.strip() for c in raw), strict=True))
            row: Row = {"_line": line}
            for col in spec.cols:
                value = cells[col.name]
                if value == "":
                    if col.required:
                        raise fail(line, "a value is required", col.name)
                    row[col.name] = col.default
                    continue
                try:
                    row[col.name] = col.parse(value)
                except ValueError_ as exc:
                    raise fail(line, str(exc), col.name) from None
                if col.ref is not None and value not in keys.get(col.ref, set()):
                    raise fail(line, f"{value!r} is not in {col.ref}", col.name)
            key = tuple(row[k] for k in spec.key)
            if key in seen:
                raise fail(line, f"{'/'.join(map(str, key))} is already on line {seen[key]}")
            seen[key] = line
            rows.append(row)
    except csv.Error as exc:
        raise fail(reader.line_num, f"not valid CSV: {exc}") from None
    return rows


@dataclass
class Company:
    """The checked contents of a company folder: rows per file name (absent files: no key)."""

    folder: Path
    files: dict[str, list[Row]] = field(default_factory=dict)

    def rows(self, name: str) -> list[Row]:
        return self.files.get(name, [])


def read_company(folder: Path) -> Company:
    """Read and check every known file in ``folder``; raise :class:`DemoDataError` on the first fault."""
    if not folder.is_dir():
        raise DemoDataError(f"{folder}: no such folder")
    company = Company(folder)
    keys: dict[str, set[str]] = {}
    for spec in FILES:
        path = folder / spec.name
        if not path.exists():
            if spec.name in REQUIRED_FILES:
                raise DemoDataError(f"{path}: missing")
            continue
        rows = _read_file(path, spec, keys)
        company.files[spec.name] = rows
        if len(spec.key) == 1:
            keys[spec.name] = {r[spec.key[0]] for r in rows}
    _check_across(company)
    return company


def _check_across(company: Company) -> None:
    """Rules that span cells or rows: lot sizes, BOM parents, validity, one header per sales order."""
    def fail(name: str, row: Row, msg: str) -> DemoDataError:
        return DemoDataError(f"{company.folder / name}: line {row['_line']}: {msg}")

    kinds = {}
    for p in company.rows("products.csv"):
        kinds[p["sku"]] = p["kind"]
        if p["lot_rule"] != "lot_for_lot" and p["lot_qty"] is None:
            raise fail("products.csv", p, f"lot_rule {p['lot_rule']} needs a lot_qty")
    for b in company.rows("bom.csv"):
        if kinds[b["parent_sku"]] == "buy":
            raise fail("bom.csv", b, f"{b['parent_sku']} is bought; only make and subcontract items have a BOM")
        if b["parent_sku"] == b["component_sku"]:
            raise fail("bom.csv", b, f"{b['parent_sku']} cannot be its own component")
    for pa in company.rows("price_agreements.csv"):
        if pa["valid_from"] and pa["valid_to"] and pa["valid_to"] < pa["valid_from"]:
            raise fail("price_agreements.csv", pa, "valid_to is before valid_from")
    headers: dict[str, Row] = {}
    for so in company.rows("sales_orders.csv"):
        first = headers.setdefault(so["number"], so)
        for col in ("customer", "due_date", "warehouse"):
            if so[col] != first[col]:
                raise fail("sales_orders.csv", so, f"order {so['number']} has {col} {first[col]} on line "
                                                   f"{first['_line']} but {so[col]} here")


# ---- what the loaded company becomes ------------------------------------------------------------


def sales_price(standard_cost: Decimal) -> Decimal:
    return (standard_cost * PRICE_MARKUP).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def plan_writes(company: Company) -> tuple[list[ServerWrite], dict[str, int]]:
    """The server writes that load ``company``, and how many rows each synced table gets."""
    writes: list[ServerWrite] = []
    wh_id = {w["code"]: demo_id("warehouse", w["code"]) for w in company.rows("warehouses.csv")}
    for w in company.rows("warehouses.csv"):
        writes.append(ServerWrite("warehouse", wh_id[w["code"]], {"code": w["code"], "name": w["name"]}))

    products = company.rows("products.csv")
    components = {b["component_sku"] for b in company.rows("bom.csv")}
    prod_id = {p["sku"]: demo_id("product", p["sku"]) for p in products}
    price = {p["sku"]: sales_price(p["standard_cost"]) for p in products}
    for p in products:
        writes.append(ServerWrite("product", prod_id[p["sku"]], {
            "sku": p["sku"], "name": p["name"], "barcode": p["barcode"], "uom": p["uom"], "kind": p["kind"],
            "lead_time_days": p["lead_time_days"], "safety_stock": str(p["safety_stock"]),
            "standard_cost": str(p["standard_cost"])}))
        if p["kind"] == "make" and p["sku"] not in components:  # a finished good: it is sold
            writes.append(ServerWrite("product_price", demo_id("product_price", p["sku"]), {
                "product_id": prod_id[p["sku"]], "unit_price": str(price[p["sku"]]),
                "currency": PRICE_CURRENCY, "valid_from": PRICE_VALID_FROM}))

    owner = {}
    for c in company.rows("customers.csv"):
        owner[c["code"]] = c["owner"]
        writes.append(ServerWrite("customer", demo_id("customer", c["code"]), {
            "name": c["name"], "phone": c["phone"], "address": c["address"], "owner": c["owner"]}))

    open_qty: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    orders: set[str] = set()
    for so in company.rows("sales_orders.csv"):  # one order, several lines: grouped by number
        order_id = demo_id("sales_order", so["number"])
        if so["number"] not in orders:
            orders.add(so["number"])
            writes.append(ServerWrite("sales_order", order_id, {
                "number": so["number"], "customer_id": demo_id("customer", so["customer"]),
                "warehouse_id": wh_id[so["warehouse"]], "due_date": so["due_date"].isoformat(),
                "status": "confirmed", "owner": owner[so["customer"]]}))
        writes.append(ServerWrite("sales_order_line", demo_id("sales_order_line", so["number"], so["sku"]), {
            "order_id": order_id, "product_id": prod_id[so["sku"]], "qty": str(so["qty"]),
            "unit_price": str(price[so["sku"]])}))
        open_qty[(so["sku"], so["warehouse"])] += so["qty"]

    counted: dict[tuple[str, str], Decimal] = {}
    for s in company.rows("stock.csv"):
        counted[(s["sku"], s["warehouse"])] = s["qty"]
        writes.append(ServerWrite("stock_move", demo_id("stock_move", "opening", s["sku"], s["warehouse"]), {
            "product_id": prod_id[s["sku"]], "warehouse_id": wh_id[s["warehouse"]], "qty": str(s["qty"]),
            "kind": "count", "ref": OPENING_COUNT_REF}))
    for p in products:
        for code in wh_id:
            on_hand = counted.get((p["sku"], code), Decimal(0))
            available = max(on_hand - open_qty[(p["sku"], code)], Decimal(0))
            writes.append(ServerWrite("stock_level", demo_id("stock_level", p["sku"], code), {
                "product_id": prod_id[p["sku"]], "warehouse_id": wh_id[code],
                "on_hand": str(on_hand), "available": str(available)}))

    counts: dict[str, int] = defaultdict(int)
    for sw in writes:
        counts[sw.table] += 1
    return writes, dict(counts)


# ---- loading, and the devices to try it with ------------------------------------------------------


class DemoDevice(NamedTuple):
    role: str
    user: str
    warehouse: str | None  # the warehouse's code
    device_id: str
    enrolment_code: str


@dataclass(frozen=True)
class DemoResult:
    loaded: dict[str, int]  # rows written per synced table; empty when demo data was already there
    devices: list[DemoDevice]
    folder: Path = DEMO_DIR
    code_ttl_s: int = 0

    @property
    def already_present(self) -> bool:
        return not self.loaded


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
    even then, so a broken demo folder always fails loudly. BOM, suppliers, price agreements,
    forecasts and open purchase and production orders are not loaded yet (no synced tables hold
    them; master data and ``fieldsync import`` come later).
    """
    company = read_company(folder)
    settings = settings or load_settings()
    clock = clock or ServerClock()
    loaded: dict[str, int] = {}
    async with db.write() as conn:
        # checked in the write transaction, so two starting servers cannot both load (SQLite); on
        # PostgreSQL both might, which is harmless: the ids are fixed and the values the same
        if not await _has_warehouses(conn):
            writes, loaded = plan_writes(company)
            await write_as_server(conn, clock, writes)

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
    return DemoResult(loaded, devices, folder, settings.enrolment_code_ttl_s)


_LABELS = (("warehouse", "warehouses"), ("product", "products"), ("product_price", "prices"),
           ("customer", "customers"), ("sales_order", "sales orders"), ("sales_order_line", "order lines"),
           ("stock_move", "stock counts"), ("stock_level", "stock levels"))


def summary(result: DemoResult) -> str:
    if result.already_present:
        return "Demo data already present: nothing loaded, only fresh enrolment codes made."
    parts = [f"{result.loaded[t]} {label}" for t, label in _LABELS if result.loaded.get(t)]
    return f"Loaded the demo company from {result.folder}: " + ", ".join(parts) + "."


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
