"""The pure checks of the import files (no database): what a planner who exports from a
spreadsheet gets wrong, and what must still be accepted."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from server.domain.masterdata.importer import parse_texts
from server.domain.masterdata.specs import FILE_NAMES, FILES, KINDS
from server.domain.masterdata.validate import Known, check_across, read_records
from server.domain.planning.model import BomLine
from shared.errors import InvalidInput
from tests.masterdata.helpers import appended, demo_files, with_line

PRODUCTS_HEADER = "sku,name,uom,kind,lead_time_days,safety_stock,lot_rule,lot_qty,barcode,standard_cost"


def problems(files: Mapping[str, str | bytes], known: Known | None = None) -> list[str]:
    parsed, issues = parse_texts(files)
    return [str(i) for i in issues + check_across(parsed, known or Known())]


def test_the_demo_company_has_no_problem() -> None:
    assert problems(demo_files()) == []


def test_the_files_are_exactly_the_planning_files_with_their_columns_key_first() -> None:
    assert FILE_NAMES == ("warehouses.csv", "products.csv", "bom.csv", "stock.csv", "suppliers.csv",
                          "price_agreements.csv", "customers.csv", "sales_orders.csv", "forecasts.csv",
                          "purchase_orders.csv", "production_orders.csv")
    for spec in FILES:
        assert demo_files()[spec.name].splitlines()[0] == ",".join(spec.columns)
        assert spec.key[0] == spec.columns[0] and set(spec.key) <= set(spec.columns)
    assert set(KINDS) == {"suppliers", "price-agreements", "bom", "forecasts", "purchase-orders", "production-orders"}


def test_columns_may_come_in_any_order_and_cells_and_headers_are_trimmed() -> None:
    files = {"warehouses.csv": " name , code \n Main , WH1 \n\n\"Depot, north\",WH2\n"}
    parsed, issues = parse_texts(files)
    assert issues == []
    assert [r.values for r in parsed["warehouses.csv"].rows] == [
        {"code": "WH1", "name": "Main"}, {"code": "WH2", "name": "Depot, north"}]


def test_a_byte_order_mark_is_accepted_and_bytes_that_are_not_utf8_are_named() -> None:
    assert problems({"warehouses.csv": "\ufeffcode,name\nWH1,Main\n".encode()}) == []
    excel = "\ufeffcode,name,capacity_per_week,blocked\r\nS1,One,,TRUE\r\nS2,Two,-1,FALSE\r\n".encode()
    assert problems({"suppliers.csv": excel}) == ["suppliers.csv:3:capacity_per_week: must not be negative, got -1"]
    assert problems({"warehouses.csv": b"code,name\nWH1,Main\nWH2,Caf\xe9\n"}) == [
        "warehouses.csv:3:code: not UTF-8 text (invalid continuation byte at byte 26); save the file as CSV UTF-8"]


def test_an_empty_file_and_a_repeated_column_are_named() -> None:
    assert problems({"warehouses.csv": ""}) == ["warehouses.csv:1:code: the file is empty; it needs the header code,name"]
    assert problems({"warehouses.csv": "code,name,code\nWH1,Main,WH1\n"}) == ["warehouses.csv:1:code: column named twice"]


def test_a_row_with_too_many_or_too_few_cells_points_at_where_it_goes_wrong() -> None:
    assert problems({"warehouses.csv": "code,name\nWH1,Main,extra\nWH2\n"}) == [
        "warehouses.csv:2:name: 3 cells, but the header has 2 (quote cells that contain commas)",
        "warehouses.csv:3:name: 1 cells, but the header has 2"]


def test_a_multi_line_cell_keeps_the_line_numbers_of_later_rows() -> None:
    files = {"warehouses.csv": 'code,name\nWH1,"Main\nplant"\nWH2,\n'}
    assert problems(files) == ["warehouses.csv:4:name: a value is required"]


@pytest.mark.parametrize(("cell", "message"), [
    ('"1,5"', "expected a plain decimal number such as 12.50, got '1,5' (use a point as the decimal separator)"),
    ("1e3", "expected a plain decimal number such as 12.50, got '1e3'"),
    ("+4", "expected a plain decimal number such as 12.50, got '+4'"),
    ("1 000", "expected a plain decimal number such as 12.50, got '1 000'"),
    ("NaN", "expected a plain decimal number such as 12.50, got 'NaN'"),
    ("0.0000000001", "expected a plain decimal number such as 12.50, got '0.0000000001'"),
    ("-0.5", "must not be negative, got -0.5"),
])
def test_decimals_are_plain_digits_with_a_point(cell: str, message: str) -> None:
    assert problems(with_line("stock.csv", 2, f"FG-DESK-140,WH1,{cell}")) == [f"stock.csv:2:qty: {message}"]


def test_quantities_that_must_be_above_zero_and_whole_numbers() -> None:
    assert problems(with_line("bom.csv", 2, "FG-DESK-140,SA-TOP-140,0,0")) == [
        "bom.csv:2:qty_per: must be greater than 0, got 0"]
    assert problems(with_line("production_orders.csv", 2, "MO-5001,FG-CHAIR-ERG,-20,2026-12-04,WH1")) == [
        "production_orders.csv:2:qty: must be greater than 0, got -20"]
    assert problems(with_line("price_agreements.csv", 2, "S01,RM-TUBE-60,purchase,1,4.20,2026-01-01,2027-12-31,0,1.5")) == [
        "price_agreements.csv:2:priority: must be at least 1, got 0",
        "price_agreements.csv:2:lead_time_days: expected a whole number, got '1.5'"]


def test_dates_booleans_and_choices() -> None:
    assert problems(with_line("forecasts.csv", 2, "FG-CHAIR-ERG,WH1,04/01/2027,30")) == [
        "forecasts.csv:2:date: expected an ISO date YYYY-MM-DD, got '04/01/2027'"]
    assert problems(with_line("forecasts.csv", 2, "FG-CHAIR-ERG,WH1,2027-02-30,30")) == [
        "forecasts.csv:2:date: '2027-02-30' is not a date: day is out of range for month"]
    assert problems(with_line("suppliers.csv", 2, "S01,Staalhandel Brabant BV,,TRUE")) == []  # Excel writes TRUE
    assert problems(with_line("suppliers.csv", 2, "S01,Staalhandel Brabant BV,,1")) == [
        "suppliers.csv:2:blocked: expected true or false, got '1'"]
    assert problems(with_line("price_agreements.csv", 2, "S01,RM-TUBE-60,buy,1,4.20,2026-01-01,2027-12-31,1,14")) == [
        "price_agreements.csv:2:kind: expected one of purchase, subcontract, got 'buy'"]


def test_optional_cells_may_be_empty_and_take_their_defaults() -> None:
    parsed, issues = parse_texts({"products.csv": PRODUCTS_HEADER + "\nX-1,Thing,pcs,buy,,,,,,\n"})
    assert issues == []
    assert parsed["products.csv"].rows[0].values == {
        "sku": "X-1", "name": "Thing", "uom": "pcs", "kind": "buy", "lead_time_days": 0, "safety_stock": 0,
        "lot_rule": "lot_for_lot", "lot_qty": None, "barcode": None, "standard_cost": None}


def test_rules_within_a_row_or_a_file() -> None:
    assert problems(with_line("products.csv", 4, "FG-CHAIR-ERG,Chair,pcs,make,3,15,min,,8719327002018,100.61")) == [
        "products.csv:4:lot_qty: lot_rule min needs a lot_qty above 0"]
    assert problems(with_line("price_agreements.csv", 2, "S01,RM-TUBE-60,purchase,1,4.20,2026-01-01,2025-12-31,1,14")) == [
        "price_agreements.csv:2:valid_to: 2025-12-31 is before valid_from 2026-01-01"]
    assert problems(with_line("sales_orders.csv", 3, "SO-26101,C002,FG-CHAIR-ERG,10,2026-12-08,WH1")) == [
        "sales_orders.csv:3:customer: order SO-26101 has customer C001 on line 2, but C002 here",
        "sales_orders.csv:3:due_date: order SO-26101 has due_date 2026-12-07 on line 2, but 2026-12-08 here"]
    assert problems(with_line("purchase_orders.csv", 3, "PO-7001,S01,PT-CTRL,60,2026-12-15,WH1")) == [
        "purchase_orders.csv:3:supplier: order PO-7001 has supplier S02 on line 2, but S01 here"]


def test_barcodes_carry_a_right_check_digit_and_belong_to_one_product() -> None:
    line2 = "FG-DESK-140,\"Office desk 140×70, oak décor / black frame\",pcs,make,4,10,lot_for_lot,,{},93.99"
    assert problems(with_line("products.csv", 2, line2.format("8719327001012"))) == [
        "products.csv:2:barcode: barcode 8719327001012 has a wrong check digit"]
    assert problems(with_line("products.csv", 2, line2.format("INT-DESK-0001"))) == []  # an internal label
    assert problems(with_line("products.csv", 2, line2.format("8719327001028"))) == [
        "products.csv:3:barcode: 8719327001028 is already on line 2"]
    stored = Known(keys={"products.csv": frozenset({"OLD-1"})}, barcodes={"8719327001011": "OLD-1"})
    assert problems({"products.csv": demo_files()["products.csv"]}, stored) == [
        "products.csv:2:barcode: 8719327001011 is the barcode of product OLD-1"]


def test_only_made_products_have_a_bom_and_a_product_is_not_its_own_component() -> None:
    assert problems(appended("bom.csv", "RM-FOAM,RM-FABRIC,1,0")) == [
        "bom.csv:58:parent_sku: RM-FOAM is a buy product; only make and subcontract products have a BOM"]
    assert problems(appended("bom.csv", "SA-SEAT,SA-SEAT,1,0")) == ["bom.csv:58:component_sku: BOM cycle: SA-SEAT -> SA-SEAT"]


def test_a_cycle_through_stored_bom_lines_is_found_and_every_cycle_is_named() -> None:
    stored = Known(keys={"products.csv": frozenset({"A", "B", "C", "D"})}, kinds=dict.fromkeys("ABCD", "make"),
                   bom={"A": (BomLine("A", "B", qty_per=1),), "B": (BomLine("B", "C", qty_per=1),)})
    files = {"bom.csv": "parent_sku,component_sku,qty_per,scrap_pct\nD,A,1,0\nC,A,1,0\nC,D,1,\n"}
    assert problems(files, stored) == ["bom.csv:3:component_sku: BOM cycle: A -> B -> C -> A",
                                       "bom.csv:2:component_sku: BOM cycle: A -> B -> C -> D -> A"]


def test_references_may_name_stored_rows_and_a_broken_file_is_not_echoed() -> None:
    stored = Known(keys={"products.csv": frozenset({"FG-DESK-140"}), "warehouses.csv": frozenset({"WH1"})})
    files = {"forecasts.csv": "sku,warehouse,date,qty\nFG-DESK-140,WH1,2027-01-04,3\nFG-DESK-160E,WH1,2027-01-04,3\n"}
    assert problems(files, stored) == [
        "forecasts.csv:3:sku: no product 'FG-DESK-160E' in products.csv or in the database"]
    broken_products = {**demo_files(), "products.csv": "sku;name\n"}
    assert [p.split(":")[0] for p in problems(broken_products)] == ["products.csv"] * 11
    bad_row = with_line("products.csv", 2, "FG-DESK-140,Desk,pcs,make,4,ten,lot_for_lot,,,93.99")
    assert problems(bad_row) == ["products.csv:2:safety_stock: expected a plain decimal number such as 12.50, "
                                 "got 'ten'"]  # the bad row's sku is still known to bom, stock and orders


def test_unknown_files_and_no_files_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"unknown file 'product\.csv'; the import files are warehouses\.csv"):
        parse_texts({"product.csv": "sku\n"})
    with pytest.raises(InvalidInput, match="no files to import"):
        parse_texts({})


def test_api_rows_are_checked_like_file_lines_with_their_index() -> None:
    parsed, issues = read_records(KINDS["suppliers"], [
        {"code": "S9", "name": "Nine", "capacity_per_week": "-1"},
        {"code": "S9", "name": "Nine again", "blocked": "false"},
        {"code": "S10", "name": "Ten", "colour": "red"},
        {"code": "S11", "name": None, "blocked": None}])
    assert [str(i) for i in issues] == [
        "suppliers.csv:0:capacity_per_week: must not be negative, got -1",
        "suppliers.csv:2:colour: unknown column (the columns are code, name, capacity_per_week, blocked)",
        "suppliers.csv:3:name: a value is required"]
    assert [r.values["code"] for r in parsed.rows] == ["S9"]
