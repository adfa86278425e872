"""Importing a company: the demo loads cleanly into every table, a re-import is an upsert by key
that writes only what changed (nothing at all for the same files, so devices download nothing
again), and a dry run writes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uuid_utils
from sqlalchemy import select

from server.db.masterdata import (
    bom_line,
    forecast,
    price_agreement,
    production_order,
    purchase_order_line,
    supplier,
)
from server.db.schema import sql_tables
from server.domain.masterdata.importer import run_import
from server.domain.masterdata.plan import IMPORT_REF
from server.domain.sync.server_writes import ServerWrite, write_as_server
from tests.masterdata.helpers import count, demo_files, snapshot, with_line
from tests.server.client import Service, SyncClient
from tests.server.conftest import BOOT

CREATED = {"warehouses.csv": 2, "products.csv": 37, "bom.csv": 56, "stock.csv": 59, "suppliers.csv": 4,
           "price_agreements.csv": 33, "customers.csv": 12, "sales_orders.csv": 13, "forecasts.csv": 7,
           "purchase_orders.csv": 3, "production_orders.csv": 1}
TABLE_ROWS = {"warehouse": 2, "product": 37, "customer": 12, "sales_order": 8, "sales_order_line": 13,
              "stock_move": 59, "stock_level": 74, "bom_line": 56, "supplier": 4, "price_agreement": 33,
              "forecast": 7, "purchase_order_line": 3, "production_order": 1}


async def _one(service: Service, table: Any, **where: Any) -> dict[str, Any]:
    async with service.db.read() as conn:
        stmt = select(table).where(*(table.c[k] == v for k, v in where.items()))
        return dict((await conn.execute(stmt)).mappings().one())


@pytest.mark.anyio
async def test_the_demo_company_imports_cleanly_into_every_table(service: Service) -> None:
    result = await run_import(service.db, service.clock, demo_files())
    assert {f.file: (f.rows, f.created, f.updated, f.unchanged) for f in result.files} == {
        name: (n, n, 0, 0) for name, n in CREATED.items()}
    for table, n in TABLE_ROWS.items():
        assert await count(service.db, table) == n, table

    p = sql_tables
    chair = await _one(service, p["product"], sku="FG-CHAIR-ERG")
    assert uuid.UUID(chair["id"]).version == 7
    assert (chair["kind"], chair["lead_time_days"], chair["safety_stock"], chair["lot_rule"], chair["lot_qty"],
            chair["standard_cost"]) == ("make", 3, Decimal(15), "min", Decimal(20), Decimal("100.61"))
    customer = await _one(service, p["customer"], code="C007")
    assert (customer["owner"], customer["name"]) == ("bob", "上海明达办公用品有限公司")
    order = await _one(service, p["sales_order"], number="SO-26103")
    assert (order["status"], order["owner"], order["customer_id"], order["due_date"]) == (
        "confirmed", "bob", customer["id"], dt.date(2027, 1, 11))
    line = await _one(service, p["sales_order_line"], order_id=order["id"], product_id=chair["id"])
    assert (line["qty"], line["unit_price"]) == (Decimal(25), None)  # no price list yet

    wh1 = await _one(service, p["warehouse"], code="WH1")
    chip = await _one(service, p["product"], sku="RM-CHIP-18")
    move = await _one(service, p["stock_move"], product_id=chip["id"], warehouse_id=wh1["id"])
    assert (move["kind"], move["qty"], move["ref"], move["_site"]) == ("count", Decimal("260.5"), IMPORT_REF, "server")
    level = await _one(service, p["stock_level"], product_id=chip["id"], warehouse_id=wh1["id"])
    assert (level["on_hand"], level["available"]) == (Decimal("260.5"), Decimal("260.5"))

    s02 = await _one(service, supplier, code="S02")
    assert (s02["capacity_per_week"], s02["blocked"]) == (Decimal(2500), False)
    assert (await _one(service, supplier, code="S01"))["capacity_per_week"] is None
    s03 = await _one(service, supplier, code="S03")
    screw = await _one(service, p["product"], sku="RM-SCREW-M6")
    agreement = await _one(service, price_agreement, supplier_id=s03["id"], product_id=screw["id"])
    assert (agreement["kind"], agreement["min_qty"], agreement["unit_price"], agreement["valid_from"],
            agreement["valid_to"], agreement["priority"], agreement["lead_time_days"]) == (
        "purchase", Decimal(1), Decimal("0.041"), dt.date(2026, 1, 1), None, 2, 7)
    tube = await _one(service, p["product"], sku="RM-TUBE-60")
    visitor = await _one(service, p["product"], sku="FG-CHAIR-VIS")
    bom = await _one(service, bom_line, parent_id=visitor["id"], component_id=tube["id"])
    assert (bom["qty_per"], bom["scrap_pct"]) == (Decimal("2.8"), Decimal(4))
    fc = await _one(service, forecast, product_id=visitor["id"])
    assert (fc["date"], fc["qty"], fc["warehouse_id"]) == (dt.date(2027, 1, 18), Decimal(40), wh1["id"])
    po = await _one(service, purchase_order_line, number="PO-7002")
    assert (po["status"], po["qty"], po["qty_received"], po["product_id"]) == ("open", Decimal(600), 0, tube["id"])
    mo = await _one(service, production_order, number="MO-5001")
    assert (mo["status"], mo["qty"], mo["product_id"], mo["due_date"]) == (
        "released", Decimal(20), chair["id"], dt.date(2026, 12, 4))


@pytest.mark.anyio
async def test_importing_the_same_files_again_changes_nothing_at_all(service: Service) -> None:
    await run_import(service.db, service.clock, demo_files())
    before = await snapshot(service.db)  # every row, cell versions and _rev included
    again = await run_import(service.db, service.clock, demo_files())
    assert {f.file: (f.created, f.updated, f.unchanged) for f in again.files} == {
        name: (0, 0, n) for name, n in CREATED.items()}
    assert not again.changed
    assert await snapshot(service.db) == before


@pytest.mark.anyio
async def test_a_device_pulls_nothing_after_a_re_import(service: Service, http: httpx.Client) -> None:
    await run_import(service.db, service.clock, demo_files())
    office = SyncClient.enrolled(http, BOOT, user="anna", role="backoffice")
    first = office.pull_all()
    assert {c["table"] for c in first} >= {"warehouse", "product", "customer", "sales_order", "stock_move"}
    await run_import(service.db, service.clock, demo_files())
    assert office.pull_all() == []


@pytest.mark.anyio
async def test_a_re_import_writes_only_the_cells_that_changed(service: Service, http: httpx.Client) -> None:
    await run_import(service.db, service.clock, demo_files())
    office = SyncClient.enrolled(http, BOOT, user="anna", role="backoffice")
    office.pull_all()
    files = demo_files()
    files.update(with_line("products.csv", 2, "FG-DESK-140,Office desk 140,pcs,make,4,10,lot_for_lot,,"
                                              "8719327001011,93.99"))
    files["stock.csv"] = with_line("stock.csv", 3, "FG-DESK-160E,WH1,7")["stock.csv"]
    files["suppliers.csv"] = with_line("suppliers.csv", 2, "S01,Staalhandel Brabant BV,400,false")["suppliers.csv"]
    files["forecasts.csv"] += "FG-CAB-3D,WH1,2027-02-01,5\n"
    result = await run_import(service.db, service.clock, files)
    changed = {f.file: (f.created, f.updated) for f in result.files if f.created or f.updated}
    assert changed == {"products.csv": (0, 1), "stock.csv": (0, 1), "suppliers.csv": (0, 1),
                       "forecasts.csv": (1, 0)}

    desk = await _one(service, sql_tables["product"], sku="FG-DESK-140")
    pulled = office.pull_all()
    by_table: dict[str, list[dict[str, Any]]] = {}
    for c in pulled:
        by_table.setdefault(c["table"], []).append(c)
    assert {c["pk"] for c in by_table["product"]} == {desk["id"]}  # the one changed product...
    newest = max(by_table["product"], key=lambda c: c["ts"])
    assert newest["vals"] == {"name": "Office desk 140"}  # ...of which only the name was written again
    [count_move] = by_table["stock_move"]
    assert (count_move["vals"]["kind"], count_move["vals"]["qty"]) == ("count", "7")
    assert set(by_table) <= {"product", "stock_move", "stock_level"}
    assert (await _one(service, supplier, code="S01"))["capacity_per_week"] == Decimal(400)
    assert await count(service.db, "forecast") == 8


@pytest.mark.anyio
async def test_stock_is_counted_again_only_where_it_differs_from_on_hand(service: Service) -> None:
    await run_import(service.db, service.clock, demo_files())
    desk = await _one(service, sql_tables["product"], sku="FG-DESK-140")
    wh1 = await _one(service, sql_tables["warehouse"], code="WH1")
    async with service.db.write() as conn:  # a receipt scanned after the count: on hand 18 + 5
        await conn.run_sync(write_as_server, service.clock, [ServerWrite("stock_move", str(uuid_utils.uuid7()), {
            "product_id": desk["id"], "warehouse_id": wh1["id"], "qty": "5", "kind": "receipt"})])
    result = await run_import(service.db, service.clock, {"stock.csv": demo_files()["stock.csv"]})
    [stock] = result.files
    assert (stock.created, stock.updated, stock.unchanged) == (0, 1, 58)
    async with service.db.read() as conn:
        sm = sql_tables["stock_move"]
        moves = (await conn.execute(select(sm.c.kind, sm.c.qty).where(sm.c.product_id == desk["id"],
                                                                      sm.c.warehouse_id == wh1["id"])
                                    .order_by(sm.c._ts))).all()
    assert [(m.kind, m.qty) for m in moves] == [("count", 18), ("receipt", 5), ("count", 18)]


@pytest.mark.anyio
async def test_files_may_name_rows_stored_by_an_earlier_import(service: Service) -> None:
    await run_import(service.db, service.clock, demo_files())
    result = await run_import(service.db, service.clock, {
        "forecasts.csv": "sku,warehouse,date,qty\nFG-DESK-160E,WH2,2027-03-01,6\n",
        "purchase_orders.csv": "number,supplier,sku,qty,due_date,warehouse\nPO-7003,S03,RM-CHIP-18,500,2027-01-20,WH1\n"})
    assert [(f.file, f.created) for f in result.files] == [("forecasts.csv", 1), ("purchase_orders.csv", 1)]
    assert await count(service.db, "purchase_order_line") == 4


@pytest.mark.anyio
async def test_a_re_import_keeps_the_status_devices_moved_forward(service: Service) -> None:
    await run_import(service.db, service.clock, demo_files())
    order = await _one(service, sql_tables["sales_order"], number="SO-26101")
    async with service.db.write() as conn:
        await conn.run_sync(write_as_server, service.clock, [ServerWrite("sales_order", order["id"], {"status": "shipped"})])
    files = demo_files()
    files["sales_orders.csv"] = files["sales_orders.csv"].replace("SO-26101,C001,FG-DESK-140,10,2026-12-07",
                                                                  "SO-26101,C001,FG-DESK-140,12,2026-12-07")
    result = await run_import(service.db, service.clock, files)
    assert {f.file: f.updated for f in result.files}["sales_orders.csv"] == 1
    assert (await _one(service, sql_tables["sales_order"], number="SO-26101"))["status"] == "shipped"


@pytest.mark.anyio
async def test_a_dry_run_counts_what_would_change_and_writes_nothing(service: Service) -> None:
    before = await snapshot(service.db)
    result = await run_import(service.db, service.clock, demo_files(), dry_run=True)
    assert result.dry_run and {f.file: f.created for f in result.files} == CREATED
    assert await snapshot(service.db) == before


@pytest.mark.anyio
async def test_a_new_order_line_takes_the_price_valid_on_its_due_date(service: Service) -> None:
    await run_import(service.db, service.clock, demo_files())
    desk = await _one(service, sql_tables["product"], sku="FG-DESK-140")
    async with service.db.write() as conn:
        await conn.run_sync(write_as_server, service.clock, [
            ServerWrite("product_price", str(uuid_utils.uuid7()), {
                "product_id": desk["id"], "unit_price": "150.00", "currency": "EUR", "valid_from": "2026-01-01"}),
            ServerWrite("product_price", str(uuid_utils.uuid7()), {
                "product_id": desk["id"], "unit_price": "160.00", "currency": "EUR", "valid_from": "2027-06-01"})])
    header = "number,customer,sku,qty,due_date,warehouse\n"
    await run_import(service.db, service.clock, {"sales_orders.csv": header + "SO-9,C001,FG-DESK-140,2,2027-01-10,WH1\n"
                                                                             "SO-10,C001,FG-DESK-140,1,2027-07-01,WH1\n"})
    prices = {}
    for number in ("SO-9", "SO-10"):
        order = await _one(service, sql_tables["sales_order"], number=number)
        prices[number] = (await _one(service, sql_tables["sales_order_line"], order_id=order["id"]))["unit_price"]
    assert prices == {"SO-9": Decimal("150.00"), "SO-10": Decimal("160.00")}
    # a later import of the order changes its quantity, never the price it was taken at
    await run_import(service.db, service.clock, {"sales_orders.csv": header + "SO-9,C001,FG-DESK-140,3,2027-01-10,WH1\n"})
    order = await _one(service, sql_tables["sales_order"], number="SO-9")
    line = await _one(service, sql_tables["sales_order_line"], order_id=order["id"])
    assert (line["qty"], line["unit_price"]) == (Decimal(3), Decimal("150.00"))
