"""The back office's master data over real HTTP: whole imports (POST /api/v1/import), lists and
row upserts per kind (/api/v1/master/{kind}); back office only, one error body, nothing written
when any row is wrong."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import msgspec

from server.domain.masterdata.specs import KINDS
from tests.masterdata.helpers import demo_files
from tests.server.client import SyncClient
from tests.server.conftest import BOOT

CREATED = {"warehouses.csv": 2, "products.csv": 37, "bom.csv": 56, "stock.csv": 59, "suppliers.csv": 4,
           "price_agreements.csv": 33, "customers.csv": 12, "sales_orders.csv": 13, "forecasts.csv": 7,
           "purchase_orders.csv": 3, "production_orders.csv": 1}
READ_ONLY = {"purchase-orders": {"status": "open", "qty_received": "0"}, "production-orders": {"status": "released"}}


def _import(http: httpx.Client, who: SyncClient, files: dict[str, str], dry_run: bool = False) -> httpx.Response:
    return http.post("/api/v1/import", json={"files": files, "dry_run": dry_run}, headers=who.headers)


def _list(http: httpx.Client, who: SyncClient, kind: str, **params: Any) -> list[dict[str, Any]]:
    r = http.get(f"/api/v1/master/{kind}", params=params, headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()["rows"]  # type: ignore[no-any-return]


def _post(http: httpx.Client, who: SyncClient, kind: str, rows: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return http.post(f"/api/v1/master/{kind}", json={"rows": rows, **extra}, headers=who.headers)


def _csv_rows(name: str) -> list[dict[str, str | None]]:
    return [{k: (v or None) for k, v in r.items()} for r in csv.DictReader(io.StringIO(demo_files()[name]))]


def _key(row: dict[str, Any]) -> str:
    return repr(sorted(row.items()))


def test_an_import_over_http_loads_the_files_and_every_kind_lists_its_file(http: httpx.Client,
                                                                             admin: SyncClient) -> None:
    r = _import(http, admin, demo_files())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is False
    assert {f["file"]: (f["rows"], f["created"], f["updated"], f["unchanged"]) for f in body["files"]} == {
        name: (n, n, 0, 0) for name, n in CREATED.items()}

    for kind, spec in KINDS.items():
        listed = _list(http, admin, kind)
        extra = READ_ONLY.get(kind, {})
        for row in listed:
            assert {k: row.pop(k) for k in extra} == extra, kind
        # the rows come back in the file's columns and spelling: a listing round-trips to the file
        assert sorted(map(_key, listed)) == sorted(map(_key, _csv_rows(spec.name))), kind

    page = http.get("/api/v1/master/bom", params={"limit": 50, "offset": 40}, headers=admin.headers).json()
    assert (len(page["rows"]), page["offset"], page["more"]) == (16, 40, False)
    assert http.get("/api/v1/master/bom", params={"limit": 50}, headers=admin.headers).json()["more"] is True

    again = _import(http, admin, demo_files()).json()
    assert {f["file"]: f["unchanged"] for f in again["files"]} == CREATED


def test_posted_rows_are_upserted_by_key(http: httpx.Client, admin: SyncClient) -> None:
    assert _import(http, admin, demo_files()).status_code == 200
    rows = [{"code": "S05", "name": "Kunststof Twente BV", "capacity_per_week": 100, "blocked": False},
            {"code": "S01", "name": "Staalhandel Brabant BV", "capacity_per_week": None, "blocked": True}]
    r = _post(http, admin, "suppliers", rows)
    assert r.status_code == 200, r.text
    assert r.json() == {"dry_run": False, "files": [
        {"file": "suppliers.csv", "rows": 2, "created": 1, "updated": 1, "unchanged": 0}]}
    listed = {s["code"]: s for s in _list(http, admin, "suppliers")}
    assert listed["S05"] == {"code": "S05", "name": "Kunststof Twente BV", "capacity_per_week": "100",
                             "blocked": "false"}
    assert listed["S01"]["blocked"] == "true"
    assert _post(http, admin, "suppliers", rows).json()["files"][0]["unchanged"] == 2

    po = {"number": "PO-7010", "supplier": "S05", "sku": "PT-HANDLE", "qty": "300", "due_date": "2027-01-15",
          "warehouse": "WH1"}
    body = msgspec.msgpack.encode({"rows": [po]})
    r = http.post("/api/v1/master/purchase-orders", content=body, headers={
        **admin.headers, "Content-Type": "application/msgpack", "Accept": "application/msgpack"})
    assert r.status_code == 200, r.text
    assert msgspec.msgpack.decode(r.content)["files"][0]["created"] == 1
    assert {**po, "status": "open", "qty_received": "0"} in _list(http, admin, "purchase-orders")


def test_a_bad_row_is_400_naming_its_index_and_column_and_nothing_is_written(http: httpx.Client,
                                                                              admin: SyncClient) -> None:
    assert _import(http, admin, demo_files()).status_code == 200
    rows = [{"sku": "FG-DESK-140", "warehouse": "WH1", "date": "2027-02-01", "qty": "4"},
            {"sku": "FG-DESK-140", "warehouse": "WH1", "date": "2027-02-08", "qty": "-3"},
            {"sku": "NOPE", "warehouse": "WH1", "date": "2027-13-01", "qty": "3"}]
    r = _post(http, admin, "forecasts", rows)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_rows", "detail": "\n".join([
        "3 problems found, nothing was written:",
        "rows[1].qty: must not be negative, got -3",
        "rows[2].date: '2027-13-01' is not a date: month must be in 1..12",
        "rows[2].sku: no product 'NOPE' in products.csv or in the database"])}
    assert len(_list(http, admin, "forecasts")) == 7

    cycle = _post(http, admin, "bom", [{"parent_sku": "SA-TOP-140", "component_sku": "FG-DESK-140", "qty_per": "1"}])
    assert cycle.status_code == 400
    assert cycle.json()["detail"].endswith("rows[0].component_sku: BOM cycle: FG-DESK-140 -> SA-TOP-140 -> FG-DESK-140")
    extra = _post(http, admin, "suppliers", [{"code": "S9", "name": "Nine", "rating": "A"}])
    assert extra.status_code == 400 and "rows[0].rating: unknown column" in extra.json()["detail"]
    floats = _post(http, admin, "forecasts", [{**rows[0], "qty": 4.5}])
    assert floats.status_code == 400 and floats.json()["error"] == "malformed"
    assert len(_list(http, admin, "forecasts")) == 7

    dry = _post(http, admin, "forecasts", rows[:1], dry_run=True)
    assert dry.status_code == 200 and dry.json()["files"][0]["created"] == 1
    assert len(_list(http, admin, "forecasts")) == 7


def test_a_bad_import_over_http_is_400_with_every_problem(http: httpx.Client, admin: SyncClient) -> None:
    files = demo_files()
    files["stock.csv"] = files["stock.csv"].replace("FG-DESK-140,WH1,18", "FG-DESK-140,WH1,eighteen")
    files["suppliers.csv"] = files["suppliers.csv"].replace("blocked", "blocked,note", 1)
    r = _import(http, admin, files)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_import"
    assert r.json()["detail"].splitlines() == [
        "2 problems found, nothing was imported:",
        "stock.csv:2:qty: expected a plain decimal number such as 12.50, got 'eighteen'",
        "suppliers.csv:1:note: unknown column (the columns are code, name, capacity_per_week, blocked)"]
    assert _list(http, admin, "suppliers") == []

    unknown = _import(http, admin, {"product.csv": "sku\n"})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unknown_file")
    dry = _import(http, admin, demo_files(), dry_run=True)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert _list(http, admin, "suppliers") == []


def test_only_the_back_office_may_read_or_change_master_data(http: httpx.Client, admin: SyncClient) -> None:
    assert _import(http, admin, demo_files()).status_code == 200
    sales = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    for r in (http.get("/api/v1/master/suppliers", headers=sales.headers),
              _post(http, sales, "suppliers", [{"code": "S9", "name": "Nine"}]),
              _import(http, sales, demo_files())):
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden"
    assert "S9" not in {s["code"] for s in _list(http, admin, "suppliers")}
    assert http.get("/api/v1/master/suppliers").status_code == 401
    assert http.post("/api/v1/import", json={"files": {}}).status_code == 401
    boot = http.get("/api/v1/master/suppliers", headers={"Authorization": f"Bearer {BOOT}"})
    assert boot.status_code == 200  # the bootstrap credential is back office

    r = http.get("/api/v1/master/widgets", headers=admin.headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_imported_open_purchase_orders_reach_the_receiving_warehouses_devices(
        http: httpx.Client, admin: SyncClient) -> None:
    assert _import(http, admin, demo_files()).status_code == 200
    admin.pull_all()
    (wh1,) = [pk for (t, pk), v in admin.seen.items() if t == "warehouse" and v["code"] == "WH1"]
    device = SyncClient.enrolled(http, BOOT, user="wanda", role="warehouse", warehouse_id=wh1)
    device.pull_all()
    expected = sorted((v["po_number"], v["qty_expected"], v["status"], v["supplier_name"] is not None)
                      for (t, _), v in device.seen.items() if t == "purchase_receipt")
    assert expected == [("PO-7001", "120", "expected", True), ("PO-7001", "60", "expected", True),
                        ("PO-7002", "600", "expected", True)]
    # a re-import changes nothing, so there is nothing left to refresh
    assert _import(http, admin, demo_files()).status_code == 200
    r = http.post("/api/v1/procurement/expected-receipts/refresh", headers=admin.headers)
    assert r.status_code == 200 and r.json() == {"written": 0}
