"""Bad import files: every kind of fault is named as ``file:line:column: message``, every fault
is listed (not only the first), and a refused import leaves the database exactly as it was."""

from __future__ import annotations

import pytest

from server.domain.masterdata.importer import ImportRejected, run_import
from tests.masterdata.helpers import appended, count, demo_files, snapshot, with_line
from tests.server.client import Service

PRODUCTS_HEADER = "sku,name,uom,kind,lead_time_days,safety_stock,lot_rule,lot_qty,barcode,standard_cost"

CASES = {
    "wrong header": (
        with_line("products.csv", 1, PRODUCTS_HEADER.replace("lead_time_days", "lead_time")),
        ["products.csv:1:lead_time: unknown column; did you mean lead_time_days? (the columns are "
         + PRODUCTS_HEADER.replace(",", ", ") + ")",
         "products.csv:1:lead_time_days: missing column"]),
    "unknown extra column": (
        with_line("suppliers.csv", 1, "code,name,capacity_per_week,blocked,note"),
        ["suppliers.csv:1:note: unknown column (the columns are code, name, capacity_per_week, blocked)"]),
    "missing required cell": (
        with_line("customers.csv", 3, 'C002,Van Dijk Architecten,,+31 76 555 0187,"Ginnekenweg 4, 4818 JA Breda"'),
        ["customers.csv:3:owner: a value is required"]),
    "negative qty": (
        with_line("stock.csv", 2, "FG-DESK-140,WH1,-5"),
        ["stock.csv:2:qty: must not be negative, got -5"]),
    "non-numeric qty": (
        with_line("sales_orders.csv", 2, "SO-26101,C001,FG-DESK-140,ten,2026-12-07,WH1"),
        ["sales_orders.csv:2:qty: expected a plain decimal number such as 12.50, got 'ten'"]),
    "bad date": (
        with_line("forecasts.csv", 2, "FG-CHAIR-ERG,WH1,2026-13-01,30"),
        ["forecasts.csv:2:date: '2026-13-01' is not a date: month must be in 1..12"]),
    "bad boolean": (
        with_line("suppliers.csv", 2, "S01,Staalhandel Brabant BV,,yes"),
        ["suppliers.csv:2:blocked: expected true or false, got 'yes'"]),
    "unknown sku reference": (
        appended("bom.csv", "FG-DESK-140,NO-SUCH-SKU,1,0"),
        ["bom.csv:58:component_sku: no product 'NO-SUCH-SKU' in products.csv or in the database"]),
    "duplicate key": (
        appended("warehouses.csv", "WH1,Another main plant"),
        ["warehouses.csv:4:code: code=WH1 is already on line 2"]),
    "BOM cycle": (
        {**appended("bom.csv", "A,B,1,0", "B,C,2,0", "C,A,1,5"),
         "products.csv": "\n".join([*demo_files()["products.csv"].splitlines(), "A,Part A,pcs,make,,,,,,",
                                    "B,Part B,pcs,make,,,,,,", "C,Part C,pcs,make,,,,,,"]) + "\n"},
        ["bom.csv:58:component_sku: BOM cycle: A -> B -> C -> A"]),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES)
async def test_each_kind_of_bad_input_is_named_and_nothing_is_written(service: Service, case: str) -> None:
    await run_import(service.db, service.clock, demo_files())
    before = await snapshot(service.db)
    files, expected = CASES[case]
    with pytest.raises(ImportRejected) as caught:
        await run_import(service.db, service.clock, files)
    assert [str(i) for i in caught.value.issues] == expected
    for message in expected:
        assert message in caught.value.detail
    assert caught.value.code == "invalid_import"
    assert await snapshot(service.db) == before


@pytest.mark.anyio
async def test_every_problem_of_every_file_is_listed_and_an_empty_database_stays_empty(service: Service) -> None:
    before = await snapshot(service.db)
    files = {**CASES["negative qty"][0], "suppliers.csv": CASES["bad boolean"][0]["suppliers.csv"],
             "forecasts.csv": CASES["bad date"][0]["forecasts.csv"],
             "warehouses.csv": CASES["duplicate key"][0]["warehouses.csv"]}
    with pytest.raises(ImportRejected) as caught:
        await run_import(service.db, service.clock, files)
    assert [str(i) for i in caught.value.issues] == [  # in file load order, then line
        "warehouses.csv:4:code: code=WH1 is already on line 2",
        "stock.csv:2:qty: must not be negative, got -5",
        "suppliers.csv:2:blocked: expected true or false, got 'yes'",
        "forecasts.csv:2:date: '2026-13-01' is not a date: month must be in 1..12"]
    assert caught.value.detail.startswith("4 problems found, nothing was imported:\n")
    assert await snapshot(service.db) == before


@pytest.mark.anyio
async def test_a_long_list_of_problems_is_capped_in_the_message_but_counted(service: Service) -> None:
    bad = "\n".join(["sku,warehouse,date,qty",
                     *(f"FG-DESK-140,WH1,2027-01-{d:02d},-1" for d in range(1, 32)),  # 31 negative
                     *(f"FG-DESK-140,WH1,2027-{m:02d}-01,x" for m in range(2, 13)),  # 11 not numbers
                     *(f"FG-DESK-140,WH{n},2027-03-01,1" for n in range(3, 300))])  # 297 unknown warehouses
    with pytest.raises(ImportRejected) as caught:
        await run_import(service.db, service.clock, {**demo_files(), "forecasts.csv": bad})
    n = len(caught.value.issues)
    assert n == 31 + 11 + 297
    assert caught.value.detail.startswith(f"{n} problems found")
    assert caught.value.detail.endswith(f"... and {n - 200} more")
    assert await count(service.db, "product") == 0
