"""The demo company: ``fieldsync serve --demo`` gives a living company on first start, and three
devices whose codes enrol and pull exactly their role's share of it."""

from __future__ import annotations

import csv
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from sqlalchemy import func, select

from server.db.engine import Database
from server.db.masterdata import MASTER_TABLES
from server.db.schema import device, sql_tables
from server.demo import DEMO_DIR, ImportRejected, load_demo, print_demo
from server.domain.masterdata.importer import parse_texts, read_folder
from server.domain.masterdata.validate import Known, check_across
from tests.server.client import Service, SyncClient

EXPECTED = {"warehouse": 2, "product": 37, "product_price": 5, "customer": 12, "sales_order": 8,
            "sales_order_line": 13, "stock_move": 59, "stock_level": 74}
EXPECTED_MASTER = {"bom_line": 56, "supplier": 4, "price_agreement": 33, "forecast": 7,
                   "purchase_order_line": 3, "production_order": 1}
CODE_RE = re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")
PLANNING_HEADERS = {  # PLANNING.md, column for column
    "warehouses.csv": "code,name",
    "products.csv": "sku,name,uom,kind,lead_time_days,safety_stock,lot_rule,lot_qty,barcode,standard_cost",
    "bom.csv": "parent_sku,component_sku,qty_per,scrap_pct",
    "stock.csv": "sku,warehouse,qty",
    "suppliers.csv": "code,name,capacity_per_week,blocked",
    "price_agreements.csv": "supplier,sku,kind,min_qty,unit_price,valid_from,valid_to,priority,lead_time_days",
    "customers.csv": "code,name,owner,phone,address",
    "sales_orders.csv": "number,customer,sku,qty,due_date,warehouse",
    "forecasts.csv": "sku,warehouse,date,qty",
    "purchase_orders.csv": "number,supplier,sku,qty,due_date,warehouse",
    "production_orders.csv": "number,sku,qty,due_date,warehouse",
}


def _csv(name: str) -> list[dict[str, str]]:
    """The demo file read independently of server.demo, so the tests check it, not echo it."""
    with open(DEMO_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def _counts(db: Database, names: Any = EXPECTED) -> dict[str, int]:
    tables = {**sql_tables, **MASTER_TABLES}
    async with db.read() as conn:
        return {name: int((await conn.execute(select(func.count()).select_from(tables[name]))).scalar_one())
                for name in names}


async def _row(db: Database, table: str, **where: object) -> dict[str, object]:
    """The one row of ``table`` whose columns hold ``where`` (rows are found by natural key: the
    importer gives them UUIDv7 ids)."""
    async with db.read() as conn:
        t = sql_tables[table]
        stmt = select(t).where(*(t.c[k] == v for k, v in where.items()))
        return dict((await conn.execute(stmt)).mappings().one())


class Ids:
    """Natural key -> row id of what the demo stored, to compare pulls with the files."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.warehouse = {r["code"]: r["id"] for r in rows["warehouse"]}
        self.product = {r["sku"]: r["id"] for r in rows["product"]}
        self.customer = {r["code"]: r["id"] for r in rows["customer"]}
        self.order = {r["number"]: r["id"] for r in rows["sales_order"]}
        self.line = {(r["order_id"], r["product_id"]): r["id"] for r in rows["sales_order_line"]}
        self.move = {(r["product_id"], r["warehouse_id"]): r["id"] for r in rows["stock_move"]}

    @classmethod
    async def of(cls, db: Database) -> Ids:
        async with db.read() as conn:
            return cls({name: [dict(r) for r in (await conn.execute(select(sql_tables[name]))).mappings()]
                        for name in ("warehouse", "product", "customer", "sales_order", "sales_order_line",
                                     "stock_move")})


# ---- the folder itself ----------------------------------------------------------------------------


def _ean_ok(code: str) -> bool:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(code[:12]))
    return len(code) == 13 and code.isdigit() and (10 - total % 10) % 10 == int(code[12])


def test_the_demo_folder_has_every_planning_file_in_its_exact_format() -> None:
    for name, header in PLANNING_HEADERS.items():
        first = (DEMO_DIR / name).read_text(encoding="utf-8").splitlines()[0]
        assert first == header, name
        assert _csv(name), f"{name} has no rows"


def test_the_demo_company_is_a_plausible_manufacturer() -> None:
    products = {p["sku"]: p for p in _csv("products.csv")}
    kinds = defaultdict(set)
    for p in products.values():
        kinds[p["kind"]].add(p["sku"])
        assert not p["barcode"] or _ean_ok(p["barcode"]), p
    assert 30 <= len(products) <= 40 and len(kinds["subcontract"]) in (1, 2)
    assert len({p["barcode"] for p in products.values() if p["barcode"]}) == \
        sum(1 for p in products.values() if p["barcode"])

    bom = _csv("bom.csv")
    children = defaultdict(list)
    for line in bom:
        children[line["parent_sku"]].append(line["component_sku"])
    levels: dict[str, set[int]] = defaultdict(set)

    def walk(sku: str, level: int) -> None:
        levels[sku].add(level)
        for child in children[sku]:
            walk(child, level + 1)

    tops = [s for s in kinds["make"] if not any(s in c for c in children.values())]
    for top in tops:
        walk(top, 0)
    assert max(max(v) for v in levels.values()) >= 3, "BOMs need at least three levels below the top"
    assert any(len(v) >= 2 for v in levels.values()), "a component should be used at two levels"
    assert any(Decimal(line["scrap_pct"] or 0) > 0 for line in bom)
    assert {p for p in children if products[p]["kind"] == "subcontract"}, "a subcontracted item has a BOM"

    customers = _csv("customers.csv")
    assert {c["owner"] for c in customers} == {"alice", "bob"}
    orders = _csv("sales_orders.csv")
    assert 6 <= len({o["number"] for o in orders}) <= 10
    assert any(sum(o["number"] == n for o in orders) > 1 for n in {o["number"] for o in orders})
    assert all("2026-11" < o["due_date"] < "2027-02" for o in orders)
    assert any(re.search(r"[\u4e00-\u9fff]", c["name"]) for c in customers)
    assert len({p["number"] for p in _csv("purchase_orders.csv")}) == 2
    assert len(_csv("production_orders.csv")) == 1
    assert 3 <= len(_csv("suppliers.csv")) <= 4
    assert {w["code"] for w in _csv("warehouses.csv")} == {"WH1", "WH2"}


def _problems(folder: Path) -> list[str]:
    files, issues = parse_texts(read_folder(folder)[0])
    return [str(i) for i in issues + check_across(files, Known())]


def test_a_broken_demo_file_names_its_file_line_and_column(tmp_path: Path) -> None:
    folder = tmp_path / "company"
    shutil.copytree(DEMO_DIR, folder)
    path = folder / "products.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = lines[4].rsplit(",", 1)[0] + ",12,50\n"  # a decimal comma: one cell too many
    path.write_text("".join(lines), encoding="utf-8")
    assert _problems(folder) == ["products.csv:5:standard_cost: 11 cells, but the header has 10 "
                                 "(quote cells that contain commas)"]

    lines[4] = lines[4].rsplit(",", 2)[0] + ",twelve\n"
    path.write_text("".join(lines), encoding="utf-8")
    assert _problems(folder) == ["products.csv:5:standard_cost: expected a plain decimal number such as 12.50, "
                                 "got 'twelve'"]

    shutil.copy(DEMO_DIR / "products.csv", path)
    (folder / "sales_orders.csv").write_text(
        "number,customer,sku,qty,due_date,warehouse,note\nSO-1,C001,FG-DESK-140,1,2027-01-04,WH1,x\n",
        encoding="utf-8")
    assert [p.split(" (")[0] for p in _problems(folder)] == ["sales_orders.csv:1:note: unknown column"]

    (folder / "sales_orders.csv").write_text(
        "number,customer,sku,qty,due_date,warehouse\nSO-1,C001,NO-SUCH-SKU,1,2027-01-04,WH1\n", encoding="utf-8")
    assert _problems(folder) == ["sales_orders.csv:2:sku: no product 'NO-SUCH-SKU' in products.csv or in the database"]


# ---- loading ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_loading_the_demo_writes_the_company_and_makes_three_devices(service: Service) -> None:
    result = await load_demo(service.db, settings=service.settings, clock=service.clock)
    assert result.imported is not None and not result.already_present
    assert {f.file: f.created for f in result.imported.files} == {
        "warehouses.csv": 2, "products.csv": 37, "bom.csv": 56, "stock.csv": 59, "suppliers.csv": 4,
        "price_agreements.csv": 33, "customers.csv": 12, "sales_orders.csv": 13, "forecasts.csv": 7,
        "purchase_orders.csv": 3, "production_orders.csv": 1}
    assert result.extras == {"product_price": 5, "sales_order_line": 13}
    assert await _counts(service.db) == EXPECTED
    assert await _counts(service.db, EXPECTED_MASTER) == EXPECTED_MASTER
    assert [(d.role, d.user, d.warehouse) for d in result.devices] == [
        ("sales", "alice", None), ("warehouse", "warehouse", "WH1"), ("backoffice", "backoffice", None)]
    assert len({d.enrolment_code for d in result.devices}) == 3

    desk = await _row(service.db, "product", sku="FG-DESK-140")
    assert (desk["barcode"], desk["kind"], desk["lot_rule"], desk["lot_qty"]) == (
        "8719327001011", "make", "lot_for_lot", None)
    assert uuid.UUID(str(desk["id"])).version == 7
    chair = await _row(service.db, "product", sku="FG-CHAIR-ERG")
    assert (chair["lot_rule"], chair["lot_qty"]) == ("min", Decimal(20))
    price = await _row(service.db, "product_price", product_id=desk["id"])
    assert price["unit_price"] == (Decimal(desk["standard_cost"]) * Decimal("1.6")).quantize(Decimal("0.01"))  # type: ignore[arg-type]

    order = await _row(service.db, "sales_order", number="SO-26103")
    customer = await _row(service.db, "customer", code="C007")
    assert (order["status"], order["owner"], str(order["due_date"])) == ("confirmed", "bob", "2027-01-11")
    assert order["customer_id"] == customer["id"]
    cab = await _row(service.db, "product", sku="FG-CAB-3D")
    line = await _row(service.db, "sales_order_line", order_id=order["id"], product_id=cab["id"])
    assert line["qty"] == Decimal(25)
    assert line["unit_price"] == (Decimal(cab["standard_cost"]) * Decimal("1.6")).quantize(Decimal("0.01"))  # type: ignore[arg-type]

    # on hand is the count; available subtracts the open orders of that product and warehouse;
    # make products also say how many their components in that warehouse can build
    for sku, wh, on_hand, available in [("FG-DESK-140", "WH1", 18, 8),      # 18 counted, 10 ordered
                                        ("FG-CHAIR-VIS", "WH2", 24, 0),     # 40 ordered: not below zero
                                        ("SA-CARCASS", "WH1", 0, 0),        # never counted
                                        ("RM-FOAM", "WH1", 85, 85)]:        # bought: nothing to build
        product = await _row(service.db, "product", sku=sku)
        warehouse = await _row(service.db, "warehouse", code=wh)
        level = await _row(service.db, "stock_level", product_id=product["id"], warehouse_id=warehouse["id"])
        assert (level["on_hand"], level["available"]) == (on_hand, available), sku
        assert (level["buildable"] is None) == (product["kind"] == "buy"), sku
    chip = await _row(service.db, "product", sku="RM-CHIP-18")
    wh1 = await _row(service.db, "warehouse", code="WH1")
    move = await _row(service.db, "stock_move", product_id=chip["id"], warehouse_id=wh1["id"])
    assert (move["kind"], move["qty"], move["_site"]) == ("count", Decimal("260.5"), "server")

    console = Console(record=True, width=120)
    print_demo(console, result)
    shown = console.export_text()
    assert set(CODE_RE.findall(shown)) == {d.enrolment_code for d in result.devices}
    assert "37 products" in shown and "12 customers" in shown and "56 BOM lines" in shown


@pytest.mark.anyio
async def test_loading_twice_adds_no_rows_but_makes_fresh_codes(service: Service) -> None:
    first = await load_demo(service.db, settings=service.settings, clock=service.clock)
    second = await load_demo(service.db, settings=service.settings, clock=service.clock)
    assert second.already_present and second.imported is None
    assert await _counts(service.db) == EXPECTED
    assert await _counts(service.db, EXPECTED_MASTER) == EXPECTED_MASTER
    assert not {d.enrolment_code for d in first.devices} & {d.enrolment_code for d in second.devices}
    assert [(d.role, d.warehouse) for d in second.devices] == [(d.role, d.warehouse) for d in first.devices]
    async with service.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(device))).scalar_one() == 6
    console = Console(record=True, width=120)
    print_demo(console, second)
    assert "Demo data already present" in console.export_text()


@pytest.mark.anyio
async def test_a_broken_demo_folder_loads_nothing(service: Service, tmp_path: Path) -> None:
    folder = tmp_path / "company"
    shutil.copytree(DEMO_DIR, folder)
    (folder / "stock.csv").write_text("sku,warehouse,qty\nFG-DESK-140,WH9,3\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match=r"stock\.csv:2:warehouse: no warehouse 'WH9'"):
        await load_demo(service.db, folder, settings=service.settings, clock=service.clock)
    assert set((await _counts(service.db)).values()) == {0}
    assert set((await _counts(service.db, EXPECTED_MASTER)).values()) == {0}


# ---- the codes at work, over HTTP ----------------------------------------------------------------


def _enrol(http: httpx.Client, code: str, user: str, role: str) -> SyncClient:
    r = http.post("/api/v1/devices/enrol", json={"enrolment_code": code})
    assert r.status_code == 200, r.text
    return SyncClient(http, r.json()["device_id"], r.json()["token"], user, role)


def _pks(client: SyncClient, table: str) -> set[str]:
    return {pk for (t, pk) in client.seen if t == table}


@pytest.mark.anyio
async def test_demo_devices_enrol_and_each_pulls_only_its_share(service: Service, http: httpx.Client) -> None:
    result = await load_demo(service.db, settings=service.settings, clock=service.clock)
    by_role = {d.role: d for d in result.devices}
    sales = _enrol(http, by_role["sales"].enrolment_code, "alice", "sales")
    store = _enrol(http, by_role["warehouse"].enrolment_code, "warehouse", "warehouse")
    office = _enrol(http, by_role["backoffice"].enrolment_code, "backoffice", "backoffice")
    again = http.post("/api/v1/devices/enrol", json={"enrolment_code": by_role["sales"].enrolment_code})
    assert again.status_code == 401  # a code works once

    ids = await Ids.of(service.db)
    customers = _csv("customers.csv")
    orders = _csv("sales_orders.csv")
    alices = {c["code"] for c in customers if c["owner"] == "alice"}
    all_products = {ids.product[p["sku"]] for p in _csv("products.csv")}
    wh1 = ids.warehouse["WH1"]

    sales.pull_all(limit=50)
    assert _pks(sales, "customer") == {ids.customer[c] for c in alices}
    assert _pks(sales, "sales_order") == {ids.order[o["number"]] for o in orders if o["customer"] in alices}
    assert _pks(sales, "sales_order_line") == {ids.line[(ids.order[o["number"]], ids.product[o["sku"]])]
                                               for o in orders if o["customer"] in alices}
    assert _pks(sales, "product") == all_products
    assert len(_pks(sales, "product_price")) == EXPECTED["product_price"]
    assert len(_pks(sales, "stock_level")) == EXPECTED["stock_level"]
    assert not _pks(sales, "stock_move")
    assert {cells["owner"] for (t, _), cells in sales.seen.items() if t in ("customer", "sales_order")} == {"alice"}

    store.pull_all(limit=50)
    wh1_stock = [s for s in _csv("stock.csv") if s["warehouse"] == "WH1"]
    assert _pks(store, "stock_move") == {ids.move[(ids.product[s["sku"]], wh1)] for s in wh1_stock}
    assert {cells["warehouse_id"] for (t, _), cells in store.seen.items() if t == "stock_move"} == {wh1}
    assert {cells["kind"] for (t, _), cells in store.seen.items() if t == "stock_move"} == {"count"}
    assert _pks(store, "product") == all_products
    assert {cells["warehouse_id"] for (t, _), cells in store.seen.items() if t == "stock_level"} == {wh1}
    assert not _pks(store, "customer") | _pks(store, "sales_order") | _pks(store, "product_price")

    office.pull_all()
    assert {t: len(_pks(office, t)) for t in EXPECTED} == EXPECTED


# ---- the real command ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_demo_prints_three_codes_that_enrol(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDSYNC_")}
    env["FIELDSYNC_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    log = tmp_path / "serve.log"
    fieldsync = Path(sys.executable).with_name("fieldsync")
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(fieldsync), "serve", "--demo", "--port", str(port), "--log-level", "warning"],
                                env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"fieldsync serve exited with {proc.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no health answer within 60 s:\n{log.read_text()}"
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        printed = log.read_text(encoding="utf-8")
        codes = CODE_RE.findall(printed)
        assert len(set(codes)) == 3, printed
        assert "37 products" in " ".join(printed.split())  # rich wraps at the terminal width
        roles = set()
        with httpx.Client(base_url=url, timeout=10) as http:
            for code in codes:
                r = http.post("/api/v1/devices/enrol", json={"enrolment_code": code})
                assert r.status_code == 200, r.text
                roles.add(r.json()["role"])
                pulled = http.get("/api/v1/sync/pull", params={"limit": 5},
                                  headers={"Authorization": f"Bearer {r.json()['token']}"})
                assert pulled.status_code == 200 and pulled.json()["changes"], pulled.text
        assert roles == {"sales", "warehouse", "backoffice"}
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
